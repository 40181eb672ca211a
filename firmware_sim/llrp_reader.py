"""A simulated fixed UHF RFID reader that speaks LLRP 1.0.1 over TCP.

What it does, per client connection (several clients may connect at once, each
with its own ROSpecs, all reading the same tags):
- sends READER_EVENT_NOTIFICATION (ConnectionAttemptEvent success) on connect;
- answers every request with its response carrying LLRPStatus (ERROR_MESSAGE for
  messages outside the subset);
- while an ROSpec is active (Immediate start trigger: as soon as it is enabled;
  otherwise after START_ROSPEC) runs one inventory round of the RfidModel per
  round period, sends the reads as RO_ACCESS_REPORTs (at most N tags each,
  fields chosen by the TagReportContentSelector) and, if the client enabled
  AISpec events, a READER_EVENT_NOTIFICATION with an end-of-AISpec event;
- round period: the AISpec's Duration stop trigger if set, else `round_period_ms`;
- KEEPALIVE every KeepaliveSpec period; DISABLE_ROSPEC pauses, ENABLE_ROSPEC resumes.

Faults are model changes at run time (`reader.model` is the live RfidModel):
`model.lot.remove(n)` (tag loss), `model.extra_epcs.add(epc)` (a cloned tag in
range), `model.dead_from_s / dead_until_s` (dead reader: the first round inside
that window drops the connection, like a power cut, and so does every round of a
new connection until the window ends).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass, replace

from edge.llrp import messages as m
from edge.llrp import params as p
from edge.llrp.errors import LlrpConnectionClosed, LlrpDecodeError, LlrpFramingError
from edge.llrp.stream import LlrpStream
from firmware_sim.models import Clock, RfidModel, TagRead

log = logging.getLogger(__name__)

CHANNEL_INDEX = 1


@dataclass
class _ROSpecEntry:
    spec: p.ROSpec
    state: int = p.ROSPEC_DISABLED


class SimulatedLlrpReader:
    """`async with SimulatedLlrpReader(model) as reader:` listens on `reader.port`."""

    def __init__(self, model: RfidModel, *, host: str = "127.0.0.1", port: int = 0,
                 round_period_ms: int = 200, clock: Clock = time.time, max_antennas: int = 4,
                 firmware: str = "pledgewatch-sim-llrp 1.0") -> None:
        if round_period_ms <= 0:
            raise ValueError("round_period_ms must be positive")
        self.model, self.host, self.clock = model, host, clock
        self.round_period_ms = round_period_ms
        self._requested_port = port
        self.capabilities = m.GetReaderCapabilitiesResponse(
            p.LlrpStatus(),
            p.GeneralDeviceCapabilities(max(max_antennas, model.antennas), firmware=firmware),
            p.RegulatoryCapabilities(
                power_levels=tuple(p.TransmitPowerLevel(i + 1, dbm * 100) for i, dbm in enumerate(range(10, 31))),
                rf_modes=(p.RfMode(1000), p.RfMode(1002, modulation=2, bdr_bps=160_000, min_tari_ns=20_000,
                                                   max_tari_ns=20_000))))
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task] = set()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("reader not started")
        return self._server.sockets[0].getsockname()[1]

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve_connection, self.host, self._requested_port)

    async def stop(self) -> None:
        """Stop listening and drop every connection (a reader switched off)."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> "SimulatedLlrpReader":
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        session = _Session(self, LlrpStream(reader, writer))
        try:
            await session.run()
        except asyncio.CancelledError:
            pass  # stop() ended this connection; asyncio would log a cancelled handler as an error
        finally:
            self._connections.discard(task)

    def now_us(self) -> int:
        return int(self.clock() * 1_000_000)


