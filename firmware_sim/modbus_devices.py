"""Simulated Modbus TCP devices: a weighing indicator and a temperature probe.

Each device is one pymodbus async server on its own port, serving the register
map of docs/modbus-devices.md. Registers are recomputed from the physical model
(firmware_sim.models) on every read, at the time given by the injected clock.

Faults, at run time:
- sensor faults (stuck / drift / dead) are the model's: `device.model.inject(Fault(...))`;
  end one by setting its `end_s`. A dead sensor leaves the device answering, with
  its error bit and error code set (as a real indicator shows a lost load cell);
- a power cut is the device's: `await device.power_cut()` closes the listener and
  every connection (a request in flight gets no answer, new connects are refused);
  `await device.power_restore()` listens again on the same port.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from edge.modbus_map import (
    ProbeError,
    ProbeInput,
    ProbeStatus,
    ScaleCoil,
    ScaleError,
    ScaleInput,
    ScaleStatus,
    int16_to_register,
    int32_to_registers,
    kg_to_counts,
)
from firmware_sim.models import Clock, ScaleModel, TemperatureModel

READ_COILS, READ_INPUT_REGISTERS, WRITE_COIL, WRITE_COILS = 1, 4, 5, 15
SCALE_INPUT_COUNT = 7  # registers 0..6 of the scale map
PROBE_INPUT_COUNT = 3  # registers 0..2 of the probe map
UNDERLOAD_FRACTION = 0.02  # gross below -2 % of capacity reads as underload
PROBE_OPEN_CIRCUIT_REGISTER = 0x7FFF  # temperature register while the sensor is open
COMMAND_COILS = frozenset(ScaleCoil)


def _register_blocks(input_register_count: int) -> tuple[list[SimData], ...]:
    """Separate coil / discrete input / holding / input blocks, as pymodbus wants them.

    pymodbus requires every block to exist; the access hook refuses the
    function codes a device does not implement.
    """
    return (
        [SimData(0, count=16, values=False, datatype=DataType.BITS)],
        [SimData(0, count=16, values=False, datatype=DataType.BITS)],
        [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)],
        [SimData(0, count=input_register_count, values=0, datatype=DataType.REGISTERS)],
    )


class _ModbusTcpDevice(ABC):
    """One pymodbus TCP server per device, with a power switch."""

    def __init__(self, host: str, port: int, unit_id: int, input_register_count: int) -> None:
        self.host = host
        self.port = port  # the bound port once started (0 asks for a free one)
        self._simdevice = SimDevice(unit_id, simdata=_register_blocks(input_register_count),
                                    action=self._on_access)
        self._server: ModbusTcpServer | None = None

    @property
    def powered(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("device already started")
        server = ModbusTcpServer(self._simdevice, address=(self.host, self.port))
        await server.serve_forever(background=True)
        self._server = server
        self.port = server.transport.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def power_cut(self) -> None:
        await self.stop()

    async def power_restore(self) -> None:
        await self.start()

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    @abstractmethod
    async def _on_access(self, function_code: int, start_address: int, address: int,
                         count: int, registers: list[int],
                         set_values: list[int] | list[bool] | None) -> ExcCodes | None:
        """Refresh the registers from the model (or act on a command) before pymodbus answers."""


def scale_status(gross_kg: float, previous_gross_kg: float | None, tare_kg: float,
                 capacity_kg: float, motion_band_kg: float) -> ScaleStatus:
    """Status bits of a working indicator; motion is the change since the last reading."""
    status = ScaleStatus(0)
    if previous_gross_kg is None or abs(gross_kg - previous_gross_kg) <= motion_band_kg:
        status |= ScaleStatus.STABLE
    if gross_kg > capacity_kg:
        status |= ScaleStatus.OVERLOAD
    if gross_kg < -UNDERLOAD_FRACTION * capacity_kg:
        status |= ScaleStatus.UNDERLOAD
    if tare_kg != 0.0:
        status |= ScaleStatus.TARE_ACTIVE
    return status


def encode_scale_registers(net_kg: float, gross_kg: float, decimals: int,
                           status: ScaleStatus, error: ScaleError) -> list[int]:
    """Input registers 0..6 of the scale map."""
    words = [0] * SCALE_INPUT_COUNT
    words[ScaleInput.NET_WEIGHT:ScaleInput.NET_WEIGHT + 2] = int32_to_registers(
        kg_to_counts(net_kg, decimals))
    words[ScaleInput.GROSS_WEIGHT:ScaleInput.GROSS_WEIGHT + 2] = int32_to_registers(
        kg_to_counts(gross_kg, decimals))
    words[ScaleInput.DECIMALS] = decimals
    words[ScaleInput.STATUS] = int(status)
    words[ScaleInput.ERROR_CODE] = int(error)
    return words


class SimulatedScale(_ModbusTcpDevice):
    """A weighing indicator on a platform scale (map: docs/modbus-devices.md)."""

    def __init__(self, model: ScaleModel, clock: Clock = time.time, *, host: str = "127.0.0.1",
                 port: int = 0, unit_id: int = 1, capacity_kg: float = 30_000.0,
                 decimals: int = 1, motion_band_kg: float | None = None) -> None:
        super().__init__(host, port, unit_id, SCALE_INPUT_COUNT)
        self.model, self.clock = model, clock
        self.capacity_kg, self.decimals = capacity_kg, decimals
        # Default band: 3 divisions of a 3000-division scale.
        self.motion_band_kg = capacity_kg / 1000 if motion_band_kg is None else motion_band_kg
        self.zero_offset_kg = 0.0
        self.tare_kg = 0.0
        self._previous_gross_kg: float | None = None

    async def _on_access(self, function_code, start_address, address, count, registers,
                         set_values):
        if function_code == READ_INPUT_REGISTERS:
            registers[:SCALE_INPUT_COUNT] = self._input_registers()
            return None
        if function_code == READ_COILS:
            registers[0] = 0  # command coils read back OFF once done
            return None
        if function_code in (WRITE_COIL, WRITE_COILS):
            # pymodbus calls once with the values written, then once to echo them.
            return None if set_values is None else self._run_commands(address, set_values)
        return ExcCodes.ILLEGAL_FUNCTION

    def _gross_kg(self) -> float | None:
        load_kg = self.model.read_kg(self.clock())
        return None if load_kg is None else load_kg - self.zero_offset_kg

    def _input_registers(self) -> list[int]:
        gross_kg = self._gross_kg()
        if gross_kg is None:
            return encode_scale_registers(0.0, 0.0, self.decimals, ScaleStatus.ERROR,
                                          ScaleError.LOAD_CELL_SIGNAL_LOST)
        status = scale_status(gross_kg, self._previous_gross_kg, self.tare_kg,
                              self.capacity_kg, self.motion_band_kg)
        self._previous_gross_kg = gross_kg
        return encode_scale_registers(gross_kg - self.tare_kg, gross_kg, self.decimals,
                                      status, ScaleError.NONE)

    def _run_commands(self, first_coil: int, coil_values: list[bool]) -> ExcCodes | None:
        coils = range(first_coil, first_coil + len(coil_values))
        if not all(coil in COMMAND_COILS for coil in coils):
            return ExcCodes.ILLEGAL_ADDRESS
        for coil, switched_on in zip(coils, coil_values):
            if switched_on and not self._run_command(ScaleCoil(coil)):
                return ExcCodes.DEVICE_FAILURE
        return None

    def _run_command(self, command: ScaleCoil) -> bool:
        """Zero / tare / clear tare at the current load; False if there is no signal."""
        if command is ScaleCoil.CLEAR_TARE:
            self.tare_kg = 0.0
            return True
        gross_kg = self._gross_kg()
        if gross_kg is None:
            return False
        if command is ScaleCoil.ZERO:
            self.zero_offset_kg += gross_kg
            self._previous_gross_kg = None  # the jump to zero is not motion
        else:
            self.tare_kg = gross_kg
        return True


def encode_probe_registers(temperature_c: float | None, low_c: float, high_c: float) -> list[int]:
    """Input registers 0..2 of the probe map (None: the sensor is open circuit)."""
    words = [0] * PROBE_INPUT_COUNT
    if temperature_c is None:
        words[ProbeInput.TEMPERATURE] = PROBE_OPEN_CIRCUIT_REGISTER
        words[ProbeInput.STATUS] = int(ProbeStatus.ERROR)
        words[ProbeInput.ERROR_CODE] = int(ProbeError.SENSOR_OPEN_CIRCUIT)
        return words
    shown_c = min(max(temperature_c, low_c), high_c)
    words[ProbeInput.TEMPERATURE] = int16_to_register(round(shown_c * 100))
    if shown_c != temperature_c:
        words[ProbeInput.STATUS] = int(ProbeStatus.OUT_OF_RANGE)
        words[ProbeInput.ERROR_CODE] = int(ProbeError.OUT_OF_RANGE)
    return words


class SimulatedProbe(_ModbusTcpDevice):
    """A temperature transmitter (map: docs/modbus-devices.md), range low_c..high_c."""

    def __init__(self, model: TemperatureModel, clock: Clock = time.time, *,
                 host: str = "127.0.0.1", port: int = 0, unit_id: int = 1,
                 low_c: float = -50.0, high_c: float = 150.0) -> None:
        super().__init__(host, port, unit_id, PROBE_INPUT_COUNT)
        self.model, self.clock = model, clock
        self.low_c, self.high_c = low_c, high_c

    async def _on_access(self, function_code, start_address, address, count, registers,
                         set_values):
        if function_code != READ_INPUT_REGISTERS:
            return ExcCodes.ILLEGAL_FUNCTION
        temperature_c = self.model.read_c(self.clock())
        registers[:PROBE_INPUT_COUNT] = encode_probe_registers(temperature_c, self.low_c,
                                                               self.high_c)
        return None
