"""The Modbus register map of the weighing indicator and the temperature probe, and its encodings.

docs/modbus-devices.md documents it; the names below mirror it. Pure (standard library):
the drivers (edge/drivers/scale_modbus.py, temperature_modbus.py) read it and the simulated
devices (firmware_sim/modbus_devices.py) serve it, byte for byte the same.
"""
from __future__ import annotations

import enum
import struct


class ScaleInput(enum.IntEnum):
    """Input registers (FC04) of the weighing indicator: default addresses."""

    NET_WEIGHT = 0  # int32, 2 registers, high word first, in units of 10**-decimals kg
    GROSS_WEIGHT = 2  # int32, same encoding
    DECIMALS = 4  # uint16, digits after the decimal point of both weights
    STATUS = 5  # uint16, ScaleStatus bits
    ERROR_CODE = 6  # uint16, ScaleError


class ScaleCoil(enum.IntEnum):
    """Coils (FC05 write ON): commands that run once and read back OFF."""

    ZERO = 0
    TARE = 1
    CLEAR_TARE = 2


class ScaleStatus(enum.IntFlag):
    STABLE = 1 << 0
    OVERLOAD = 1 << 1
    UNDERLOAD = 1 << 2
    ERROR = 1 << 3
    TARE_ACTIVE = 1 << 4


class ScaleError(enum.IntEnum):
    NONE = 0
    LOAD_CELL_SIGNAL_LOST = 1


class ProbeInput(enum.IntEnum):
    """Input registers (FC04) of the temperature probe: default addresses."""

    TEMPERATURE = 0  # int16, °C x 100
    STATUS = 1  # uint16, ProbeStatus bits
    ERROR_CODE = 2  # uint16, ProbeError


class ProbeStatus(enum.IntFlag):
    ERROR = 1 << 0
    OUT_OF_RANGE = 1 << 1


class ProbeError(enum.IntEnum):
    NONE = 0
    SENSOR_OPEN_CIRCUIT = 1
    OUT_OF_RANGE = 2


def int32_to_registers(value: int) -> list[int]:
    """Signed 32-bit value as two registers, high word first (Modbus big-endian)."""
    high, low = struct.unpack(">HH", struct.pack(">i", value))
    return [high, low]


def registers_to_int32(registers: list[int]) -> int:
    return struct.unpack(">i", struct.pack(">HH", registers[0], registers[1]))[0]


def int16_to_register(value: int) -> int:
    return struct.unpack(">H", struct.pack(">h", value))[0]


def register_to_int16(register: int) -> int:
    return struct.unpack(">h", struct.pack(">H", register))[0]


def kg_to_counts(weight_kg: float, decimals: int) -> int:
    """Weight as the indicator's integer display counts (0.1 kg steps for decimals=1)."""
    return round(weight_kg * 10**decimals)


def counts_to_kg(counts: int, decimals: int) -> float:
    return round(counts / 10**decimals, decimals)
