"""Publishing one command to a gateway and waiting for its result (paho-mqtt, MQTT 5/3.1.1).

One short-lived connection per command: commands are rare operator actions, and a
connection of its own needs no lifecycle in the backend process.
"""
from __future__ import annotations

import json
import secrets
import threading

import paho.mqtt.client as mqtt

from backend.adapters.mqtt_client import paho_client
from backend.ports.commands import CommandTransportError
from edge import protocol
from edge.protocol.broker import BrokerSettings


class MqttCommands:
    def __init__(self, broker: BrokerSettings, connect_timeout_s: float = 5.0) -> None:
        self.broker, self.connect_timeout_s = broker, connect_timeout_s

    def send(self, gateway: str, command_id: str, wire: bytes, wait_s: float) -> bytes | None:
        """Publish `wire` on the gateway's cmd topic; the raw result payload, or None on timeout."""
        subscribed, answered = threading.Event(), threading.Event()
        answer: list[bytes] = []
        client = self._client()

        def on_connect(client, userdata, flags, reason_code, properties):
            if not reason_code.is_failure:
                client.subscribe(protocol.topic(gateway, "cmd-result"), qos=self.broker.subscribe_qos)

        def on_message(client, userdata, message):
            if _result_id(message.payload) == command_id:
                answer.append(message.payload)
                answered.set()

        client.on_connect = on_connect
        client.on_subscribe = lambda *args: subscribed.set()
        client.on_message = on_message
        host, port = self._connect(client)
        client.loop_start()
        try:
            if not subscribed.wait(self.connect_timeout_s):
                raise CommandTransportError(f"broker {host}:{port} did not accept our subscription")
            client.publish(protocol.topic(gateway, "cmd"), wire, qos=1).wait_for_publish(self.connect_timeout_s)
            answered.wait(wait_s)
        finally:
            client.disconnect()
            client.loop_stop()
        return answer[0] if answer else None

    def _connect(self, client: mqtt.Client) -> tuple[str, int]:
        """Connect to the first broker that answers (`broker.urls`: each node of a cluster)."""
        errors = []
        for host, port in self.broker.endpoints():
            try:
                client.connect(host, port, self.broker.keepalive_s)
                return host, port
            except OSError as exc:
                errors.append(f"broker {host}:{port}: {exc}")
        raise CommandTransportError("; ".join(errors))

    def _client(self) -> mqtt.Client:
        return paho_client(self.broker, f"pw-commands-{secrets.token_hex(4)}")


def _result_id(payload: bytes) -> str | None:
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    return body.get("id") if isinstance(body, dict) else None
