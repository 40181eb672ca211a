"""Driver `scale_modbus`: a weighing indicator over Modbus TCP.

Register map and quality mapping: docs/modbus-devices.md. One round is one
FC04 read of the input registers; zero / tare are coil writes.
"""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge.drivers import Clock, DriverError, Sample, register
from edge.drivers._modbus import ModbusDeviceConfig, ModbusTcpLink, read_range
from edge.modbus_map import ScaleCoil, ScaleInput, ScaleStatus, registers_to_int32

MAX_DECIMALS = 6  # more digits than any indicator shows: the device sent garbage


class ScaleInputRegisters(BaseModel):
    """Input register addresses (0-based, as on the wire)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    net_weight: int = Field(int(ScaleInput.NET_WEIGHT), ge=0, le=65534)  # int32, 2 registers
    decimals: int = Field(int(ScaleInput.DECIMALS), ge=0, le=65535)
    status: int = Field(int(ScaleInput.STATUS), ge=0, le=65535)
    error_code: int = Field(int(ScaleInput.ERROR_CODE), ge=0, le=65535)

    def layout(self) -> dict[str, tuple[int, int]]:
        return {"net_weight": (self.net_weight, 2), "decimals": (self.decimals, 1),
                "status": (self.status, 1), "error_code": (self.error_code, 1)}

    @model_validator(mode="after")
    def _fit_one_read(self) -> "ScaleInputRegisters":
        read_range(self.layout())
        return self


class ScaleCoils(BaseModel):
    """Command coil addresses: writing ON runs the command once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zero: int = Field(int(ScaleCoil.ZERO), ge=0, le=65535)
    tare: int = Field(int(ScaleCoil.TARE), ge=0, le=65535)
    clear_tare: int = Field(int(ScaleCoil.CLEAR_TARE), ge=0, le=65535)

    @model_validator(mode="after")
    def _distinct(self) -> "ScaleCoils":
        read_range({"zero": (self.zero, 1), "tare": (self.tare, 1),
                    "clear_tare": (self.clear_tare, 1)})
        return self


class ScaleModbusConfig(ModbusDeviceConfig):
    input_registers: ScaleInputRegisters = ScaleInputRegisters()
    coils: ScaleCoils = ScaleCoils()


@dataclass(frozen=True)
class IndicatorDisplay:
    """What the indicator shows in one read."""

    net_kg: float
    status: ScaleStatus
    error_code: int


def decode_indicator(block: list[int], first: int,
                     registers: ScaleInputRegisters) -> IndicatorDisplay:
    """Decode one read of input registers starting at address `first`."""
    def at(address: int, width: int = 1) -> list[int]:
        return block[address - first:address - first + width]

    decimals = at(registers.decimals)[0]
    if decimals > MAX_DECIMALS:
        raise DriverError(f"scale sent decimals={decimals} (at most {MAX_DECIMALS})", "bad_response")
    net_counts = registers_to_int32(at(registers.net_weight, 2))
    return IndicatorDisplay(net_kg=round(net_counts / 10**decimals, decimals),
                            status=ScaleStatus(at(registers.status)[0]),
                            error_code=at(registers.error_code)[0])


def weighing_quality(display: IndicatorDisplay) -> str:
    """bad: error, overload, underload; uncertain: in motion or net below zero."""
    if display.error_code or display.status & (
            ScaleStatus.ERROR | ScaleStatus.OVERLOAD | ScaleStatus.UNDERLOAD):
        return "bad"
    if ScaleStatus.STABLE not in display.status or display.net_kg < 0:
        return "uncertain"
    return "good"


def indicator_sample(display: IndicatorDisplay, sensor: str, time_ms: int) -> Sample:
    quality = weighing_quality(display)
    if display.error_code or ScaleStatus.ERROR in display.status:
        # No weight at all: a lost signal must not read as an empty scale.
        values = {"stable": False}
    else:
        values = {"weight_kg": max(0.0, display.net_kg),
                  "stable": ScaleStatus.STABLE in display.status}
    return Sample(sensor=sensor, kind="weight", time_ms=time_ms, values=values, quality=quality)


@register("scale_modbus", ScaleModbusConfig)
class ScaleModbus:
    def __init__(self, config: ScaleModbusConfig, clock: Clock) -> None:
        self.config, self.clock = config, clock
        self.sensors = ((config.sensor, "weight"),)
        self._link = ModbusTcpLink(config.host, config.port, config.unit_id, config.timeout_s)
        self._first, self._count = read_range(config.input_registers.layout())

    async def read(self) -> list[Sample]:
        block = await self._link.read_input_registers(self._first, self._count)
        display = decode_indicator(block, self._first, self.config.input_registers)
        return [indicator_sample(display, self.config.sensor, round(self.clock() * 1000))]

    async def zero(self) -> None:
        await self._link.write_coil(self.config.coils.zero, True)

    async def tare(self) -> None:
        await self._link.write_coil(self.config.coils.tare, True)

    async def clear_tare(self) -> None:
        await self._link.write_coil(self.config.coils.clear_tare, True)

    async def aclose(self) -> None:
        await self._link.aclose()
