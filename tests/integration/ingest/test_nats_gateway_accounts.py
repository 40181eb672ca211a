"""Per-gateway accounts on a real three-node NATS cluster (adapters/nats_auth.py, the block
`pledgewatch cluster` writes): over MQTT, gateway A may publish only under its own topics
and read only its own acks; what it publishes as gateway B never reaches the backend."""
from __future__ import annotations

import asyncio
import threading

import nats
import nats.errors
import paho.mqtt.client as mqtt
import pytest

from backend.adapters.nats_auth import authorization_block
from backend.demo.nats_cluster import NatsCluster, find_nats_server
from edge import protocol
from tests.waiting import wait_for

PASSWORDS = {"gw-a": "pw-a", "gw-b": "pw-b"}


@pytest.fixture
def cluster(tmp_path):
    if find_nats_server() is None:
        pytest.fail("nats-server is not installed: run `make test`, which installs it")
    nodes = NatsCluster(tmp_path / "nats", authorization=authorization_block("pw-backend", "pw-back", PASSWORDS))
    yield nodes.start()
    nodes.stop()


def gateway_client(cluster, user: str, password: str, node: int) -> tuple[mqtt.Client, list]:
    """An MQTT 3.1.1 client on `node`; the list collects (topic, payload) it receives."""
    received: list = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv311)
    client.username_pw_set(user, password)
    client.on_message = lambda _c, _u, message: received.append((message.topic, message.payload))
    connected = threading.Event()
    client.on_connect = lambda _c, _u, _f, reason, _p: reason == 0 and connected.set()
    client.connect("127.0.0.1", cluster.nodes[node].mqtt_port)
    client.loop_start()
    assert connected.wait(10)
    return client, received


def test_a_gateway_publishes_and_reads_only_as_itself_through_the_cluster(cluster):
    async def scenario():
        backend = await nats.connect(f"nats://pw-backend:pw-back@127.0.0.1:{cluster.nodes[0].client_port}")
        seen: list[tuple[str, bytes]] = []

        async def keep(message):
            seen.append((message.subject, message.data))
        await backend.subscribe(protocol.subject_filter("data"), cb=keep)
        await backend.flush()
        gw_a, received = gateway_client(cluster, "gw-a", PASSWORDS["gw-a"], node=1)
        for subscribed in (protocol.topic("gw-a", "ack"), protocol.topic("gw-b", "ack")):
            gw_a.subscribe(subscribed, qos=0)
        for topic, payload in ((protocol.topic("gw-a", "data"), b"own-1"), (protocol.topic("gw-b", "data"), b"forged"),
                               (protocol.topic("gw-a", "data"), b"own-2")):
            gw_a.publish(topic, payload, qos=1).wait_for_publish(10)
        await until(lambda: (protocol.nats_subject(protocol.topic("gw-a", "data")), b"own-2") in seen)
        for gateway in ("gw-b", "gw-a"):  # the backend acks both; gw-a may read only its own
            await backend.publish(protocol.nats_subject(protocol.topic(gateway, "ack")), f"ack-{gateway}".encode())
        await backend.flush()
        await until(lambda: (protocol.topic("gw-a", "ack"), b"ack-gw-a") in received)
        gw_a.loop_stop()
        gw_a.disconnect()
        await backend.close()
        return seen, received

    seen, received = asyncio.run(scenario())
    assert [payload for _, payload in seen] == [b"own-1", b"own-2"]  # the forged batch was dropped
    assert received == [(protocol.topic("gw-a", "ack"), b"ack-gw-a")]


async def until(condition, timeout_s: float = 10) -> None:
    assert await asyncio.to_thread(wait_for, condition, timeout_s)


def test_a_wrong_password_or_a_nats_connection_as_a_gateway_is_refused(cluster):
    refused = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gw-a", protocol=mqtt.MQTTv311)
    refused.username_pw_set("gw-a", "not-its-password")
    outcome = threading.Event()
    reasons: list = []
    refused.on_connect = lambda _c, _u, _f, reason, _p: (reasons.append(reason), outcome.set())
    refused.on_disconnect = lambda *_: outcome.set()
    refused.connect("127.0.0.1", cluster.nodes[0].mqtt_port)
    refused.loop_start()
    outcome.wait(10)
    refused.loop_stop()
    assert not refused.is_connected() and all(reason != 0 for reason in reasons)

    async def over_nats():  # a gateway's account is for MQTT only
        with pytest.raises(nats.errors.Error, match="[Aa]uthoriz"):
            await nats.connect(f"nats://gw-a:{PASSWORDS['gw-a']}@127.0.0.1:{cluster.nodes[0].client_port}",
                               allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=3)
    asyncio.run(over_nats())
