"""Simulated devices of a scenario, built on the physical models of `firmware_sim.models`.

Each lot has a scale, a temperature probe and an RFID reader, each with its own seeded
`random.Random`, so a run is reproducible. Each gateway has an outbox that keeps
readings while it is offline and replays them, in order, when it returns.
"""
from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy

from backend.domain.observations import GatewayMessage, LotSample, RfidRound
from firmware_sim.models import Fault, Lot, RfidModel, ScaleModel, TemperatureModel

# Builds a round or a sample from all its fields, without the NamedTuple's Python-level
# __new__: one of each per lot per step.
_new = tuple.__new__


class WeighedLot(Lot):
    """`Lot` that remembers its goods weight until items leave or contents change (the
    scale reads it every step; summing every item each time dominated the run time)."""

    _weighed: tuple[int, float] = (-1, 0.0)   # (items, missing fraction) it was weighed at
    _weight_kg: float = 0.0

    def goods_weight_kg(self) -> float:
        items, fraction = self._weighed
        if items != len(self.items) or fraction != self.missing_fraction:
            self._weighed = (len(self.items), self.missing_fraction)
            self._weight_kg = super().goods_weight_kg()
        return self._weight_kg


def gauss_noise(rng: random.Random, sigma: float, block: int = 1024) -> Callable[[], float]:
    """What `rng.gauss(0.0, sigma)` would return call after call, the very same floats,
    computed a block at a time, for a device whose `rng` draws nothing else (it is left as
    it was). numpy's MT19937 started from the state of `rng` draws the same uniforms as
    `rng.random`, and each block applies CPython's Box–Muller transform to them with the
    C library's cos, sin and log (numpy's own may differ in the last bit)."""
    _, words, pending = rng.getstate()
    bits = numpy.random.MT19937()
    bits.state = {"bit_generator": "MT19937",
                  "state": {"key": numpy.array(words[:-1], dtype=numpy.uint32),
                            "pos": words[-1]}}
    uniform = numpy.random.Generator(bits)

    def blocks() -> Iterator[list[float]]:
        if pending is not None:                # the second half of a pair rng had drawn
            yield [0.0 + pending * sigma]
        while True:
            u = uniform.random(block)
            x2pi = (u[0::2] * random.TWOPI).tolist()
            radius = numpy.sqrt(-2.0 * numpy.array(list(map(math.log, (1.0 - u[1::2]).tolist()))))
            z = numpy.empty(block)
            z[0::2] = numpy.array(list(map(math.cos, x2pi))) * radius
            z[1::2] = numpy.array(list(map(math.sin, x2pi))) * radius
            yield (0.0 + z * sigma).tolist()

    return itertools.chain.from_iterable(blocks()).__next__


class SampledReader(RfidModel):
    """`RfidModel` with the same odds, drawn in bulk: the number of missed tags in a round is
    binomial and which ones are missed is uniform, which is exactly independent per-tag reads
    at `read_rate`, at a fraction of the cost. Faults: `dead` (no round) and `stuck` (the last
    round repeated, reader timestamp included).

    Tags of `order` (the registry's EPC order of the lot) are reported as bits, any other
    (a cloned tag, or every tag when no order is given) by name. A round that misses one
    named tag keeps its set of names, one per missed tag, so such rounds share their sets."""

    def __init__(self, lot: Lot, rng: random.Random, read_rate: float,
                 order: tuple[str, ...] = ()) -> None:
        super().__init__(lot, rng, read_rate)
        self.faults: list[Fault] = []
        self.order = order
        self._bit_of = {epc: 1 << n for n, epc in enumerate(order)}
        self._in_range: tuple[str, ...] | None = None
        self._tag_bits: tuple[int, ...] = ()   # per tag in range: its bit, 0 when named
        self._all_named: frozenset[str] = frozenset()
        self._all_bits = 0
        self._cumulative: list[float] = []
        self._miss_odds: dict[int, list[float]] = {}
        self._all_but: dict[str, frozenset[str]] = {}
        self._last: RfidRound | None = None

    def changed(self) -> None:
        """Tags left or joined the reader's field."""
        self._in_range = None
        self._all_but = {}

    def _cumulative_misses(self, tags: int) -> list[float]:
        """P(misses ≤ k) for k = 0..tags, cached per tag count."""
        if tags not in self._miss_odds:
            miss = 1.0 - self.read_rate
            odds = [math.comb(tags, k) * miss ** k * self.read_rate ** (tags - k)
                    for k in range(tags + 1)]
            cumulative = [sum(odds[:k + 1]) for k in range(tags + 1)]
            cumulative[-1] = math.inf          # certain: the float sum may fall short of 1
            self._miss_odds[tags] = cumulative
        return self._miss_odds[tags]

    def _in_field(self) -> None:
        """Which tags the reader sees now, and how each is reported (bit, or name)."""
        self._in_range = tuple(sorted(set(self.lot.items) | self.extra_epcs))
        self._tag_bits = tuple(self._bit_of.get(tag, 0) for tag in self._in_range)
        self._all_named = frozenset(tag for tag, bit in zip(self._in_range, self._tag_bits)
                                    if not bit)
        self._all_bits = sum(self._tag_bits)
        self._cumulative = self._cumulative_misses(len(self._in_range))

    def _read(self) -> tuple[frozenset[str], int]:
        """(EPCs read by name, bits read) in one fault-free round."""
        if self._in_range is None:
            self._in_field()
        tags, rng = self._in_range, self.rng
        missed = bisect.bisect_left(self._cumulative, rng.random())
        if missed == 0:
            return self._all_named, self._all_bits
        if missed == 1:
            # What rng.sample(tags, 1) draws, the same one call into the stream, without
            # its general-purpose setup (CPython's sample picks population[_randbelow(n)]).
            index = rng._randbelow(len(tags))
            if self._tag_bits[index]:
                return self._all_named, self._all_bits & ~self._tag_bits[index]
            tag = tags[index]
            if tag not in self._all_but:
                self._all_but[tag] = self._all_named - {tag}
            return self._all_but[tag], self._all_bits
        bits, gone = self._all_bits, []
        for index in self._pick(len(tags), missed):
            if self._tag_bits[index]:
                bits &= ~self._tag_bits[index]
            else:
                gone.append(tags[index])
        return (self._all_named.difference(gone) if gone else self._all_named), bits

    def _pick(self, tags: int, count: int) -> list[int]:
        """The indexes rng.sample(range(tags), count) draws, with the same calls into the
        stream (as sampling the tags themselves). For more than 21 tags and up to 5 picks,
        CPython's sample draws _randbelow(n) until it has `count` distinct indexes; other
        cases are left to it."""
        if tags <= 21 or count > 5:
            return self.rng.sample(range(tags), count)
        randbelow, picked = self.rng._randbelow, set()
        while len(picked) < count:
            picked.add(randbelow(tags))
        return list(picked)

    def read_round(self, now_s: float) -> RfidRound | None:
        if self.faults:
            mode = next((f.mode for f in self.faults if f.active(now_s)), None)
            if mode == "dead":
                return None
            if mode == "stuck" and self._last is not None:
                return self._last
        named, bits = self._read()
        self._last = _new(RfidRound, (named, now_s, bits, self.order))
        return self._last


