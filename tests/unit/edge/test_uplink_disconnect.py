"""A broker that drops the gateway outside message iteration (a NATS node refusing a
subscription while its JetStream elects a leader, then closing) must give a warning in the
gateway's log, not asyncio's ERROR "Future exception was never retrieved" for aiomqtt's
disconnect future."""
from __future__ import annotations

import asyncio
import gc

import aiomqtt
import paho.mqtt.client as mqtt

from edge.uplink import take_disconnect_error


def dropped_by_the_broker() -> aiomqtt.Client:
    """A connected client whose broker then went away (as aiomqtt's paho callbacks leave it)."""
    client = aiomqtt.Client("127.0.0.1", 1)
    client._connected.set_result(None)
    client._on_disconnect(client._client, None, None, mqtt.MQTT_ERR_CONN_LOST)
    return client


def unretrieved_after(keep: bool) -> list[str]:
    """asyncio's complaints after a dropped client is forgotten, its error taken or not."""
    complaints: list[str] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, context: complaints.append(context["message"]))
        client = dropped_by_the_broker()
        if keep:
            assert isinstance(take_disconnect_error(client), aiomqtt.MqttError)
        del client
        gc.collect()

    asyncio.run(main())
    return complaints


def test_the_drop_reason_is_taken_so_asyncio_has_nothing_to_report():
    assert unretrieved_after(keep=True) == []


def test_untaken_asyncio_reports_it_as_an_error():
    """Why take_disconnect_error exists: should aiomqtt start reading the future itself, this
    fails and the workaround can go."""
    assert unretrieved_after(keep=False) == ["Future exception was never retrieved"]
