"""Shared pieces of the Modbus TCP drivers: one read plan, a device's config and one link.

The register map itself and its encodings are edge/modbus_map.py (docs/modbus-devices.md).
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ConfigDict, Field
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU

from edge.drivers import DriverError

# A Modbus read of registers carries at most 125 of them (spec, FC03/FC04).
MAX_REGISTERS_PER_READ = 125


def read_range(registers: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """(first address, count) of the one read that covers every named register.

    `registers` maps a name to (address, width in registers). Raises ValueError
    naming the culprit when two overlap or when they do not fit in one read.
    """
    owner_by_address: dict[int, str] = {}
    for name, (address, width) in registers.items():
        for taken in range(address, address + width):
            if taken in owner_by_address:
                raise ValueError(f"{name} overlaps {owner_by_address[taken]} at register {taken}")
            owner_by_address[taken] = name
    first, last = min(owner_by_address), max(owner_by_address)
    count = last - first + 1
    if count > MAX_REGISTERS_PER_READ:
        raise ValueError(f"registers {first}..{last} span {count} addresses; "
                         f"one Modbus read carries at most {MAX_REGISTERS_PER_READ}")
    return first, count


class ModbusDeviceConfig(BaseModel):
    """Where a Modbus TCP device answers, and which sensor id its readings carry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensor: str = Field(min_length=1)
    host: str = Field(min_length=1)
    port: int = Field(502, ge=1, le=65535)
    unit_id: int = Field(1, ge=0, le=255)  # Modbus unit (slave) id
    timeout_s: float = Field(1.0, gt=0, le=60)  # per request, connect included


class ModbusTcpLink:
    """One Modbus TCP device behind pymodbus's async client.

    Every call is bounded by `timeout_s` (connect included). A failed call drops
    the connection, so the next call connects afresh; pymodbus's own background
    reconnect is switched off to keep that decision here.
    """

    def __init__(self, host: str, port: int, unit_id: int, timeout_s: float) -> None:
        self.host, self.port, self.unit_id, self.timeout_s = host, port, unit_id, timeout_s
        self._client: AsyncModbusTcpClient | None = None

    async def read_input_registers(self, address: int, count: int) -> list[int]:
        response = await self._call(
            lambda client: client.read_input_registers(address, count=count, device_id=self.unit_id))
        if len(response.registers) != count:
            raise DriverError(f"modbus device {self.host}:{self.port} sent "
                              f"{len(response.registers)} registers, asked for {count}", "bad_response")
        return list(response.registers)

    async def write_coil(self, address: int, value: bool) -> None:
        await self._call(
            lambda client: client.write_coil(address, value, device_id=self.unit_id))

    async def aclose(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _call(self, request: Callable[[AsyncModbusTcpClient], Awaitable[ModbusPDU]]) -> ModbusPDU:
        try:
            async with asyncio.timeout(self.timeout_s):
                client = await self._connected_client()
                response = await request(client)
        except (TimeoutError, OSError, ModbusException) as exc:
            await self.aclose()
            raise DriverError(f"modbus device {self.host}:{self.port} unreachable: {exc!r}",
                              "unreachable") from exc
        if response.isError():
            raise DriverError(f"modbus device {self.host}:{self.port} answered "
                              f"exception code {response.exception_code}", "device_exception")
        return response

    async def _connected_client(self) -> AsyncModbusTcpClient:
        if self._client is not None and self._client.connected:
            return self._client
        await self.aclose()
        client = AsyncModbusTcpClient(self.host, port=self.port, timeout=self.timeout_s,
                                      retries=0, reconnect_delay=0)
        if not await client.connect():
            client.close()
            raise ConnectionRefusedError(f"cannot connect to {self.host}:{self.port}")
        self._client = client
        return client
