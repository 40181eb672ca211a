"""Naming conventions shared by the registry, the scenario world and the simulators:
the sensor ids of a lot and the EPCs of its simulated tags."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class LotSensors:
    scale: str
    rfid: str
    probe: str | None


def lot_sensors(lot_id: str, has_probe: bool) -> LotSensors:
    return LotSensors(f"{lot_id}-scale", f"{lot_id}-rfid", f"{lot_id}-temp" if has_probe else None)


def epc_prefix(lot_id: str) -> str:
    """Hex prefix of the simulated tags of a lot (uppercase, as firmware_sim.models.Lot takes it)."""
    return hashlib.sha256(lot_id.encode()).hexdigest()[:8].upper()


def simulated_epcs(lot_id: str, count: int) -> list[str]:
    """The EPCs firmware_sim gives a lot's items, lowercase as they travel on the wire."""
    prefix = epc_prefix(lot_id)
    return [f"{prefix}{n:0{24 - len(prefix)}X}".lower() for n in range(count)]
