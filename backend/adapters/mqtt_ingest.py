"""MQTT side of ingest (paho-mqtt 2.x): persistent MQTT 5 session, manual PUBACK.

One thread does it all, driving paho's network loop itself: it reads what the broker has
sent until the socket runs dry (or a commit's worth has come), hands that micro-batch to
the IngestService (which writes durably), and only then sends the PUBACKs and the
application-level acks. A process killed before that point gets the same messages again
from the broker: the ledger deduplicates them. Why not paho's own network thread: handing
every message across threads cost ~12 % more CPU per message (GIL hand-offs, a wake-up
per PUBACK), and ingest is CPU-bound (docs/storage.md, "Throughput").
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_random_exponential

from backend.adapters.mqtt_client import paho_client
from backend.ports.ingest import InboundMessage, MessageSink
from backend.settings import IngestSettings
from edge import protocol
from edge.protocol.broker import BrokerSettings

log = logging.getLogger("pledgewatch.ingest")

_STORAGE_RETRY_S = (0.5, 1, 2, 5, 10)
_IDLE_WAIT_S = 0.2                   # how long a read waits when nothing is pending
# First and longest pause between connection attempts (jittered, doubling): a broker back
# after a short outage is found within ~1 s, as the gateways find it (docs/edge.md, "Reconnect").
_RECONNECT_DELAY_S = (0.25, 1.0)


class MqttIngest:
    def __init__(self, broker: BrokerSettings, settings: IngestSettings, service: MessageSink,
                 clock: Callable[[], float] = time.time,
                 storage_retry_s: tuple[float, ...] = _STORAGE_RETRY_S) -> None:
        self.broker, self.settings, self.service, self.clock = broker, settings, service, clock
        self.host, self.port = broker.endpoints()[0]  # one broker: a cluster's ingest is JetStreamIngest
        self.storage_retry_s = storage_retry_s
        self._received: list[mqtt.MQTTMessage] = []
        self._stopping = threading.Event()
        self.connected = threading.Event()
        self._client = self._make_client()
        self._session_present = False
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)

    def _make_client(self) -> mqtt.Client:
        client = paho_client(self.broker, self.settings.client_id, manual_ack=True,
                             clean_session=None if self.broker.protocol == 5 else False)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        self._client.connect_async(self.host, self.port, self.broker.keepalive_s,
                                   **self._session())
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():  # a context closed before it started has no thread to wait for
            self._thread.join(timeout=10)

    # -- paho callbacks (called from our own thread, inside client.loop) -------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        share = self.settings.share_group if self.broker.protocol == 5 else None
        client.subscribe([(protocol.subscription("data", share), 1),
                          (protocol.subscription("drops", share), 1),
                          (protocol.subscription("state", share), 1)])
        self._session_present = flags.session_present

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        """Connected means subscribed: from now on the broker keeps what gateways send us."""
        refused = [code for code in reason_codes if code.is_failure]
        if refused:
            log.error("broker refused the ingest subscription: %s", refused)
            return
        self.connected.set()
        log.info("ingest connected to %s:%d (session present: %s)", self.host, self.port,
                 self._session_present)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("ingest lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        message.timestamp = self.clock()  # when it reached us, for the lag and the clock rules
        self._received.append(message)

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                if not self._connect():
                    continue
                self._serve()
            if self._received:
                self._handle(self._take_received())  # stored and acknowledged, not redelivered
        finally:
            self._client.disconnect()

    def _connect(self) -> bool:
        """Reconnect, pausing a capped, jittered, growing time between failures; False when
        stopped while the broker was away."""
        try:
            for attempt in Retrying(retry=retry_if_exception_type(OSError), reraise=True,
                                    wait=wait_random_exponential(multiplier=_RECONNECT_DELAY_S[0],
                                                                 max=_RECONNECT_DELAY_S[1]),
                                    stop=lambda state: self._stopping.is_set(), sleep=self._stopping.wait,
                                    before_sleep=self._log_retry):
                with attempt:
                    self._client.reconnect()
        except OSError:
            return False
        return True

    def _log_retry(self, state: RetryCallState) -> None:
        log.warning("cannot reach the broker at %s:%d (%s); retrying in %.1fs", self.host,
                    self.port, state.outcome.exception(), state.next_action.sleep)

    def _session(self) -> dict:
        """Connect options: a session the broker keeps while we are away (MQTT 5)."""
        if self.broker.protocol != 5:
            return {}
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.settings.session_expiry_s
        return {"clean_start": False, "properties": properties}

    def _serve(self) -> None:
        """Read, write, ack, until the connection drops or we are stopped."""
        limit = self.settings.max_messages_per_commit
        while not self._stopping.is_set():
            before = len(self._received)
            rc = self._client.loop(timeout=0 if before else _IDLE_WAIT_S)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                # Their mids belong to the lost connection: the broker sends them again.
                self._received.clear()
                return
            if not self._received:
                self._housekeeping()
            elif len(self._received) == before or len(self._received) >= limit:
                self._handle(self._take_received())  # the socket ran dry, or a commit is full

    def _take_received(self) -> list[mqtt.MQTTMessage]:
        batch, self._received = self._received, []
        return batch

    def _housekeeping(self) -> None:
        try:
            self.service.housekeeping(self.clock())
        except Exception:  # retention can wait for the next quiet moment
            log.exception("housekeeping failed")

    def _handle(self, batch: list[mqtt.MQTTMessage]) -> None:
        inbound = [InboundMessage(m.topic, m.payload, m.timestamp) for m in batch]
        data = [m for m in inbound if m.topic.endswith(("/data", "/drops"))]
        acks = self._ingest_with_retries(data)
        if acks is None:
            self._client.disconnect()  # unacknowledged: redelivered once we are back
            return
        for message in inbound:
            if message.topic.endswith("/state"):
                try:
                    self.service.gateway_state(message)
                except Exception:  # birth/death is advisory; data must flow on
                    log.exception("could not record a gateway state message")
        for m in batch:
            self._client.ack(m.mid, m.qos)
        for topic, payload in self.service.ack_messages(acks):
            self._client.publish(topic, payload, qos=1)

    def _ingest_with_retries(self, data: list[InboundMessage]) -> dict | None:
        for attempt, pause_s in enumerate((*self.storage_retry_s, None)):
            try:
                return self.service.ingest(data, self.clock())
            except Exception:  # storage down, or a bug: never PUBACK what was not stored
                if pause_s is None or self._stopping.is_set():
                    log.exception("giving up on %d messages for now", len(data))
                    return None
                log.exception("storing failed (attempt %d); retrying in %ss", attempt + 1, pause_s)
                time.sleep(pause_s)
        return None
