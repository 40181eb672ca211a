"""The simulated LLRP reader driven directly with our codec over TCP: the behaviour llrp.md lists."""
from __future__ import annotations

import asyncio
import struct
from dataclasses import replace

import pytest
from llrp_sim_helpers import RecordingRfidModel

from edge.llrp import messages as m
from edge.llrp import params as p
from edge.llrp.stream import LlrpStream
from edge.llrp.wire import FrameReassembler
from firmware_sim.llrp_reader import SimulatedLlrpReader

pytestmark = pytest.mark.integration
ROUND_MS = 30


class Client:
    """A bare LLRP client: send a request, get its response; other messages are queued."""

    def __init__(self, stream: LlrpStream) -> None:
        self.stream = stream
        self.unsolicited: list[m.Message] = []
        self._next_id = 100

    async def request(self, message: m.Message) -> m.Message:
        self._next_id += 1
        await self.stream.send(_with_id(message, self._next_id))
        while True:
            reply = await asyncio.wait_for(self.stream.receive(), 2.0)
            if reply.message_id == self._next_id and not isinstance(reply, (m.Keepalive, m.ROAccessReport)):
                return reply
            self.unsolicited.append(reply)

    async def collect(self, seconds: float) -> list[m.Message]:
        messages = self.unsolicited
        self.unsolicited = []
        try:
            await asyncio.wait_for(self._receive_into(messages), seconds)
        except TimeoutError:
            pass
        return messages

    async def _receive_into(self, messages: list[m.Message]) -> None:
        while True:
            messages.append(await self.stream.receive())


def _with_id(message: m.Message, message_id: int) -> m.Message:
    return replace(message, message_id=message_id)


def rospec(selector: p.TagReportContentSelector, n_tags: int = 0, antennas=(0,)) -> p.ROSpec:
    return p.ROSpec(5, antennas=antennas, report=p.ROReportSpec(n_tags=n_tags, content=selector))


async def connect(reader: SimulatedLlrpReader) -> Client:
    stream = await LlrpStream.connect("127.0.0.1", reader.port, 2.0)
    greeting = await asyncio.wait_for(stream.receive(), 2.0)
    assert isinstance(greeting, m.ReaderEventNotification)
    assert greeting.data.connection_attempt_status == p.CONNECTION_SUCCESS
    return Client(stream)


def reports(messages: list[m.Message]) -> list[m.ROAccessReport]:
    return [msg for msg in messages if isinstance(msg, m.ROAccessReport)]


def test_capabilities_config_and_unsupported_messages():
    async def scenario():
        async with SimulatedLlrpReader(RecordingRfidModel(antennas=2), max_antennas=4) as reader:
            client = await connect(reader)
            try:
                caps = await client.request(m.GetReaderCapabilities())
                config = await client.request(m.GetReaderConfig())
                unknown = await client.request(m.UnknownMessage(40, b"\0" * 4))  # ADD_ACCESSSPEC
                missing = await client.request(m.EnableROSpec(99))
                closed = await client.request(m.CloseConnection())
            finally:
                await client.stream.aclose()
        assert caps.status.ok and caps.general.max_antennas == 4
        assert caps.regulatory.power_levels and caps.regulatory.rf_modes
        assert isinstance(config, m.GetReaderConfigResponse) and config.status.ok
        assert isinstance(unknown, m.ErrorMessage) and unknown.status.code == p.STATUS_UNSUPPORTED_MESSAGE
        assert isinstance(missing, m.EnableROSpecResponse) and not missing.status.ok
        assert isinstance(closed, m.CloseConnectionResponse) and closed.status.ok

    asyncio.run(scenario())


