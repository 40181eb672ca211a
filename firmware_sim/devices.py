"""`pledgewatch sim devices --config FILE`: the simulated devices of one gateway.

Per lot: a Modbus TCP scale (SimulatedScale), an optional Modbus TCP temperature probe
(SimulatedProbe) and an LLRP reader (SimulatedLlrpReader), all driven by the physical
models of firmware_sim.models over the same Lot. Ports are configurable (0: a free one;
the bound ports are printed at start, written to `status_file` and served by GET /status).

Faults are injected at run time through a small HTTP/1.1 control port on 127.0.0.1
(JSON in, JSON out; docs/edge.md lists every action):

    GET  /status                        every lot: ports, power, items, active faults
    POST /lots/<lot>/<action>  {...}     stuck | dead | drift | clear | tag_loss |
                                         power_cut | power_restore | temperature |
                                         remove_items | replace_contents
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.protocol.settings import RoleSettings
from firmware_sim.llrp_reader import SimulatedLlrpReader
from firmware_sim.modbus_devices import SimulatedProbe, SimulatedScale
from firmware_sim.models import Clock, Fault, Lot, RfidModel, ScaleModel, TemperatureModel

log = logging.getLogger("pledgewatch.sim.devices")

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,50}$"
_STRICT = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- config

class ScaleConfig(BaseModel):
    model_config = _STRICT
    port: int = Field(0, ge=0, le=65535)
    unit_id: int = Field(1, ge=0, le=255)
    capacity_kg: float | None = Field(None, gt=0)  # None: twice the full lot, at least 30 t
    decimals: int = Field(1, ge=0, le=3)
    sigma: float = Field(0.0005, ge=0, le=0.1)  # relative noise
    creep_kg_per_h: float = 0.0


class ProbeConfig(BaseModel):
    model_config = _STRICT
    port: int = Field(0, ge=0, le=65535)
    unit_id: int = Field(1, ge=0, le=255)
    setpoint_c: float = Field(ge=-100, le=100)
    sigma_c: float = Field(0.2, ge=0, le=10)
    time_constant_s: float = Field(600.0, gt=0)


class ReaderConfig(BaseModel):
    model_config = _STRICT
    port: int = Field(0, ge=0, le=65535)
    round_period_ms: int = Field(1000, ge=10, le=3_600_000)  # used when the client sets none
    read_rate: float = Field(0.97, gt=0, le=1)
    antennas: int = Field(1, ge=1, le=32)


class LotDevices(BaseModel):
    model_config = _STRICT
    id: str = Field(pattern=_ID_PATTERN)
    items: int = Field(ge=0, le=10_000)
    item_weight_kg: float = Field(gt=0)
    epc_prefix: str = Field(pattern=r"^[0-9A-F]{2,12}$")
    tare_kg: float = Field(0.0, ge=0)
    scale: ScaleConfig = ScaleConfig()
    probe: ProbeConfig | None = None  # None: no probe on this lot
    rfid: ReaderConfig = ReaderConfig()


class SimDevicesSettings(RoleSettings):
    gateway: str = Field(pattern=_ID_PATTERN)
    host: str = "127.0.0.1"  # where the devices listen
    control_port: int = Field(0, ge=0, le=65535)  # on 127.0.0.1 only; 0: a free one
    status_file: Path | None = None  # bound ports as JSON, written once everything listens
    seed: int = 0
    lots: list[LotDevices] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> "SimDevicesSettings":
        ids = [lot.id for lot in self.lots]
        if len(set(ids)) != len(ids):
            raise ValueError("lot ids must be unique")
        ports = [p for lot in self.lots for p in _configured_ports(lot)] + [self.control_port]
        fixed = [p for p in ports if p]
        if len(set(fixed)) != len(fixed):
            raise ValueError("device ports must be distinct (0 asks for a free one)")
        return self


def _configured_ports(lot: LotDevices) -> list[int]:
    return [lot.scale.port, lot.rfid.port] + ([lot.probe.port] if lot.probe else [])


# ---------------------------------------------------------------- control actions

class _DeviceFault(BaseModel):
    model_config = _STRICT
    device: Literal["scale", "probe", "rfid"] = "scale"
    duration_s: float | None = Field(None, gt=0)  # None: until cleared


class _Clear(BaseModel):
    model_config = _STRICT
    device: Literal["scale", "probe", "rfid", "all"] = "all"


class _Power(BaseModel):
    model_config = _STRICT
    device: Literal["scale", "probe", "rfid", "all"] = "all"


class _Count(BaseModel):
    model_config = _STRICT
    count: int = Field(ge=1)


class _Removal(BaseModel):
    """`count` items (the highest EPCs first), or exactly the items of `epcs`."""
    model_config = _STRICT
    count: int | None = Field(None, ge=1)
    epcs: list[str] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _count_or_epcs(self) -> "_Removal":
        if (self.count is None) == (self.epcs is None):
            raise ValueError("name either count or epcs")
        return self


class _Temperature(BaseModel):
    model_config = _STRICT
    setpoint_c: float = Field(ge=-100, le=100)


class _Replace(BaseModel):
    model_config = _STRICT
    fraction: float = Field(ge=0, le=1)  # share of the goods' weight swapped for nothing


class ControlError(Exception):
    """A control request we refuse; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------- one lot's devices

