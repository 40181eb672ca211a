"""Simulated market: a random walk with occasional jumps, continuing from the latest mark.

Each poll starts from the latest price the book holds for the commodity (so a manual
mark by an admin, or a crash, is where the walk carries on) and moves it by a
log-normal step with `volatility_per_sqrt_day`; with `jump_probability` a jump of
±`jump_fraction` is added. `shock(fraction)` schedules one move for the next poll (the
demo's "crash" button; tests use it too).
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Callable

import numpy as np

from backend.ports.prices import PriceQuote, Quote

DAY_S = 86_400.0
_CENT = Decimal("0.01")


class SimulatedSource:
    def __init__(self, name: str, commodity: str, currency: str, per: str, *,
                 latest_price: Callable[[str], Decimal | None], start_price: Decimal | None,
                 interval_s: float = 5.0, volatility_per_sqrt_day: float = 0.02,
                 jump_probability: float = 0.0, jump_fraction: float = 0.1, seed: int | None = None) -> None:
        self.name, self.commodity, self.currency, self.per = name, commodity, currency, per
        self.latest_price, self.start_price, self.interval_s = latest_price, start_price, interval_s
        self.volatility, self.jump_probability, self.jump_fraction = (
            volatility_per_sqrt_day, jump_probability, jump_fraction)
        self.rng = np.random.default_rng(seed)
        self._last_s: float | None = None
        self._shock: float | None = None

    def shock(self, fraction: float) -> None:
        """Move the price by `fraction` (−0.3: a 30 % crash) at the next poll."""
        self._shock = fraction

    def poll(self, now_s: float) -> list[Quote]:
        previous = self.latest_price(self.commodity) or self.start_price
        if previous is None:
            return []  # nothing to continue from yet: a manual mark or a start price starts it
        elapsed_s = self.interval_s if self._last_s is None else max(now_s - self._last_s, 0.0)
        self._last_s = now_s
        if self._shock is not None:
            factor, self._shock = 1 + self._shock, None
        else:
            factor = math.exp(self.volatility * math.sqrt(elapsed_s / DAY_S) * self.rng.standard_normal())
            if self.rng.random() < self.jump_probability:  # a Python float: numpy's repr is "np.float64(…)"
                factor *= 1 + self.jump_fraction * float(self.rng.choice((-1.0, 1.0)))
        price = (previous * Decimal(repr(factor))).quantize(_CENT)
        return [PriceQuote(self.commodity, max(price, _CENT), self.currency, self.per, now_s)]