class _Session:
    """One client connection: its ROSpecs, its configuration, its loops."""

    def __init__(self, reader: SimulatedLlrpReader, stream: LlrpStream) -> None:
        self.reader, self.stream = reader, stream
        self.rospecs: dict[int, _ROSpecEntry] = {}
        self.keepalive_ms = 0
        self.keepalive_changed = asyncio.Event()
        self.rospecs_changed = asyncio.Event()
        self.aispec_events = False
        self.report_spec = p.ROReportSpec()
        self._message_ids = itertools.count(1)

    async def run(self) -> None:
        loops = [asyncio.create_task(self._serve_requests(), name=f"llrp-sim requests {self.stream.peer}"),
                 asyncio.create_task(self._inventory_loop(), name=f"llrp-sim inventory {self.stream.peer}"),
                 asyncio.create_task(self._keepalive_loop(), name=f"llrp-sim keepalive {self.stream.peer}")]
        try:
            await self._send(m.ReaderEventNotification(p.ReaderEventData(
                self.reader.now_us(), connection_attempt_status=p.CONNECTION_SUCCESS)))
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() and not isinstance(task.exception(), (ConnectionError, OSError)):
                    log.error("LLRP session %s failed", self.stream.peer, exc_info=task.exception())
        except (ConnectionError, OSError):
            pass  # the client left before the greeting: nothing to serve
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self.stream.aclose()

    async def _send(self, message: m.Message) -> None:
        if message.message_id == 0:
            message = _with_id(message, next(self._message_ids))
        await self.stream.send(message)

    async def _serve_requests(self) -> None:
        while True:
            try:
                request = await self.stream.receive()
            except LlrpDecodeError as exc:
                await self._send(m.ErrorMessage(p.LlrpStatus(p.STATUS_PARAMETER_ERROR, str(exc))))
                if isinstance(exc, LlrpFramingError):
                    return  # cannot find the next message boundary: hang up
                continue
            except LlrpConnectionClosed:
                return
            reply = self._answer(request)
            if reply is not None:
                await self.stream.send(_with_id(reply, request.message_id))
            if isinstance(request, m.CloseConnection):
                return

    def _answer(self, request: m.Message) -> m.Message | None:
        handler = _HANDLERS.get(type(request))
        if handler is None:
            return m.ErrorMessage(p.LlrpStatus(p.STATUS_UNSUPPORTED_MESSAGE,
                                               f"message type {request.message_type} not supported"))
        return handler(self, request)

    # --- inventory and keepalives ----------------------------------------------

    def _active(self) -> list[_ROSpecEntry]:
        return [entry for entry in self.rospecs.values() if entry.state == p.ROSPEC_ACTIVE]

    def _round_period_s(self) -> float:
        for entry in self._active():
            if entry.spec.ai_stop_trigger == p.STOP_TRIGGER_DURATION and entry.spec.ai_stop_duration_ms:
                return entry.spec.ai_stop_duration_ms / 1000
        return self.reader.round_period_ms / 1000

    async def _inventory_loop(self) -> None:
        """Returns (ending the session) when the model says the reader is dead."""
        while True:
            if not self._active():
                self.rospecs_changed.clear()
                await self.rospecs_changed.wait()
                continue
            await asyncio.sleep(self._round_period_s())
            active = self._active()
            if not active:
                continue  # disabled during the round: nothing to report
            now_us = self.reader.now_us()
            reads = self.reader.model.inventory_round(now_us / 1_000_000)
            if reads is None:
                log.info("simulated LLRP reader dead: dropping %s", self.stream.peer)
                return
            for entry in active:
                await self._report_round(entry.spec, reads, now_us)

    async def _report_round(self, spec: p.ROSpec, reads: list[TagRead], now_us: int) -> None:
        report_spec = spec.report or self.report_spec
        if report_spec.trigger != p.REPORT_NONE:
            tags = [_tag_report(read, spec, report_spec.content, now_us)
                    for read in reads if 0 in spec.antennas or read.antenna in spec.antennas]
            chunk = report_spec.n_tags or len(tags) or 1
            for start in range(0, len(tags), chunk):
                await self._send(m.ROAccessReport(tuple(tags[start:start + chunk])))
        if self.aispec_events:
            await self._send(m.ReaderEventNotification(p.ReaderEventData(
                now_us, aispec_event=p.AISpecEvent(spec.rospec_id))))

    async def _keepalive_loop(self) -> None:
        while True:
            period_s = self.keepalive_ms / 1000 or None  # None: wait for a new KeepaliveSpec
            try:
                await asyncio.wait_for(self.keepalive_changed.wait(), period_s)
                self.keepalive_changed.clear()
            except TimeoutError:
                await self._send(m.Keepalive())

    # --- request handlers (each returns the response) ------------------------------

    def _capabilities(self, request: m.GetReaderCapabilities) -> m.Message:
        return self.reader.capabilities

    def _get_config(self, request: m.GetReaderConfig) -> m.Message:
        events = (p.EventNotificationState(p.EVENT_AISPEC, self.aispec_events),)
        return m.GetReaderConfigResponse(event_states=events, report_spec=self.report_spec,
                                         keepalive=p.KeepaliveSpec(self.keepalive_ms))

    def _set_config(self, request: m.SetReaderConfig) -> m.Message:
        if request.reset_to_factory_default:
            self.rospecs.clear()
            self.aispec_events, self.report_spec, self.keepalive_ms = False, p.ROReportSpec(), 0
        for state in request.event_states:
            if state.event_type == p.EVENT_AISPEC:
                self.aispec_events = state.enabled
        self.report_spec = request.report_spec or self.report_spec
        if request.keepalive is not None:
            self.keepalive_ms = request.keepalive.period_ms
            self.keepalive_changed.set()
        return m.SetReaderConfigResponse()

    def _add_rospec(self, request: m.AddROSpec) -> m.Message:
        spec = request.rospec
        if spec.rospec_id == 0 or spec.rospec_id in self.rospecs:
            return m.AddROSpecResponse(_error(f"ROSpecID {spec.rospec_id} is zero or already added"))
        if spec.current_state != p.ROSPEC_DISABLED:
            return m.AddROSpecResponse(_error("a new ROSpec must be in the Disabled state"))
        self.rospecs[spec.rospec_id] = _ROSpecEntry(spec)
        return m.AddROSpecResponse()

    def _set_state(self, rospec_id: int, new_state, response: type[m.StatusResponse]) -> m.Message:
        """Apply `new_state(entry) -> state` to one ROSpec, or to all when the id is 0."""
        if rospec_id and rospec_id not in self.rospecs:
            return response(_error(f"no ROSpec {rospec_id}"))
        for entry in self.rospecs.values():
            if rospec_id in (0, entry.spec.rospec_id):
                entry.state = new_state(entry)
        self.rospecs_changed.set()
        return response()

    def _enable(self, request: m.EnableROSpec) -> m.Message:
        def enabled(entry):
            if entry.state != p.ROSPEC_DISABLED:
                return entry.state
            immediate = entry.spec.start_trigger == p.START_TRIGGER_IMMEDIATE
            return p.ROSPEC_ACTIVE if immediate else p.ROSPEC_INACTIVE
        return self._set_state(request.rospec_id, enabled, m.EnableROSpecResponse)

    def _disable(self, request: m.DisableROSpec) -> m.Message:
        return self._set_state(request.rospec_id, lambda entry: p.ROSPEC_DISABLED, m.DisableROSpecResponse)

    def _start(self, request: m.StartROSpec) -> m.Message:
        def started(entry):
            return p.ROSPEC_ACTIVE if entry.state != p.ROSPEC_DISABLED else entry.state
        return self._set_state(request.rospec_id, started, m.StartROSpecResponse)

    def _stop(self, request: m.StopROSpec) -> m.Message:
        def stopped(entry):
            return p.ROSPEC_INACTIVE if entry.state == p.ROSPEC_ACTIVE else entry.state
        return self._set_state(request.rospec_id, stopped, m.StopROSpecResponse)

    def _delete(self, request: m.DeleteROSpec) -> m.Message:
        if request.rospec_id == 0:
            self.rospecs.clear()
        elif self.rospecs.pop(request.rospec_id, None) is None:
            return m.DeleteROSpecResponse(_error(f"no ROSpec {request.rospec_id}"))
        return m.DeleteROSpecResponse()

    def _delete_access_spec(self, request: m.DeleteAccessSpec) -> m.Message:
        if request.access_spec_id:  # this reader never holds AccessSpecs
            return m.DeleteAccessSpecResponse(_error(f"no AccessSpec {request.access_spec_id}"))
        return m.DeleteAccessSpecResponse()

    def _close(self, request: m.CloseConnection) -> m.Message:
        return m.CloseConnectionResponse()

    def _no_reply(self, request: m.Message) -> None:
        return None