@dataclass
class _LotRig:
    config: LotDevices
    lot: Lot
    scale: SimulatedScale
    probe: SimulatedProbe | None
    rfid_model: RfidModel
    reader: SimulatedLlrpReader
    rfid_port: int = 0  # bound at start; a power restore listens on it again
    rfid_powered: bool = False

    def sensor_faults(self, now_s: float) -> dict[str, list[str]]:
        faults = {"scale": [f.mode for f in self.scale.model.faults if f.active(now_s)]}
        if self.probe:
            faults["probe"] = [f.mode for f in self.probe.model.faults if f.active(now_s)]
        model = self.rfid_model
        faults["rfid"] = ["dead"] if model.dead_from_s <= now_s < model.dead_until_s else []
        return faults


def _build_rig(config: LotDevices, host: str, seed: int, clock: Clock) -> _LotRig:
    lot = Lot.of_items(config.epc_prefix, config.items, config.item_weight_kg)
    lot.tare_kg = config.tare_kg
    full_kg = config.tare_kg + config.items * config.item_weight_kg
    scale_config = config.scale
    capacity_kg = scale_config.capacity_kg or max(30_000.0, 2 * full_kg)
    scale_model = ScaleModel(lot, random.Random(seed), sigma=scale_config.sigma,
                             creep_kg_per_h=scale_config.creep_kg_per_h,
                             resolution_kg=10.0**-scale_config.decimals)
    scale = SimulatedScale(scale_model, clock, host=host, port=scale_config.port,
                           unit_id=scale_config.unit_id, capacity_kg=capacity_kg,
                           decimals=scale_config.decimals)
    probe = None
    if config.probe:
        probe_model = TemperatureModel(config.probe.setpoint_c, random.Random(seed + 1),
                                       sigma_c=config.probe.sigma_c,
                                       time_constant_s=config.probe.time_constant_s)
        probe = SimulatedProbe(probe_model, clock, host=host, port=config.probe.port,
                               unit_id=config.probe.unit_id)
    rfid_model = RfidModel(lot, random.Random(seed + 2), read_rate=config.rfid.read_rate,
                           antennas=config.rfid.antennas)
    reader = _new_reader(rfid_model, host, config.rfid.port, config.rfid.round_period_ms, clock)
    return _LotRig(config, lot, scale, probe, rfid_model, reader)


def _new_reader(model: RfidModel, host: str, port: int, round_period_ms: int,
                clock: Clock) -> SimulatedLlrpReader:
    return SimulatedLlrpReader(model, host=host, port=port, round_period_ms=round_period_ms,
                               clock=clock)


# ---------------------------------------------------------------- the simulator

