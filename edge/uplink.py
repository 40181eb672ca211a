"""The MQTT session of a gateway (aiomqtt): birth/death, publishing the outbox, acks.

Publishing follows the outbox: everything still unacknowledged is sent in (epoch, seq)
order, at QoS 1. A batch the backend has not acknowledged `ack_timeout_s` after it was
sent is sent again (the backend deduplicates by (gateway, epoch, seq)).
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, Callable

import aiomqtt

from edge import protocol
from edge.config import EdgeSettings
from edge.outbox import Outbox

log = logging.getLogger("pledgewatch.edge.uplink")


class Uplink:
    def __init__(self, settings: EdgeSettings, epoch: int, outbox: Outbox,
                 birth_info: Callable[[], dict[str, Any]], ack_timeout_s: float = 15.0) -> None:
        self.settings, self.epoch, self.outbox = settings, epoch, outbox
        self.birth_info = birth_info
        self.ack_timeout_s = ack_timeout_s
        self.new_batch = asyncio.Event()
        self.connected = False
        gateway = settings.gateway_id
        self._data_topic = protocol.topic(gateway, "data")
        self._state_topic = protocol.topic(gateway, "state")
        self._ack_topic = protocol.topic(gateway, "ack")

    async def run(self) -> None:
        """Stay connected forever, reconnecting with jittered exponential backoff."""
        delay_s = self.settings.reconnect_min_s
        while True:
            try:
                async with self._client() as client:
                    delay_s = self.settings.reconnect_min_s
                    await self._session(client)
            except aiomqtt.MqttError as exc:
                log.warning("broker connection lost or refused: %s; retrying in %.1fs", exc, delay_s)
            finally:
                self.connected = False
            await asyncio.sleep(delay_s * random.uniform(0.5, 1.0))
            delay_s = min(delay_s * 2, self.settings.reconnect_max_s)

    def _client(self) -> aiomqtt.Client:
        broker = self.settings.broker
        death = protocol.encode_state(self.settings.gateway_id, False, self.epoch)
        return aiomqtt.Client(
            broker.host, broker.port, username=broker.username, password=broker.password,
            identifier=self.settings.gateway_id, keepalive=broker.keepalive_s,
            protocol=aiomqtt.ProtocolVersion(broker.protocol),
            will=aiomqtt.Will(self._state_topic, death, qos=1, retain=True))

    async def _session(self, client: aiomqtt.Client) -> None:
        await client.subscribe(self._ack_topic, qos=1)
        birth = protocol.encode_state(self.settings.gateway_id, True, self.epoch, self.birth_info())
        await client.publish(self._state_topic, birth, qos=1, retain=True)
        self.connected = True
        log.info("connected to %s:%d as %s (epoch %d)", self.settings.broker.host,
                 self.settings.broker.port, self.settings.gateway_id, self.epoch)
        try:
            await self._exchange(client)
        except asyncio.CancelledError:
            await self._say_goodbye(client)
            raise

    async def _exchange(self, client: aiomqtt.Client) -> None:
        """Send the outbox and take acks until the connection fails."""
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._receive_acks(client), name="uplink-acks")
                tasks.create_task(self._send_outbox(client), name="uplink-send")
        except* aiomqtt.MqttError as group:
            raise group.exceptions[0] from None

    async def _say_goodbye(self, client: aiomqtt.Client) -> None:
        """On a clean stop the will is not sent: publish the death message ourselves."""
        death = protocol.encode_state(self.settings.gateway_id, False, self.epoch)
        try:
            await asyncio.wait_for(client.publish(self._state_topic, death, qos=1, retain=True), 2.0)
        except (aiomqtt.MqttError, TimeoutError, asyncio.CancelledError):
            pass

    async def _receive_acks(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                ack = protocol.decode_ack(message.payload)
            except protocol.DecodeError as exc:
                log.warning("ignoring malformed ack: %s", exc)
                continue
            if ack.gateway == self.settings.gateway_id:
                await asyncio.to_thread(self.outbox.ack, ack.epoch, ack.acked_seq)

    async def _send_outbox(self, client: aiomqtt.Client) -> None:
        cursor = (0, 0)  # last (epoch, seq) published in this session
        sent_at: dict[tuple[int, int], float] = {}
        while True:
            self.new_batch.clear()
            batches = await asyncio.to_thread(self.outbox.pending, cursor, 100)
            for batch in batches:
                await client.publish(self._data_topic, batch.payload, qos=1)
                cursor = (batch.epoch, batch.seq)
                sent_at[cursor] = time.monotonic()
            if batches:
                continue
            if await self._oldest_ack_overdue(sent_at):
                cursor, sent_at = (0, 0), {}
                continue
            try:
                await asyncio.wait_for(self.new_batch.wait(), timeout=self.ack_timeout_s / 3)
            except TimeoutError:
                pass

    async def _oldest_ack_overdue(self, sent_at: dict[tuple[int, int], float]) -> bool:
        oldest = await asyncio.to_thread(self.outbox.pending, (0, 0), 1)
        if not oldest:
            sent_at.clear()
            return False
        key = (oldest[0].epoch, oldest[0].seq)
        for acked in [k for k in sent_at if k < key]:
            del sent_at[acked]
        # Sent in an earlier session, or long ago without an ack: send again.
        return key not in sent_at or time.monotonic() - sent_at[key] > self.ack_timeout_s
