"""JetStream side of ingest (nats-py): a durable pull consumer shared by every ingest process.

Gateways speak MQTT 3.1.1 to any node of a NATS cluster; the server turns `pw/v1/<gw>/data`
into the subject `pw.v1.<gw>.data`, which the stream (R3, work-queue retention) captures
with `.drops` and `.state`. Each process fetches up to a commit's worth from the one durable
consumer, hands it to the IngestService (which writes durably), and only then acknowledges
each message to JetStream and publishes the application-level acks on `pw.v1.<gw>.ack`,
which the MQTT listener hands to the gateway on `pw/v1/<gw>/ack` whichever node it is on
(at QoS 0: a NATS publish carries no QoS; a lost ack makes the gateway resend, and the
ledger deduplicates). A process killed before its acks leaves the messages unacknowledged:
JetStream delivers them again after `ack_wait_s`, to whichever process fetches next.

The event loop runs in a thread of its own; the service runs in one writer thread, so the
stores see one writer of ours and the connection keeps being served during a commit.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable
from urllib.parse import urlsplit

import nats
from nats.errors import Error as NatsClientError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from backend.ports.ingest import InboundMessage, MessageSink
from backend.settings import IngestSettings, JetStreamSettings
from edge import protocol

log = logging.getLogger("pledgewatch.ingest")

CHANNELS = ("data", "drops", "state")  # what the stream captures
_STORAGE_RETRY_S = (0.5, 1, 2, 5, 10)
_FETCH_WAIT_S = 0.5  # how long a fetch waits when nothing is pending (also how soon stop() is seen)
_RETRY_S = 0.25  # pause after a failed request while the cluster elects a leader or we reconnect
_NAK_DELAY_S = 5.0  # storage gave up: JetStream offers the batch again this much later
_MAX_AGE_S = 7 * 86400  # unconsumed messages older than this are dropped (gateways still hold them)


def stream_config(settings: JetStreamSettings) -> StreamConfig:
    """The stream we make when it is missing: our channels of every gateway, kept on disk and
    replicated until a consumer acknowledges them (work queue), a week at most."""
    return StreamConfig(
        name=settings.stream, subjects=[protocol.subject_filter(channel) for channel in CHANNELS],
        retention=RetentionPolicy.WORK_QUEUE, storage=StorageType.FILE, num_replicas=settings.replicas,
        max_age=_MAX_AGE_S)


class JetStreamIngest:
    def __init__(self, settings: IngestSettings, service: MessageSink, *,
                 clock: Callable[[], float] = time.time,
                 storage_retry_s: tuple[float, ...] = _STORAGE_RETRY_S) -> None:
        self.settings, self.jetstream, self.service, self.clock = settings, settings.jetstream, service, clock
        self.storage_retry_s = storage_retry_s
        self.connected = threading.Event()
        self._stopping = threading.Event()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer")
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="ingest", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():  # a context closed before it started has no thread to wait for
            self._thread.join(timeout=10)
        self._writer.shutdown(wait=True)

    async def _main(self) -> None:
        connection = await self._connect()
        if connection is None:
            return
        try:
            subscription = await self._bind(connection)
            if subscription is not None:
                await self._serve(connection, subscription)
        finally:
            await self._close(connection)

    @staticmethod
    async def _close(connection) -> None:
        """Send what is buffered (acks), then hang up; a cluster that is gone cannot stop us."""
        try:
            await connection.flush(timeout=2)
        except (NatsClientError, asyncio.TimeoutError):
            pass
        await connection.close()

    async def _connect(self):
        """Connect to any of the servers, retrying until one answers or we are stopped."""
        while not self._stopping.is_set():
            try:
                return await nats.connect(
                    self.jetstream.servers, name=self.settings.client_id, connect_timeout=2,
                    allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=_RETRY_S,
                    error_cb=self._on_error, disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected)
            except (NatsClientError, OSError) as exc:
                log.warning("cannot reach NATS at %s (%s); retrying",
                            ", ".join(_where(urlsplit(server)) for server in self.jetstream.servers), exc)
                await asyncio.sleep(_RETRY_S)
        return None

    async def _bind(self, connection):
        """Make the stream (when missing) and the shared durable consumer; bind to it."""
        js = connection.jetstream(timeout=5)
        while not self._stopping.is_set():
            try:
                await self._ensure_stream(js)
                await js.add_consumer(self.jetstream.stream, ConsumerConfig(
                    durable_name=self.jetstream.durable, ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL, ack_wait=self.jetstream.ack_wait_s, max_deliver=-1,
                    max_ack_pending=self.jetstream.max_ack_pending,
                    max_waiting=512))  # outstanding fetches: a few per process
                subscription = await js.pull_subscribe_bind(self.jetstream.durable, self.jetstream.stream)
            except (NatsClientError, asyncio.TimeoutError) as exc:
                log.warning("JetStream not ready (%s: %s); retrying", type(exc).__name__, exc)
                await asyncio.sleep(_RETRY_S)
                continue
            self.connected.set()
            log.info("ingest connected to JetStream stream %s, consumer %s, via %s", self.jetstream.stream,
                     self.jetstream.durable, _where(connection.connected_url))
            return subscription
        return None

    async def _ensure_stream(self, js) -> None:
        try:
            await js.stream_info(self.jetstream.stream)
            return  # operators may have tuned it: leave it as it is
        except NotFoundError:
            pass
        await js.add_stream(stream_config(self.jetstream))
        log.info("made JetStream stream %s (R%d)", self.jetstream.stream, self.jetstream.replicas)

    async def _serve(self, connection, subscription) -> None:
        """Fetch, write, ack, until stopped; requests that fail (a node down, a leader being
        elected, a reconnect) are retried."""
        batch = self.settings.max_messages_per_commit
        while not self._stopping.is_set():
            try:
                messages = await subscription.fetch(batch, timeout=_FETCH_WAIT_S)
            except (asyncio.TimeoutError, nats.errors.TimeoutError):
                await self._in_writer(self._housekeeping)
                continue
            except NatsClientError as exc:
                log.debug("fetch failed (%s: %s); retrying", type(exc).__name__, exc)
                await asyncio.sleep(_RETRY_S)
                continue
            await self._handle(connection, messages)

    async def _handle(self, connection, messages) -> None:
        now = self.clock()
        inbound = [InboundMessage(protocol.mqtt_topic(m.subject), m.data, now) for m in messages]
        data = [m for m in inbound if m.topic.endswith(("/data", "/drops"))]
        acks = await self._in_writer(self._ingest_with_retries, data)
        if acks is None:
            for message in messages:  # not stored: offered again later, to any process
                await message.nak(delay=_NAK_DELAY_S)
            return
        states = [m for m in inbound if m.topic.endswith("/state")]
        if states:
            await self._in_writer(self._record_states, states)
        for message in messages:
            await message.ack()
        for topic, payload in self.service.ack_messages(acks):
            await connection.publish(protocol.nats_subject(topic), payload)

    async def _in_writer(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._writer, function, *args)

    def _ingest_with_retries(self, data: list[InboundMessage]) -> dict | None:
        for attempt, pause_s in enumerate((*self.storage_retry_s, None)):
            try:
                return self.service.ingest(data, self.clock())
            except Exception:  # storage down, or a bug: never acknowledge what was not stored
                if pause_s is None or self._stopping.is_set():
                    log.exception("giving up on %d messages for now", len(data))
                    return None
                log.exception("storing failed (attempt %d); retrying in %ss", attempt + 1, pause_s)
                time.sleep(pause_s)
        return None

    def _record_states(self, states: list[InboundMessage]) -> None:
        for message in states:
            try:
                self.service.gateway_state(message)
            except Exception:  # birth/death is advisory; data must flow on
                log.exception("could not record a gateway state message")

    def _housekeeping(self) -> None:
        try:
            self.service.housekeeping(self.clock())
        except Exception:  # retention can wait for the next quiet moment
            log.exception("housekeeping failed")

    async def _on_error(self, exc: Exception) -> None:
        log.debug("NATS: %s", exc)

    async def _on_disconnected(self) -> None:
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("ingest lost its NATS server; reconnecting to another")

    async def _on_reconnected(self) -> None:
        self.connected.set()
        log.info("ingest reconnected to NATS")


def _where(url) -> str:
    """host:port of a server URL, without the credentials it may carry."""
    return f"{url.hostname}:{url.port}" if url else "?"
