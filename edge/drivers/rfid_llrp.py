"""`rfid_llrp`: a fixed UHF RFID reader over LLRP (our own codec, edge.llrp).

The driver is an asyncio LLRP client. On the first `read()` it starts a named
background task that connects, waits for the reader's connection event,
clears our previous ROSpec, turns on keepalives and end-of-AISpec events, adds
an ROSpec with an Immediate start trigger and enables it. Every end-of-AISpec
event closes one inventory round: the tags of the RO_ACCESS_REPORTs received
since the previous event become one Sample

    Sample(sensor, "rfid", time_ms=<reader's time of the round>,
           values={"tags": [{"epc": "<lowercase hex>", "antenna": int,
                             "rssi_dbm": int, "seen_count": int}, ...]})

so an empty round (every tag gone) is still reported, as `{"tags": []}`.

Failures: a dropped or silent connection (no message for 3 keepalive periods)
is retried with exponential backoff. A dead reader surfaces as DriverError:
once no round has completed for `dead_after_s`, `read()` raises DriverError
whose message says why (connection refused, reader closed the connection,
request refused with its LLRP status, ...). Rounds completed before the
failure are still returned first. Nothing here blocks the event loop.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from dataclasses import replace

from pydantic import BaseModel, Field, field_validator, model_validator

from edge.drivers import Clock, DriverError, Sample, register
from edge.llrp import messages as m
from edge.llrp import params as p
from edge.llrp.errors import LlrpError
from edge.llrp.stream import LlrpStream

log = logging.getLogger(__name__)

KEEPALIVES_MISSED_BEFORE_DROP = 3
_RESPONSE_TO = {
    m.GetReaderCapabilities: m.GetReaderCapabilitiesResponse,
    m.SetReaderConfig: m.SetReaderConfigResponse,
    m.AddROSpec: m.AddROSpecResponse,
    m.EnableROSpec: m.EnableROSpecResponse,
    m.DeleteROSpec: m.DeleteROSpecResponse,
    m.DeleteAccessSpec: m.DeleteAccessSpecResponse,
    m.CloseConnection: m.CloseConnectionResponse,
}
# What we ask the reader to put in every TagReportData.
_TAG_CONTENT = p.TagReportContentSelector(rospec_id=True, antenna_id=True, peak_rssi=True,
                                          last_seen=True, tag_seen_count=True)


class RfidLlrpConfig(BaseModel):
    model_config = {"extra": "forbid"}
    sensor: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    host: str = Field(min_length=1)
    port: int = Field(5084, ge=1, le=65535)
    antennas: list[int] = Field(default_factory=lambda: [1], min_length=1)
    # Length of one inventory round (AISpec Duration stop trigger); None: the reader's own round.
    round_period_ms: int | None = Field(None, ge=10, le=3_600_000)
    report_every_n_tags: int = Field(0, ge=0, le=65535)  # 0: one report per round
    rospec_id: int = Field(1, ge=1, le=2**32 - 1)
    keepalive_ms: int = Field(5000, ge=100, le=3_600_000)
    connect_timeout_s: float = Field(5.0, gt=0, le=300)
    response_timeout_s: float = Field(5.0, gt=0, le=300)
    reconnect_min_s: float = Field(0.5, gt=0, le=3600)
    reconnect_max_s: float = Field(30.0, gt=0, le=3600)
    dead_after_s: float = Field(30.0, gt=0)  # no round for this long: read() raises DriverError
    max_pending_rounds: int = Field(10_000, ge=1)  # bound on unread rounds; overflow drops oldest, counted

    @field_validator("antennas")
    @classmethod
    def _antennas_valid(cls, antennas: list[int]) -> list[int]:
        if any(not 1 <= antenna <= 65535 for antenna in antennas):
            raise ValueError("antenna ids must be 1..65535")
        if len(set(antennas)) != len(antennas):
            raise ValueError("antenna ids must be unique")
        return antennas

    @model_validator(mode="after")
    def _timings_consistent(self) -> "RfidLlrpConfig":
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        if self.round_period_ms and self.dead_after_s * 1000 <= 2 * self.round_period_ms:
            raise ValueError("dead_after_s must exceed two round periods (round_period_ms)")
        return self


@register("rfid_llrp", RfidLlrpConfig)
class RfidLlrpDriver:
    def __init__(self, config: RfidLlrpConfig, clock: Clock) -> None:
        self.config, self.clock = config, clock
        self.sensors = ((config.sensor, "rfid"),)
        self.dropped_rounds = 0  # rounds lost to the max_pending_rounds bound
        self._rounds: deque[Sample] = deque()
        self._round_tags: list[dict] = []
        self._last_round_s = 0.0  # clock() of the last completed round (or of the first read)
        self._rounds_completed = 0
        self._last_failure = "none yet"
        self._stream: LlrpStream | None = None
        self._runner: asyncio.Task | None = None
        self._message_ids = itertools.count(1)

    @property
    def reader_address(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    @property
    def is_connected(self) -> bool:
        return self._stream is not None

    async def read(self) -> list[Sample]:
        """Every inventory round completed since the last call, oldest first."""
        if self._runner is None:
            self._last_round_s = self.clock()  # the silence clock starts with the client
            self._runner = asyncio.create_task(self._run(), name=f"rfid_llrp {self.config.sensor}")
        if self._runner.done():
            self._runner.result()  # the client loop only ends on a bug of ours: surface it
        if self._rounds:
            samples = list(self._rounds)
            self._rounds.clear()
            return samples
        silent_s = self.clock() - self._last_round_s
        if silent_s >= self.config.dead_after_s:
            link = "connected" if self.is_connected else "not connected"
            raise DriverError(f"RFID reader {self.reader_address}: no inventory round for {silent_s:.0f} s "
                              f"({link}; last failure: {self._last_failure})", "no_rounds")
        return []

    async def aclose(self) -> None:
        """Stop the client; politely remove our specs if the reader is still there."""
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        if self._stream is not None:
            try:
                await asyncio.wait_for(self._say_goodbye(), self.config.response_timeout_s)
            except (OSError, TimeoutError, LlrpError, DriverError) as exc:
                log.info("RFID reader %s: goodbye incomplete (%s)", self.reader_address, exc)
            await self._drop_stream()

    # --- connection lifecycle ---------------------------------------------------

    async def _run(self) -> None:
        delay_s = self.config.reconnect_min_s
        while True:
            rounds_before = self._rounds_completed
            try:
                await self._session()
            except (OSError, TimeoutError, LlrpError, DriverError) as exc:
                self._last_failure = _describe(exc)
                log.warning("RFID reader %s: %s", self.reader_address, self._last_failure)
            await self._drop_stream()
            if self._rounds_completed > rounds_before:
                delay_s = self.config.reconnect_min_s  # that session worked: retry promptly
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, self.config.reconnect_max_s)

    async def _session(self) -> None:
        self._round_tags = []  # a round cut by a disconnect is incomplete: never report it
        self._stream = await LlrpStream.connect(self.config.host, self.config.port,
                                                self.config.connect_timeout_s)
        greeting = await self._receive(self.config.response_timeout_s)
        status = greeting.data.connection_attempt_status if isinstance(greeting, m.ReaderEventNotification) else None
        if status != p.CONNECTION_SUCCESS:
            raise DriverError(f"reader refused the connection (first message {greeting!r})")
        await self._set_up_inventory()
        log.info("RFID reader %s: inventory running", self.reader_address)
        silence_s = KEEPALIVES_MISSED_BEFORE_DROP * self.config.keepalive_ms / 1000
        while True:
            await self._handle(await self._receive(silence_s))

    async def _set_up_inventory(self) -> None:
        config = self.config
        capabilities = await self._request(m.GetReaderCapabilities())
        if capabilities.general and capabilities.general.max_antennas < max(config.antennas):
            raise DriverError(f"reader has {capabilities.general.max_antennas} antennas, "
                              f"config asks for antenna {max(config.antennas)}")
        await self._request(m.DeleteAccessSpec(0), require_ok=False)
        await self._request(m.DeleteROSpec(config.rospec_id), require_ok=False)  # ours, if left over
        await self._request(m.SetReaderConfig(
            event_states=(p.EventNotificationState(p.EVENT_AISPEC, True),),
            keepalive=p.KeepaliveSpec(config.keepalive_ms)))
        await self._send(m.EnableEventsAndReports())
        await self._request(m.AddROSpec(self._rospec()))
        await self._request(m.EnableROSpec(config.rospec_id))

    def _rospec(self) -> p.ROSpec:
        period_ms = self.config.round_period_ms
        return p.ROSpec(
            self.config.rospec_id, antennas=tuple(self.config.antennas),
            start_trigger=p.START_TRIGGER_IMMEDIATE,
            ai_stop_trigger=p.STOP_TRIGGER_DURATION if period_ms else p.STOP_TRIGGER_NULL,
            ai_stop_duration_ms=period_ms or 0,
            report=p.ROReportSpec(p.REPORT_UPON_N_TAGS_OR_END_OF_AISPEC, self.config.report_every_n_tags,
                                  _TAG_CONTENT))

    async def _say_goodbye(self) -> None:
        await self._request(m.DeleteAccessSpec(0), require_ok=False)
        await self._request(m.DeleteROSpec(self.config.rospec_id), require_ok=False)
        await self._request(m.CloseConnection(), require_ok=False)

    async def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()

    # --- messages ---------------------------------------------------------------

    async def _send(self, message: m.Message) -> m.Message:
        if self._stream is None:
            raise DriverError("not connected")
        message = replace(message, message_id=next(self._message_ids))
        await self._stream.send(message)
        return message

    async def _receive(self, timeout_s: float) -> m.Message:
        try:
            return await asyncio.wait_for(self._stream.receive(), timeout_s)
        except TimeoutError as exc:
            raise DriverError(f"reader silent for {timeout_s:g} s") from exc

    async def _request(self, request: m.Message, require_ok: bool = True) -> m.Message:
        """Send a request and return its response, handling whatever arrives meanwhile."""
        sent = await self._send(request)
        expected = (_RESPONSE_TO[type(request)], m.ErrorMessage)
        while True:
            reply = await self._receive(self.config.response_timeout_s)
            if isinstance(reply, expected) and reply.message_id == sent.message_id:
                break
            await self._handle(reply)
        if require_ok and not reply.status.ok:
            raise DriverError(f"reader refused {type(request).__name__}: LLRP status "
                              f"{reply.status.code} {reply.status.description!r}")
        return reply

    async def _handle(self, message: m.Message) -> None:
        if isinstance(message, m.Keepalive):
            await self._send(m.KeepaliveAck())
        elif isinstance(message, m.ROAccessReport):
            self._round_tags += [_tag_values(tag) for tag in message.tags
                                 if tag.rospec_id in (None, self.config.rospec_id)]
        elif isinstance(message, m.ReaderEventNotification):
            event = message.data.aispec_event
            if event and event.rospec_id == self.config.rospec_id and event.event_type == p.AISPEC_EVENT_END:
                self._complete_round(message.data.timestamp_us)
        elif isinstance(message, m.ErrorMessage):
            log.warning("RFID reader %s reports an error: %s", self.reader_address, message.status)

    def _complete_round(self, timestamp_us: int) -> None:
        tags = sorted(self._round_tags, key=lambda tag: (tag["epc"], tag["antenna"] or 0))
        self._round_tags = []
        if len(self._rounds) >= self.config.max_pending_rounds:
            self._rounds.popleft()
            self.dropped_rounds += 1
            log.warning("RFID reader %s: %d unread rounds dropped (read() not called?)",
                        self.reader_address, self.dropped_rounds)
        self._rounds.append(Sample(self.config.sensor, "rfid", timestamp_us // 1000, {"tags": tags}))
        self._rounds_completed += 1
        self._last_round_s = self.clock()


def _tag_values(tag: p.TagReport) -> dict:
    # A reader that ignores the content selector leaves fields out: they become None.
    return {"epc": tag.epc_hex, "antenna": tag.antenna_id, "rssi_dbm": tag.peak_rssi_dbm,
            "seen_count": tag.tag_seen_count if tag.tag_seen_count is not None else 1}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "connect timed out"
    return str(exc) or type(exc).__name__
