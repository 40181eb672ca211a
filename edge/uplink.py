"""The MQTT session of a gateway (aiomqtt): birth/death, heartbeat, the outbox, acks, commands.

Publishing follows the outbox: everything still unacknowledged is sent in (epoch, seq)
order, at QoS 1, paced by a token bucket (`uplink.max_messages_per_s`, `burst_messages`)
so a backlog after an outage never floods the broker. A batch the backend has not
acknowledged `ack_timeout_s` after it was sent is sent again (the backend deduplicates
by (gateway, epoch, seq)). Sooner, PROMPT_RESEND_S, in two cases that mean the batch was
lost on the way rather than slow: no ack at all yet in this session, or an ack for a batch
sent after it came PROMPT_RESEND_S ago. (After a broker restart, ingest may resubscribe
after our first publishes, which the broker then had nobody to give to.) Reconnects back
off exponentially with jitter, capped at `reconnect_max_s` (1 s by default).

Acks settle batches one by one (docs/protocol.md): stored ones leave the outbox, refused
ones move to its forensics table, and seqs the size cap evicted are announced in a signed
drop notice, again every `ack_timeout_s`, until an ack settles them. A ranged ack must carry
the backend's signature when the gateway knows the backend's key; an older backend's legacy
ack (`acked_seq` only) is honoured until the first ranged ack of the session.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import Any, Callable

import aiomqtt

from edge import protocol
from edge.cancellation import StopRequest
from edge.commands import CommandHandler
from edge.config import EdgeSettings
from edge.health import Watchdog
from edge.metrics import EdgeMetrics
from edge.outbox import Outbox
from edge.protocol.keys import load_public_key
from edge.ratelimit import Backoff, TokenBucket

log = logging.getLogger("pledgewatch.edge.uplink")

Info = Callable[[], dict[str, Any]]
PROMPT_RESEND_S = 2.0


def take_disconnect_error(client: aiomqtt.Client) -> BaseException | None:
    """The broker's reason for dropping `client`, marked as seen. aiomqtt (2.5) keeps it in a
    future that nothing reads when the drop came outside message iteration (during a subscribe
    or at exit), and asyncio then logs "Future exception was never retrieved" as an ERROR."""
    disconnected = getattr(client, "_disconnected", None)
    if isinstance(disconnected, asyncio.Future) and disconnected.done() and not disconnected.cancelled():
        return disconnected.exception()
    return None


class Uplink:
    def __init__(self, settings: EdgeSettings, epoch: int, outbox: Outbox, birth_info: Info,
                 heartbeat_info: Info, commands: CommandHandler | None = None,
                 clock: Callable[[], float] = time.time,
                 signer: Callable[[], protocol.Signer | None] = lambda: None,
                 metrics: EdgeMetrics | None = None, watchdog: Watchdog | None = None,
                 stop: StopRequest | None = None) -> None:
        self.settings, self.epoch, self.outbox = settings, epoch, outbox
        self.stop = stop or StopRequest()
        self.signer, self.metrics, self.watchdog = signer, metrics, watchdog
        # Connected, the send loop wakes at least every PROMPT_RESEND_S / 3; not, each attempt beats.
        self._allowance_s = max(settings.watchdog_s, 2 * settings.uplink.ack_timeout_s,
                                2 * settings.reconnect_max_s + 30)
        backend_pem = settings.commands.backend_public_key_pem
        self._backend_key = load_public_key(backend_pem) if backend_pem else None
        self._ranged_acks = False  # this session has had a ranged ack: legacy ones are ignored
        self._acked = False  # this session has had an ack
        self._sent_at: dict[tuple[int, int], float] = {}  # (epoch, seq) -> last sent (monotonic s)
        self._overtakes: list[tuple[float, float]] = []  # (ack seen at, newest send it covered)
        self.new_drops = asyncio.Event()
        self.birth_info, self.heartbeat_info, self.commands = birth_info, heartbeat_info, commands
        self.clock = clock
        self.new_batch = asyncio.Event()
        self.connected = False
        uplink = settings.uplink
        self._bucket = TokenBucket(uplink.max_messages_per_s, uplink.burst_messages, time.monotonic())
        self._topics = {channel: protocol.topic(settings.gateway_id, channel)
                        for channel in protocol.CHANNELS}

    async def run(self) -> None:
        """Stay connected forever, reconnecting with jittered exponential backoff; with several
        brokers (`broker.urls`), each disconnect moves on to the next one."""
        backoff = Backoff(self.settings.reconnect_min_s, self.settings.reconnect_max_s)
        endpoints = self.settings.broker.endpoints()
        turn = 0
        while True:
            self.stop.check()
            self._beat()
            host, port = endpoints[turn % len(endpoints)]
            client = self._client(host, port)
            try:
                async with client:
                    backoff.reset()
                    await self._session(client, host, port)
            except aiomqtt.MqttError as exc:
                log.warning("broker %s:%d: connection lost or refused: %s", host, port, exc)
            finally:
                self.connected = False
                self._ranged_acks = self._acked = False
                take_disconnect_error(client)
            turn += 1
            await asyncio.sleep(backoff.next_delay_s())

    def _client(self, host: str, port: int) -> aiomqtt.Client:
        broker = self.settings.broker
        death = protocol.encode_state(self.settings.gateway_id, False, self.epoch)
        tls = broker.tls and aiomqtt.TLSParameters(
            ca_certs=str(broker.tls.ca_file), certfile=broker.tls.cert_file and str(broker.tls.cert_file),
            keyfile=broker.tls.key_file and str(broker.tls.key_file))
        return aiomqtt.Client(
            host, port, username=broker.username, password=broker.password,
            tls_params=tls or None, identifier=self.settings.gateway_id, keepalive=broker.keepalive_s,
            protocol=aiomqtt.ProtocolVersion(broker.protocol),
            will=aiomqtt.Will(self._topics["state"], death, qos=1, retain=True))

    async def _session(self, client: aiomqtt.Client, host: str, port: int) -> None:
        for channel in ("ack", "cmd"):
            await self._subscribe(client, self._topics[channel])
        await self._publish_birth(client)
        self.connected = True
        log.info("connected to %s:%d as %s (epoch %d)", host, port, self.settings.gateway_id, self.epoch)
        try:
            self.stop.check()  # connecting, subscribing or the birth may have swallowed a stop
            await self._exchange(client)
        except asyncio.CancelledError:
            await self._say_goodbye(client)
            raise

    async def _subscribe(self, client: aiomqtt.Client, topic: str) -> None:
        """A refused subscription (a NATS node whose JetStream is electing a leader answers
        0x80) would leave us sending without ever hearing an ack: reconnect instead."""
        granted = await client.subscribe(topic, qos=self.settings.broker.subscribe_qos)
        if any(getattr(code, "value", code) >= 0x80 for code in granted):
            raise aiomqtt.MqttError(f"the broker refused our subscription to {topic}")

    async def _publish_birth(self, client: aiomqtt.Client) -> None:
        info = await asyncio.to_thread(self.birth_info)
        birth = protocol.encode_state(self.settings.gateway_id, True, self.epoch, info)
        await client.publish(self._topics["state"], birth, qos=1, retain=True)

    async def _exchange(self, client: aiomqtt.Client) -> None:
        """Send the outbox, heartbeats and command results; take acks and commands."""
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._receive(client), name="uplink-receive")
                tasks.create_task(self._send_outbox(client), name="uplink-send")
                tasks.create_task(self._heartbeat(client), name="uplink-heartbeat")
                tasks.create_task(self._announce_drops(client), name="uplink-drops")
        except* aiomqtt.MqttError as group:
            raise group.exceptions[0] from None

    async def _say_goodbye(self, client: aiomqtt.Client) -> None:
        """On a clean stop the will is not sent: publish the death message ourselves."""
        death = protocol.encode_state(self.settings.gateway_id, False, self.epoch)
        try:
            await asyncio.wait_for(client.publish(self._topics["state"], death, qos=1, retain=True), 2.0)
        except (aiomqtt.MqttError, TimeoutError, asyncio.CancelledError):
            pass

    async def _heartbeat(self, client: aiomqtt.Client) -> None:
        while True:
            await asyncio.sleep(self.settings.uplink.heartbeat_s)
            info = await asyncio.to_thread(self.heartbeat_info)
            beat = protocol.encode_heartbeat(self.settings.gateway_id, self.epoch,
                                             round(self.clock() * 1000), info)
            await client.publish(self._topics["heartbeat"], beat, qos=0)
            self.stop.check()

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if message.topic.matches(self._topics["cmd"]):
                await self._on_command(client, message.payload, str(message.topic))
            else:
                await self._on_ack(message.payload)
            self.stop.check()  # else the next message may be long in coming

    async def _on_ack(self, payload: bytes) -> None:
        try:
            ack = protocol.decode_ack(payload)
            if ack.ranged and self._backend_key is not None:
                protocol.verify_ack(ack, self._backend_key)
        except protocol.DecodeError as exc:
            log.warning("ignoring ack: %s", exc)
            return
        if ack.gateway != self.settings.gateway_id:
            return
        self._acked = True
        if not ack.ranged:
            if not self._ranged_acks:
                await asyncio.to_thread(self.outbox.ack, ack.epoch, ack.acked_seq)
            return
        self._ranged_acks = True
        self._note_overtakes(ack)
        try:
            settled = await asyncio.to_thread(self.outbox.settle, ack.epoch, ack.stored or (),
                                              ack.refused, ack.dropped)
        except sqlite3.Error as exc:  # disk full or read-only: the batches are resent, acked again
            log.debug("could not apply an ack: %s", exc)
            if self.metrics is not None:
                self.metrics.storage_errors.inc()
            return
        for seq, reason in sorted(ack.refused.items()):
            log.warning("the backend refused batch (%d, %d): %s; kept in the outbox's refused table",
                        ack.epoch, seq, reason)
        if self.metrics is not None:
            self.metrics.refused.inc(settled.refused)
            self.metrics.dropped.inc(settled.dropped_readings)

    def _note_overtakes(self, ack: protocol.Ack) -> None:
        """Remember when a batch sent at time t was acknowledged: anything sent before t and
        still unacknowledged PROMPT_RESEND_S later was lost on the way."""
        now = time.monotonic()
        sent = [self._sent_at.get((ack.epoch, seq)) for seq in (*(ack.stored or ()), *ack.refused)]
        newest = max(filter(None, sent), default=None)
        if newest is not None:
            keep_s = self.settings.uplink.ack_timeout_s
            self._overtakes = [(at, t) for at, t in self._overtakes if now - at < keep_s] + [(now, newest)]

    async def _announce_drops(self, client: aiomqtt.Client) -> None:
        """Tell the backend which seqs the size cap evicted, until it has settled them all."""
        while True:
            self.stop.check()
            self.new_drops.clear()
            for epoch, seqs in (await asyncio.to_thread(self.outbox.evicted)).items():
                for start in range(0, len(seqs), protocol.MAX_SEQS_PER_NOTICE):
                    notice = protocol.DropNotice(self.settings.gateway_id, epoch,
                                                 tuple(seqs[start:start + protocol.MAX_SEQS_PER_NOTICE]),
                                                 round(self.clock() * 1000))
                    await client.publish(self._topics["drops"],
                                         protocol.encode_drops(notice, self.signer()), qos=1)
            try:
                async with asyncio.timeout(self.settings.uplink.ack_timeout_s):
                    await self.new_drops.wait()
            except TimeoutError:
                pass

    async def _on_command(self, client: aiomqtt.Client, payload: bytes, topic: str) -> None:
        if self.commands is None:
            return
        handled = await self.commands.handle(payload, topic)
        if handled is None:
            return
        result, wire = handled
        await client.publish(self._topics["cmd-result"], wire, qos=1)
        if result.command == "rebirth" and result.status == "ok":
            await self._publish_birth(client)

    async def _send_outbox(self, client: aiomqtt.Client) -> None:
        cursor = (0, 0)  # last (epoch, seq) published in this session
        self._sent_at, self._overtakes = {}, []
        while True:
            self._beat()
            self.new_batch.clear()
            batches = await asyncio.to_thread(self.outbox.pending, cursor, 100)
            for batch in batches:
                await asyncio.sleep(self._bucket.take(time.monotonic()))
                await client.publish(self._topics["data"], batch.payload, qos=1)
                self.stop.check()
                cursor = (batch.epoch, batch.seq)
                self._sent_at[cursor] = time.monotonic()
            if batches:
                continue
            if await self._oldest_ack_overdue():
                cursor, self._sent_at = (0, 0), {}
                continue
            try:
                async with asyncio.timeout(min(self._ack_timeout_s() / 3, PROMPT_RESEND_S / 3)):
                    await self.new_batch.wait()
            except TimeoutError:
                pass

    def _beat(self) -> None:
        if self.watchdog is not None:
            self.watchdog.beat("uplink", self._allowance_s)

    async def _oldest_ack_overdue(self) -> bool:
        oldest = await asyncio.to_thread(self.outbox.pending, (0, 0), 1)
        if not oldest:
            self._sent_at.clear()
            return False
        key = (oldest[0].epoch, oldest[0].seq)
        for acked in [k for k in self._sent_at if k < key]:
            del self._sent_at[acked]
        sent_s, now = self._sent_at.get(key), time.monotonic()
        if sent_s is None or now - sent_s > self._ack_timeout_s():
            return True  # sent in an earlier session, or long ago without an ack
        return any(newest > sent_s and now - at > PROMPT_RESEND_S for at, newest in self._overtakes)

    def _ack_timeout_s(self) -> float:
        timeout_s = self.settings.uplink.ack_timeout_s
        return timeout_s if self._acked else min(timeout_s, PROMPT_RESEND_S)