class DeviceSimulator:
    """`async with DeviceSimulator(settings) as sim:` every device listens; control on sim.control_port."""

    def __init__(self, settings: SimDevicesSettings, clock: Clock = time.time) -> None:
        self.settings, self.clock = settings, clock
        self.rigs = {lot.id: _build_rig(lot, settings.host, settings.seed * 1000 + n, clock)
                     for n, lot in enumerate(settings.lots)}
        self._control: asyncio.Server | None = None

    @property
    def control_port(self) -> int:
        return self._control.sockets[0].getsockname()[1]

    async def __aenter__(self) -> "DeviceSimulator":
        try:
            for rig in self.rigs.values():
                await rig.scale.start()
                if rig.probe:
                    await rig.probe.start()
                await rig.reader.start()
                rig.rfid_port, rig.rfid_powered = rig.reader.port, True
            self._control = await asyncio.start_server(self._serve_control, "127.0.0.1",
                                                       self.settings.control_port)
        except BaseException:
            await self._stop_devices()
            raise
        if self.settings.status_file:
            self.settings.status_file.write_text(json.dumps(self.status(), indent=2) + "\n")
        return self

    async def __aexit__(self, *exc_info) -> None:
        if self._control is not None:
            self._control.close()
            await self._control.wait_closed()
        await self._stop_devices()

    async def _stop_devices(self) -> None:
        for rig in self.rigs.values():
            await rig.scale.stop()
            if rig.probe:
                await rig.probe.stop()
            await rig.reader.stop()

    def status(self) -> dict[str, Any]:
        now_s = self.clock()
        lots = {}
        for lot_id, rig in self.rigs.items():
            lots[lot_id] = {
                "scale_port": rig.scale.port, "probe_port": rig.probe.port if rig.probe else None,
                "rfid_port": rig.rfid_port,
                "powered": {"scale": rig.scale.powered, "rfid": rig.rfid_powered,
                            **({"probe": rig.probe.powered} if rig.probe else {})},
                "items": len(rig.lot.items), "missing_fraction": rig.lot.missing_fraction,
                "unreadable_tags": len(rig.rfid_model.unreadable_epcs),
                "faults": rig.sensor_faults(now_s)}
        control = self.control_port if self._control else None
        return {"gateway": self.settings.gateway, "control_port": control, "lots": lots}

    # --- control actions --------------------------------------------------------

    async def apply(self, lot_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run one control action on one lot; ControlError when refused."""
        rig = self.rigs.get(lot_id)
        if rig is None:
            raise ControlError(404, f"no lot {lot_id!r} (known: {', '.join(self.rigs)})")
        handler = _ACTIONS.get(action)
        if handler is None:
            raise ControlError(404, f"unknown action {action!r} (known: {', '.join(_ACTIONS)})")
        model_cls, run = handler
        try:
            request = model_cls.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(body)"
            raise ControlError(400, f"{action}: {where}: {first['msg']}") from exc
        await run(self, rig, request)
        log.info("lot %s: %s %s", lot_id, action, body)
        return self.status()["lots"][lot_id]

    async def _sensor_fault(self, rig: _LotRig, mode: str, request: _DeviceFault) -> None:
        now_s = self.clock()
        end_s = now_s + request.duration_s if request.duration_s else math.inf
        if request.device == "rfid":
            if mode != "dead":
                raise ControlError(400, f"an RFID reader can only be dead, not {mode}")
            rig.rfid_model.dead_from_s, rig.rfid_model.dead_until_s = now_s, end_s
            return
        device = _modbus_device(rig, request.device)
        device.model.inject(Fault(mode, now_s, end_s))

    async def _clear(self, rig: _LotRig, request: _Clear) -> None:
        now_s = self.clock()
        for name in ("scale", "probe") if request.device == "all" else (request.device,):
            if name == "rfid" or (name == "probe" and rig.probe is None):
                continue
            for fault in _modbus_device(rig, name).model.faults:
                fault.end_s = min(fault.end_s, now_s)
        if request.device in ("rfid", "all"):
            rig.rfid_model.dead_until_s = min(rig.rfid_model.dead_until_s, now_s)
            rig.rfid_model.unreadable_epcs.clear()

    async def _power(self, rig: _LotRig, request: _Power, on: bool) -> None:
        names = ("scale", "probe", "rfid") if request.device == "all" else (request.device,)
        for name in names:
            if name == "rfid":
                await self._power_reader(rig, on)
            elif name == "scale" or rig.probe is not None:
                device = _modbus_device(rig, name)
                if on and not device.powered:
                    await device.power_restore()
                elif not on:
                    await device.power_cut()
            elif request.device == "probe":
                raise ControlError(400, f"lot {rig.config.id} has no probe")

    async def _power_reader(self, rig: _LotRig, on: bool) -> None:
        """A reader's power cut drops every client; power comes back on the same port."""
        if not on:
            await rig.reader.stop()
            rig.rfid_powered = False
        elif not rig.rfid_powered:
            rig.reader = _new_reader(rig.rfid_model, self.settings.host, rig.rfid_port,
                                     rig.config.rfid.round_period_ms, self.clock)
            await rig.reader.start()
            rig.rfid_powered = True

    async def _tag_loss(self, rig: _LotRig, request: _Count) -> None:
        """Tags fall off or break: the goods stay (the scale sees them), the reader does not."""
        readable = sorted(set(rig.lot.items) - rig.rfid_model.unreadable_epcs)
        rig.rfid_model.unreadable_epcs.update(readable[:request.count])

    async def _temperature(self, rig: _LotRig, request: _Temperature) -> None:
        if rig.probe is None:
            raise ControlError(400, f"lot {rig.config.id} has no probe")
        rig.probe.model.set_setpoint(request.setpoint_c)

    async def _remove_items(self, rig: _LotRig, request: _Removal) -> None:
        if request.epcs is None:
            rig.lot.remove(request.count or 0)
            return
        on_lot = {epc.lower(): epc for epc in rig.lot.items}  # hex: named in either case
        absent = sorted({epc for epc in request.epcs if epc.lower() not in on_lot})
        if absent:  # refused whole: a half-done removal would hide the typo
            raise ControlError(400, f"remove_items: {len(absent)} EPCs are not on lot {rig.config.id}: "
                                    f"{', '.join(absent[:3])}")
        rig.lot.take(on_lot[epc.lower()] for epc in request.epcs)

    async def _replace_contents(self, rig: _LotRig, request: _Replace) -> None:
        """Goods swapped for nothing under intact tags (sand beneath the steel)."""
        rig.lot.missing_fraction = request.fraction

    # --- the HTTP control port ------------------------------------------------------

    async def _serve_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, path, body = await asyncio.wait_for(_read_request(reader), 10)
            status, answer = await self._route(method, path, body)
        except (ValueError, TimeoutError, asyncio.IncompleteReadError) as exc:
            status, answer = 400, {"error": f"bad request: {exc}"}
        payload = json.dumps(answer).encode()
        writer.write(f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                     f"Connection: close\r\n\r\n".encode() + payload)
        try:
            await writer.drain()
        finally:
            writer.close()

    async def _route(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        try:
            if method == "GET" and parts == ["status"]:
                return 200, self.status()
            if method == "POST" and len(parts) == 3 and parts[0] == "lots":
                return 200, await self.apply(parts[1], parts[2], body)
        except ControlError as exc:
            return exc.status, {"error": str(exc)}
        return 404, {"error": f"no route {method} {path}"}


def _modbus_device(rig: _LotRig, name: str) -> SimulatedScale | SimulatedProbe:
    if name == "scale":
        return rig.scale
    if rig.probe is None:
        raise ControlError(400, f"lot {rig.config.id} has no probe")
    return rig.probe


_ACTIONS = {
    "stuck": (_DeviceFault, lambda sim, rig, r: sim._sensor_fault(rig, "stuck", r)),
    "dead": (_DeviceFault, lambda sim, rig, r: sim._sensor_fault(rig, "dead", r)),
    "drift": (_DeviceFault, lambda sim, rig, r: sim._sensor_fault(rig, "drift", r)),
    "clear": (_Clear, DeviceSimulator._clear),
    "power_cut": (_Power, lambda sim, rig, r: sim._power(rig, r, on=False)),
    "power_restore": (_Power, lambda sim, rig, r: sim._power(rig, r, on=True)),
    "tag_loss": (_Count, DeviceSimulator._tag_loss),
    "temperature": (_Temperature, DeviceSimulator._temperature),
    "remove_items": (_Removal, DeviceSimulator._remove_items),
    "replace_contents": (_Replace, DeviceSimulator._replace_contents),
}
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found"}
MAX_CONTROL_BODY_BYTES = 64 * 1024


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict]:
    """(method, path, JSON body) of one HTTP/1.1 request; ValueError when malformed."""
    request_line = (await reader.readline()).decode("latin-1").split()
    if len(request_line) != 3:
        raise ValueError("malformed request line")
    length = 0
    while (line := (await reader.readline()).decode("latin-1").strip()):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if not 0 <= length <= MAX_CONTROL_BODY_BYTES:
        raise ValueError(f"body of {length} bytes")
    raw = await reader.readexactly(length) if length else b"{}"
    body = json.loads(raw or b"{}")
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return request_line[0], request_line[1], body


async def run_devices(settings: SimDevicesSettings, echo=print) -> None:
    """Run until cancelled; prints the bound ports as one JSON line once listening."""
    async with DeviceSimulator(settings) as sim:
        echo(json.dumps(sim.status()))
        await asyncio.Event().wait()
