"""Device drivers, registered by name (the Telegraf pattern).

A driver turns one device into readings. Each driver module declares a pydantic
config model and registers a factory:

    @register("scale_modbus", ScaleModbusConfig)
    class ScaleModbus:
        def __init__(self, config: ScaleModbusConfig, clock: Clock): ...
        async def read(self) -> list[Sample]: ...   # one sampling round
        async def aclose(self) -> None: ...

The agent calls `read()` on the driver's own schedule; blocking I/O belongs in
`asyncio.to_thread` inside the driver so it never stalls the agent's loop.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from pydantic import BaseModel, ValidationError

# Drivers shipped with the agent -> the module that registers each. Imported only when
# a config names the driver, so a gateway loads only the libraries it uses.
BUILTIN_DRIVERS = {
    "sim_lot": "edge.drivers.simulated",
    "scale_modbus": "edge.drivers.scale_modbus",
    "temperature_modbus": "edge.drivers.temperature_modbus",
    "rfid_llrp": "edge.drivers.rfid_llrp",
}


# Short codes a DriverError carries into the `error` field of the `bad` reading it becomes.
DRIVER_ERROR_CODES = ("unreachable", "device_exception", "bad_response", "no_rounds", "driver_error")


class DriverError(Exception):
    """A device misbehaved or could not be reached (not a bug of ours).

    The agent turns it into a `bad` reading of each of the driver's `sensors`, with
    `code` as its `error`: the backend sees a sensor fault, never an empty scale.
    """

    def __init__(self, message: str, code: str = "driver_error") -> None:
        assert code in DRIVER_ERROR_CODES, code
        super().__init__(message)
        self.code = code


class DriverConfigError(ValueError):
    """A driver's config block is wrong; the message names the field."""


@dataclass(frozen=True)
class Sample:
    """One measurement as a driver reports it, before batching and signing."""

    sensor: str
    kind: str  # one of edge.protocol.READING_KINDS
    time_ms: int  # device time, ms since the Unix epoch
    values: dict[str, Any] = field(default_factory=dict)
    quality: str = "good"
    error: str | None = None  # the device's own error code, when it reports one


class Driver(Protocol):
    # (sensor id, reading kind) of what this driver reports: where a DriverError goes.
    sensors: tuple[tuple[str, str], ...]

    async def read(self) -> list[Sample]: ...

    async def aclose(self) -> None: ...


Clock = Callable[[], float]  # seconds since the Unix epoch


@dataclass(frozen=True)
class _Entry:
    factory: Callable[..., Driver]
    config_model: type[BaseModel]
    version: str


_REGISTRY: dict[str, _Entry] = {}


def register(name: str, config_model: type[BaseModel], version: str = "1.0"):
    """`version` is reported in the gateway's birth message: bump it when behaviour changes."""
    def decorate(factory):
        if name in _REGISTRY:
            raise RuntimeError(f"driver {name!r} registered twice")
        _REGISTRY[name] = _Entry(factory, config_model, version)
        return factory

    return decorate


def _load(name: str) -> None:
    if name not in _REGISTRY and name in BUILTIN_DRIVERS:
        importlib.import_module(BUILTIN_DRIVERS[name])


def driver_names() -> list[str]:
    return sorted(BUILTIN_DRIVERS.keys() | _REGISTRY.keys())


def parse_driver_config(name: str, raw: dict[str, Any]) -> BaseModel:
    """Validate one driver block; errors name the driver and the field."""
    _load(name)
    if name not in _REGISTRY:
        raise DriverConfigError(f"unknown driver {name!r} (known: {', '.join(driver_names())})")
    try:
        return _REGISTRY[name].config_model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(block)"
        raise DriverConfigError(f"driver {name}: {where}: {first['msg']}") from exc


def driver_version(name: str) -> str:
    _load(name)
    return _REGISTRY[name].version


def create_driver(name: str, config: BaseModel, clock: Clock) -> Driver:
    _load(name)
    return _REGISTRY[name].factory(config, clock)
