"""The MQTT price topic (see docs/prices.md): market data pushed by a vendor bridge.

    pw-market/v1/price/<commodity>   {"price": "3200.5", "currency": "CNY", "per": "t", "at_s": 1767000000.0}
    pw-market/v1/fx/<BASE>/<QUOTE>   {"rate": "7.1", "at_s": 1767000000.0}

Separate from the gateways' `pw/v1/...` tree (edge/protocol/), which carries signed
readings. QoS 1; a message that does not parse is dropped with a log line.
"""
from __future__ import annotations

import json
import logging
import threading
import time

from backend.adapters.mqtt_client import paho_client
from backend.adapters.price_sources import to_decimal
from backend.ports.prices import Emit, FxQuote, PriceQuote, Quote, parse_pair
from edge.protocol.broker import BrokerSettings

log = logging.getLogger("pledgewatch.prices.mqtt")
TOPIC_ROOT = "pw-market/v1"


def price_topic(commodity: str, root: str = TOPIC_ROOT) -> str:
    return f"{root}/price/{commodity}"


def fx_topic(base: str, quote: str, root: str = TOPIC_ROOT) -> str:
    return f"{root}/fx/{base}/{quote}"


def parse_message(topic: str, payload: bytes, received_at_s: float, root: str = TOPIC_ROOT) -> Quote:
    """ValueError when the topic or payload is not a price or FX message."""
    parts = topic[len(root) + 1:].split("/") if topic.startswith(root + "/") else []
    body = json.loads(payload)
    if not isinstance(body, dict):
        raise ValueError("the payload must be a JSON object")
    at_s = float(body.get("at_s", received_at_s))
    if len(parts) == 2 and parts[0] == "price":
        return PriceQuote(parts[1], to_decimal(body.get("price")), str(body.get("currency", "")),
                          str(body.get("per", "t")), at_s)
    if len(parts) == 3 and parts[0] == "fx":
        return FxQuote(*parse_pair(f"{parts[1]}/{parts[2]}"), to_decimal(body.get("rate")), at_s)
    raise ValueError(f"not a market topic: {topic}")


class MqttPriceSource:
    def __init__(self, name: str, broker: BrokerSettings, *, client_id: str = "pw-prices",
                 root: str = TOPIC_ROOT, clock=None) -> None:
        self.name, self.broker, self.root, self.clock = name, broker, root, clock or time.time
        self.client = paho_client(broker, client_id)
        self._emit: Emit | None = None
        self.subscribed = threading.Event()  # set once the broker acknowledged the subscription

    def start(self, emit: Emit) -> None:
        self._emit = emit
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.connect_async(*self.broker.endpoints()[0], self.broker.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            client.subscribe(f"{self.root}/#", qos=1)

    def _on_message(self, client, userdata, message) -> None:
        try:
            quote = parse_message(message.topic, message.payload, self.clock(), self.root)
        except (ValueError, TypeError) as exc:
            log.warning("dropped a market message on %s: %s", message.topic, exc)
            return
        try:
            self._emit(quote, self.name)
        except Exception:  # a guard refusal or a database hiccup must not kill paho's thread
            log.exception("a market quote from %s could not be stored", message.topic)