def test_reports_honour_selector_and_n_tags_and_pause_resume():
    async def scenario():
        model = RecordingRfidModel(items=5, read_rate=1.0)
        async with SimulatedLlrpReader(model, round_period_ms=ROUND_MS) as reader:
            client = await connect(reader)
            try:
                selector = p.TagReportContentSelector(antenna_id=True)
                assert (await client.request(m.AddROSpec(rospec(selector, n_tags=2)))).status.ok
                assert (await client.request(m.EnableROSpec(5))).status.ok
                running = await client.collect(0.2)
                assert (await client.request(m.DisableROSpec(5))).status.ok
                await client.collect(0.05)  # a report already on the wire
                paused = await client.collect(0.2)
                assert (await client.request(m.EnableROSpec(5))).status.ok
                resumed = await client.collect(0.2)
                assert (await client.request(m.DeleteROSpec(5))).status.ok
            finally:
                await client.stream.aclose()
        assert reports(running) and reports(resumed) and not reports(paused)
        assert {len(r.tags) for r in reports(running)} == {1, 2}  # 5 tags: 2 + 2 + 1 per round
        tag = reports(running)[0].tags[0]
        assert tag.antenna_id in (1, 2) and tag.peak_rssi_dbm is None and tag.tag_seen_count is None

    asyncio.run(scenario())


def test_keepalives_and_aispec_events():
    async def scenario():
        async with SimulatedLlrpReader(RecordingRfidModel(items=2), round_period_ms=ROUND_MS) as reader:
            client = await connect(reader)
            try:
                await client.request(m.SetReaderConfig(
                    event_states=(p.EventNotificationState(p.EVENT_AISPEC, True),),
                    keepalive=p.KeepaliveSpec(50)))
                await client.request(m.AddROSpec(rospec(p.TagReportContentSelector())))
                await client.request(m.EnableROSpec(5))
                messages = await client.collect(0.3)
            finally:
                await client.stream.aclose()
        assert sum(isinstance(msg, m.Keepalive) for msg in messages) >= 3
        events = [msg.data.aispec_event for msg in messages
                  if isinstance(msg, m.ReaderEventNotification) and msg.data.aispec_event]
        assert len(events) >= 3 and all(event.rospec_id == 5 for event in events)

    asyncio.run(scenario())


def test_garbage_body_gets_an_error_message_and_the_session_survives():
    async def scenario():
        async with SimulatedLlrpReader(RecordingRfidModel()) as reader:
            tcp_reader, tcp_writer = await asyncio.open_connection("127.0.0.1", reader.port)
            try:
                garbage = struct.pack("!HII", (1 << 10) | 20, 13, 7) + b"\x00\xb1\x00"  # ADD_ROSPEC, cut TLV
                tcp_writer.write(garbage + m.encode_message(m.GetReaderConfig(message_id=8)))
                replies = await asyncio.wait_for(_messages(tcp_reader, 3), 2.0)
            finally:
                tcp_writer.close()
                await tcp_writer.wait_closed()
        greeting, error, config = replies
        assert isinstance(greeting, m.ReaderEventNotification)
        assert isinstance(error, m.ErrorMessage) and error.status.code == p.STATUS_PARAMETER_ERROR
        assert isinstance(config, m.GetReaderConfigResponse) and config.message_id == 8

    asyncio.run(scenario())


async def _messages(tcp_reader: asyncio.StreamReader, count: int) -> list[m.Message]:
    reassembler, frames = FrameReassembler(), []
    while len(frames) < count:
        frames += reassembler.feed(await tcp_reader.read(4096))
    return [m.decode_message(frame) for frame in frames]


def test_corrupt_framing_gets_an_error_message_then_a_hang_up():
    async def scenario():
        async with SimulatedLlrpReader(RecordingRfidModel()) as reader:
            tcp_reader, tcp_writer = await asyncio.open_connection("127.0.0.1", reader.port)
            try:
                tcp_writer.write(struct.pack("!HII", (1 << 10) | 1, 3, 7))  # length below the header
                replies = await asyncio.wait_for(_messages(tcp_reader, 2), 2.0)
                assert await asyncio.wait_for(tcp_reader.read(), 2.0) == b""  # closed by the reader
            finally:
                tcp_writer.close()
                await tcp_writer.wait_closed()
        assert isinstance(replies[1], m.ErrorMessage)

    asyncio.run(scenario())
