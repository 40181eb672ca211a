"""Driver `temperature_modbus`: a temperature probe (transmitter) over Modbus TCP.

Register map and quality mapping: docs/modbus-devices.md. One round is one
FC04 read of the input registers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge.drivers import Clock, Sample, register
from edge.drivers._modbus import ModbusDeviceConfig, ModbusTcpLink, read_range
from edge.modbus_map import ProbeInput, ProbeStatus, register_to_int16


class ProbeInputRegisters(BaseModel):
    """Input register addresses (0-based, as on the wire)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: int = Field(int(ProbeInput.TEMPERATURE), ge=0, le=65535)  # int16
    status: int = Field(int(ProbeInput.STATUS), ge=0, le=65535)
    error_code: int = Field(int(ProbeInput.ERROR_CODE), ge=0, le=65535)

    def layout(self) -> dict[str, tuple[int, int]]:
        return {"temperature": (self.temperature, 1), "status": (self.status, 1),
                "error_code": (self.error_code, 1)}

    @model_validator(mode="after")
    def _fit_one_read(self) -> "ProbeInputRegisters":
        read_range(self.layout())
        return self


class TemperatureModbusConfig(ModbusDeviceConfig):
    temperature_divisor: Literal[1, 10, 100] = 100  # register = °C x divisor
    input_registers: ProbeInputRegisters = ProbeInputRegisters()


@dataclass(frozen=True)
class ProbeDisplay:
    """What the probe shows in one read."""

    temperature_c: float
    status: ProbeStatus
    error_code: int


def decode_probe(block: list[int], first: int, registers: ProbeInputRegisters,
                 divisor: int) -> ProbeDisplay:
    """Decode one read of input registers starting at address `first`."""
    def at(address: int) -> int:
        return block[address - first]

    return ProbeDisplay(temperature_c=register_to_int16(at(registers.temperature)) / divisor,
                        status=ProbeStatus(at(registers.status)),
                        error_code=at(registers.error_code))


def probe_sample(display: ProbeDisplay, sensor: str, time_ms: int) -> Sample:
    """good, or bad with what the probe still shows: its range limit, or nothing."""
    sensor_failed = ProbeStatus.ERROR in display.status
    if ProbeStatus.OUT_OF_RANGE in display.status and not sensor_failed:
        values = {"temperature_c": display.temperature_c}
    elif sensor_failed or display.error_code:
        values = {}
    else:
        return Sample(sensor, "temperature", time_ms, {"temperature_c": display.temperature_c})
    return Sample(sensor, "temperature", time_ms, values, quality="bad")


@register("temperature_modbus", TemperatureModbusConfig)
class TemperatureModbus:
    def __init__(self, config: TemperatureModbusConfig, clock: Clock) -> None:
        self.config, self.clock = config, clock
        self.sensors = ((config.sensor, "temperature"),)
        self._link = ModbusTcpLink(config.host, config.port, config.unit_id, config.timeout_s)
        self._first, self._count = read_range(config.input_registers.layout())

    async def read(self) -> list[Sample]:
        block = await self._link.read_input_registers(self._first, self._count)
        display = decode_probe(block, self._first, self.config.input_registers,
                               self.config.temperature_divisor)
        return [probe_sample(display, self.config.sensor, round(self.clock() * 1000))]

    async def aclose(self) -> None:
        await self._link.aclose()