@dataclass(slots=True)
class SimLot:
    lot_id: str
    goods: Lot
    scale: ScaleModel
    probe: TemperatureModel
    reader: SampledReader
    normal_c: float
    # (start_s, end_s, temperature_c): the lot's temperature is forced there meanwhile.
    excursions: list[tuple[float, float, float]] = field(default_factory=list)

    def sample(self, now_s: float, device_s: float) -> LotSample:
        setpoint = next((c for start, end, c in self.excursions if start <= now_s < end),
                        self.normal_c) if self.excursions else self.normal_c
        if setpoint != self.probe.setpoint_c:
            self.probe.set_setpoint(setpoint)
        return _new(LotSample, (self.lot_id, device_s, self.reader.read_round(device_s),
                                self.scale.read_kg(now_s), self.probe.read_c(now_s)))


@dataclass(slots=True)
class SimGateway:
    gateway_id: str
    lots: list[SimLot]
    offline: list[tuple[float, float]] = field(default_factory=list)
    tampered: list[tuple[float, float]] = field(default_factory=list)
    forged: list[tuple[float, float, int]] = field(default_factory=list)  # (from, to, per report)
    skews: list[tuple[float, float, float]] = field(default_factory=list)
    outbox: list[GatewayMessage] = field(default_factory=list)

    @staticmethod
    def _during(spans: list[tuple[float, float]], now_s: float) -> bool:
        return any(start <= now_s < end for start, end in spans)

    def report(self, now_s: float) -> list[GatewayMessage]:
        """Sample every lot; returns what reaches the backend now."""
        device_s = now_s + sum(o for start, end, o in self.skews if start <= now_s < end)
        samples = tuple([lot.sample(now_s, device_s) for lot in self.lots])
        signed = not self._during(self.tampered, now_s)
        message = GatewayMessage(self.gateway_id, device_s, now_s, signed, samples)
        if self._during(self.offline, now_s):
            self.outbox.append(message)
            return []
        backlog = [GatewayMessage(m.gateway_id, m.sent_at_s, now_s, m.signature_ok, m.samples)
                   for m in self.outbox]
        self.outbox.clear()
        return [*backlog, message, *self._forgeries(now_s)]

    def _forgeries(self, now_s: float) -> list[GatewayMessage]:
        """What a forger with the MQTT login sends: every lot empty, signatures failing."""
        count = sum(n for start, end, n in self.forged if start <= now_s < end)
        if not count:
            return []
        empty = tuple(LotSample(lot.lot_id, now_s, RfidRound(frozenset(), now_s), 0.0)
                      for lot in self.lots)
        return [GatewayMessage(self.gateway_id, now_s, now_s, False, empty)] * count


def device_rng(seed: int, lot_id: str, device: str) -> random.Random:
    """One independent, reproducible stream per device (string seeds hash stably)."""
    return random.Random(f"{seed}/{lot_id}/{device}")
