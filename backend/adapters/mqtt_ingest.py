"""MQTT side of ingest (paho-mqtt 2.x): persistent MQTT 5 session, manual PUBACK.

paho's network thread only queues messages. One writer thread takes micro-batches
from the queue, hands them to the IngestService (which writes durably), and only then
sends the PUBACKs and the application-level acks. A process killed before that point
gets the same messages again from the broker: the ledger deduplicates them.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from backend.adapters.mqtt_client import paho_client
from backend.services.ingest import InboundMessage, IngestService
from backend.settings import IngestSettings
from edge import protocol
from edge.config import BrokerSettings

log = logging.getLogger("pledgewatch.ingest")

_STORAGE_RETRY_S = (0.5, 1, 2, 5, 10)


class MqttIngest:
    def __init__(self, broker: BrokerSettings, settings: IngestSettings, service: IngestService,
                 clock: Callable[[], float] = time.time) -> None:
        self.broker, self.settings, self.service, self.clock = broker, settings, service, clock
        self._inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._stopping = threading.Event()
        self.connected = threading.Event()
        self._client = self._make_client()
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)

    def _make_client(self) -> mqtt.Client:
        v5 = self.broker.protocol == 5
        client = paho_client(self.broker, self.settings.client_id, manual_ack=True,
                             clean_session=None if v5 else False)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        properties = None
        kwargs = {}
        if self.broker.protocol == 5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.settings.session_expiry_s
            kwargs = {"clean_start": False, "properties": properties}
        self._writer.start()
        self._client.connect_async(self.broker.host, self.broker.port, self.broker.keepalive_s, **kwargs)
        self._client.loop_start()

    def stop(self) -> None:
        self._stopping.set()
        self._writer.join(timeout=10)
        self._client.disconnect()
        self._client.loop_stop()

    # -- paho callbacks (network thread) ------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        share = self.settings.share_group if self.broker.protocol == 5 else None
        client.subscribe([(protocol.subscription("data", share), 1),
                          (protocol.subscription("state", share), 1)])
        self.connected.set()
        log.info("ingest connected to %s:%d (session present: %s)", self.broker.host,
                 self.broker.port, flags.session_present)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("ingest lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        message.timestamp = self.clock()  # when it reached us, for the lag and the clock rules
        self._inbox.put(message)

    # -- writer thread ---------------------------------------------------------------------

    def _write_loop(self) -> None:
        while not (self._stopping.is_set() and self._inbox.empty()):
            try:
                first = self._inbox.get(timeout=0.2)
            except queue.Empty:
                self._housekeeping()
                continue
            batch = [first]
            while len(batch) < self.settings.max_messages_per_commit:
                try:
                    batch.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            self._handle(batch)

    def _housekeeping(self) -> None:
        try:
            self.service.housekeeping(self.clock())
        except Exception:  # retention can wait for the next quiet moment
            log.exception("housekeeping failed")

    def _handle(self, batch: list[mqtt.MQTTMessage]) -> None:
        inbound = [InboundMessage(m.topic, m.payload, m.timestamp) for m in batch]
        data = [m for m in inbound if m.topic.endswith("/data")]
        acks = self._ingest_with_retries(data)
        if acks is None:
            self._client.reconnect()  # unacknowledged: the broker redelivers them
            return
        for message in inbound:
            if not message.topic.endswith("/data"):
                try:
                    self.service.gateway_state(message)
                except Exception:  # birth/death is advisory; data must flow on
                    log.exception("could not record a gateway state message")
        for m in batch:
            self._client.ack(m.mid, m.qos)
        for (gateway, epoch), acked_seq in acks.items():
            self._client.publish(protocol.topic(gateway, "ack"),
                                 protocol.encode_ack(gateway, epoch, acked_seq), qos=1)

    def _ingest_with_retries(self, data: list[InboundMessage]) -> dict | None:
        for attempt, pause_s in enumerate((*_STORAGE_RETRY_S, None)):
            try:
                return self.service.ingest(data, self.clock())
            except Exception:  # storage down, or a bug: never PUBACK what was not stored
                if pause_s is None or self._stopping.is_set():
                    log.exception("giving up on %d messages for now", len(data))
                    return None
                log.exception("storing failed (attempt %d); retrying in %ss", attempt + 1, pause_s)
                time.sleep(pause_s)
        return None
