"""Physical models of the things a warehouse gateway measures.

Pure and deterministic: each model takes `now_s` (seconds) and a seeded
`random.Random`, never reads a clock. The simulated devices (in-process for the
demo, Modbus/LLRP servers for the device simulator) and the scenario runner all
sample these same models.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Callable, Iterable

FAULT_MODES = ("stuck", "dead", "drift")
# What a simulated device samples its model at: seconds since the Unix epoch (time.time, or a test's).
Clock = Callable[[], float]


@dataclass
class Fault:
    """A sensor fault active in [start_s, end_s); `drift` grows 1 % of reading per hour."""

    mode: str
    start_s: float
    end_s: float = math.inf

    def __post_init__(self) -> None:
        if self.mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}; expected one of {FAULT_MODES}")

    def active(self, now_s: float) -> bool:
        return self.start_s <= now_s < self.end_s


@dataclass
class TaggedItem:
    epc: str  # 24 hex digits (EPC-96)
    weight_kg: float


@dataclass
class Lot:
    """What physically sits on one scale under one reader."""

    items: dict[str, TaggedItem] = field(default_factory=dict)
    tare_kg: float = 0.0
    # Weight that vanished while every tag stayed (goods swapped for filler).
    missing_fraction: float = 0.0

    @classmethod
    def of_items(cls, epc_prefix: str, count: int, item_weight_kg: float) -> "Lot":
        items = {}
        for n in range(count):
            epc = f"{epc_prefix}{n:0{24 - len(epc_prefix)}X}"
            items[epc] = TaggedItem(epc, item_weight_kg)
        return cls(items=items)

    def remove(self, count: int) -> list[str]:
        """Take `count` items off the lot (highest EPCs first); returns their EPCs."""
        gone = sorted(self.items)[-count:] if count > 0 else []
        for epc in gone:
            del self.items[epc]
        return gone

    def take(self, epcs: Iterable[str]) -> list[str]:
        """Take exactly these items off the lot; returns the EPCs that were on it."""
        return [epc for epc in epcs if self.items.pop(epc, None) is not None]

    def goods_weight_kg(self) -> float:
        return sum(item.weight_kg for item in self.items.values()) * (1.0 - self.missing_fraction)


def round_hundredths(value: float) -> float:
    """round(value, 2), the same float, without its decimal-string round trip where that is
    not needed: away from a half-hundredth, the nearest hundredth is the integer nearest to
    value × 100 (whose error, below 1e-7 under 1e9, cannot cross a half), divided by 100
    (IEEE division rounds it to the nearest float, as round's string conversion does)."""
    scaled = value * 100.0
    if abs(scaled) < 1e9:
        nearest = round(scaled)
        if nearest and abs(abs(scaled - nearest) - 0.5) > 1e-6:
            return nearest / 100.0
    return round(value, 2)                     # near a tie, at zero (keeps -0.0), or huge


class _FaultableSensor:
    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self._last: float | None = None

    def inject(self, fault: Fault) -> None:
        self.faults.append(fault)

    def _apply_faults(self, now_s: float, true_value: float) -> float | None:
        """Return what the sensor reports given the true value (None: it is dead)."""
        if not self.faults:                    # the usual case, read at every step
            self._last = true_value
            return true_value
        for fault in self.faults:
            if not fault.active(now_s):
                continue
            if fault.mode == "dead":
                return None
            if fault.mode == "stuck" and self._last is not None:
                return self._last
            if fault.mode == "drift":
                hours = (now_s - fault.start_s) / 3600.0
                true_value = true_value * (1.0 + 0.01 * hours)
        self._last = true_value
        return true_value


class ScaleModel(_FaultableSensor):
    """A platform scale: load = tare + goods, relative Gaussian noise, slow creep."""

    def __init__(self, lot: Lot, rng: random.Random, sigma: float = 0.0005,
                 creep_kg_per_h: float = 0.0, resolution_kg: float = 0.1,
                 noise: Callable[[], float] | None = None) -> None:
        super().__init__()
        self.lot, self.rng, self.sigma = lot, rng, sigma
        self.creep_kg_per_h, self.resolution_kg = creep_kg_per_h, resolution_kg
        # One reading's relative noise: rng.gauss(0, sigma), unless drawn some other way.
        self.noise = noise or self._gauss

    def _gauss(self) -> float:
        return self.rng.gauss(0.0, self.sigma)

    def read_kg(self, now_s: float) -> float | None:
        load = self.lot.tare_kg + self.lot.goods_weight_kg() + self.creep_kg_per_h * now_s / 3600.0
        noisy = load * (1.0 + self.noise())
        reported = self._apply_faults(now_s, noisy)
        if reported is None:
            return None
        return max(0.0, round(reported / self.resolution_kg) * self.resolution_kg)


class TemperatureModel(_FaultableSensor):
    """First-order thermal response toward a setpoint, with Gaussian probe noise."""

    def __init__(self, setpoint_c: float, rng: random.Random, sigma_c: float = 0.2,
                 time_constant_s: float = 600.0,
                 noise: Callable[[], float] | None = None) -> None:
        super().__init__()
        self.setpoint_c, self.rng, self.sigma_c = setpoint_c, rng, sigma_c
        self.time_constant_s = time_constant_s
        self._temperature_c = setpoint_c
        self._at_s: float | None = None
        # One reading's noise: rng.gauss(0, sigma_c), unless drawn some other way.
        self.noise = noise or self._gauss

    def _gauss(self) -> float:
        return self.rng.gauss(0.0, self.sigma_c)

    def set_setpoint(self, setpoint_c: float) -> None:
        self.setpoint_c = setpoint_c

    def read_c(self, now_s: float) -> float | None:
        if self._at_s is not None and now_s > self._at_s:
            alpha = 1.0 - math.exp(-(now_s - self._at_s) / self.time_constant_s)
            self._temperature_c += (self.setpoint_c - self._temperature_c) * alpha
        self._at_s = now_s
        noisy = self._temperature_c + self.noise()
        reported = self._apply_faults(now_s, noisy)
        return None if reported is None else round_hundredths(reported)


@dataclass(frozen=True)
class TagRead:
    epc: str
    antenna: int
    rssi_dbm: int
    seen_count: int


class RfidModel:
    """A fixed reader: each present tag is read in a round with probability `read_rate`."""

    def __init__(self, lot: Lot, rng: random.Random, read_rate: float = 0.97,
                 antennas: int = 1) -> None:
        self.lot, self.rng, self.read_rate, self.antennas = lot, rng, read_rate, antennas
        self.extra_epcs: set[str] = set()  # foreign tags also in range (cloned tags)
        self.unreadable_epcs: set[str] = set()  # tags lost or damaged: goods present, never read
        self.dead_until_s: float = -math.inf
        self.dead_from_s: float = math.inf

    def inventory_round(self, now_s: float) -> list[TagRead] | None:
        """One inventory round; None when the reader is dead."""
        if self.dead_from_s <= now_s < self.dead_until_s:
            return None
        reads = []
        for epc in sorted((set(self.lot.items) | self.extra_epcs) - self.unreadable_epcs):
            if self.rng.random() < self.read_rate:
                antenna = 1 + self.rng.randrange(self.antennas)
                rssi = int(round(self.rng.gauss(-58.0, 4.0)))
                reads.append(TagRead(epc, antenna, rssi, 1 + self.rng.randrange(3)))
        return reads
