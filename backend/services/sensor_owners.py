"""Which gateway a sensor belongs to, from the registry: ingest refuses a reading of a sensor
registered under another gateway, and the monitor reports such a message as tampering on the
sender and on the sensor's own gateway."""
from __future__ import annotations

import time
from typing import Callable, Mapping

import orjson

from backend.domain.registry import Registry
from backend.ports.ingest import UntrustedMessage


class RegistrySensorOwners:
    """The registry's sensors by gateway, re-read at most every `refresh_s`: ingest asks for
    every message, and a registry read costs a database round trip."""

    def __init__(self, snapshot: Callable[[], Registry], refresh_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.snapshot, self.refresh_s, self.clock = snapshot, refresh_s, clock
        self._registry: Registry | None = None
        self._owners: dict[str, str] = {}
        self._next_s = float("-inf")

    def owners(self, sensors: set[str]) -> Mapping[str, str]:
        now_s = self.clock()
        if now_s >= self._next_s:
            self._next_s = now_s + self.refresh_s
            registry = self.snapshot()
            if registry is not self._registry:
                self._registry = registry
                self._owners = {s.id: s.gateway_id for s in registry.sensors.values()}
        return {sensor: self._owners[sensor] for sensor in sensors if sensor in self._owners}


def implicated_gateways(message: UntrustedMessage, registry: Registry) -> set[str]:
    """The sender, and for foreign sensors the gateway each of them belongs to."""
    gateways = {message.gateway}
    if message.reason == "foreign_sensor":
        readings = orjson.loads(message.payload).get("readings", ())  # it decoded once already
        gateways |= {registry.sensors[r["sensor"]].gateway_id for r in readings
                     if r.get("sensor") in registry.sensors}
    return gateways