_HANDLERS = {
    m.GetReaderCapabilities: _Session._capabilities,
    m.GetReaderConfig: _Session._get_config,
    m.SetReaderConfig: _Session._set_config,
    m.EnableEventsAndReports: _Session._no_reply,
    m.KeepaliveAck: _Session._no_reply,
    m.AddROSpec: _Session._add_rospec,
    m.EnableROSpec: _Session._enable,
    m.DisableROSpec: _Session._disable,
    m.StartROSpec: _Session._start,
    m.StopROSpec: _Session._stop,
    m.DeleteROSpec: _Session._delete,
    m.DeleteAccessSpec: _Session._delete_access_spec,
    m.CloseConnection: _Session._close,
}


def _error(description: str) -> p.LlrpStatus:
    return p.LlrpStatus(p.STATUS_PARAMETER_ERROR, description)


def _tag_report(read: TagRead, spec: p.ROSpec, selector: p.TagReportContentSelector,
                now_us: int) -> p.TagReport:
    def wanted(flag: bool, value: int) -> int | None:
        return value if flag else None
    return p.TagReport(
        bytes.fromhex(read.epc),
        rospec_id=wanted(selector.rospec_id, spec.rospec_id),
        spec_index=wanted(selector.spec_index, 1),
        inventory_parameter_spec_id=wanted(selector.inventory_parameter_spec_id, spec.inventory_parameter_spec_id),
        antenna_id=wanted(selector.antenna_id, read.antenna),
        peak_rssi_dbm=wanted(selector.peak_rssi, max(-128, min(127, read.rssi_dbm))),
        channel_index=wanted(selector.channel_index, CHANNEL_INDEX),
        first_seen_us=wanted(selector.first_seen, now_us),
        last_seen_us=wanted(selector.last_seen, now_us),
        tag_seen_count=wanted(selector.tag_seen_count, read.seen_count),
        access_spec_id=wanted(selector.access_spec_id, 0))


def _with_id(message: m.Message, message_id: int) -> m.Message:
    return replace(message, message_id=message_id)
