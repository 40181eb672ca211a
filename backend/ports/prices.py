"""Ports of the market side: where quotes come from (price sources) and where the guarded
marks are kept, with the records that cross them.

A source only reports quotes; it never writes a mark. Every quote goes through
`backend.services.prices.PriceService.submit`, which guards it and writes the mark the
monitor's core then judges (outliers held, staleness). Two shapes of source:

- polled (`poll(now_s)` returns the quotes available now): HTTP JSON, CSV replay, simulated;
- pushed (`start(emit)` / `stop()`): the MQTT price topic.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Protocol, Sequence, Union, runtime_checkable

from backend.domain.observations import PriceTick


class PriceSourceError(Exception):
    """A source could not produce quotes (the vendor is down, the file is wrong)."""


@dataclass(frozen=True, slots=True)
class PriceQuote:
    commodity: str
    price: Decimal                             # per `per` unit, in `currency`; may be NaN here
    currency: str
    per: str
    at_s: float


@dataclass(frozen=True, slots=True)
class FxQuote:
    base: str                                  # 1 base = `rate` quote
    quote: str
    rate: Decimal
    at_s: float


Quote = Union[PriceQuote, FxQuote]
Emit = Callable[[Quote, str], None]            # (quote, source name)


def parse_pair(pair: str) -> tuple[str, str]:
    """`BASE/QUOTE` as (base, quote); ValueError unless both are ISO currency codes."""
    base, _, quote = pair.partition("/")
    if len(base) != 3 or len(quote) != 3 or not (base + quote).isalpha() or not (base + quote).isupper():
        raise ValueError(f"an FX pair is written BASE/QUOTE in ISO codes, e.g. USD/CNY; got {pair!r}")
    return base, quote


@runtime_checkable
class PolledSource(Protocol):
    name: str
    interval_s: float

    def poll(self, now_s: float) -> Sequence[Quote]:
        """The quotes available now; PriceSourceError when there are none to be had."""


@runtime_checkable
class PushedSource(Protocol):
    name: str

    def start(self, emit: Emit) -> None: ...

    def stop(self) -> None: ...


PriceSource = Union[PolledSource, PushedSource]


@dataclass(frozen=True)
class FxMark:
    base: str
    quote: str
    rate: Decimal
    at_s: float


class PriceMarkStore(Protocol):
    """Price and FX marks: the history, in order of arrival (the monitor reads by id).
    Only `backend.services.prices.PriceService` writes here: it is the guard."""

    def add(self, tick: PriceTick, source: str) -> int:
        """The mark's id; ids grow in the order of arrival."""

    def after(self, mark_id: int) -> list[tuple[int, PriceTick]]: ...

    def latest(self, commodity_id: str) -> PriceTick | None:
        """The newest mark of a commodity by quote time (not necessarily accepted by the core)."""

    def history(self, commodity_id: str, from_s: float, to_s: float,
                limit: int) -> list[tuple[PriceTick, str]]:
        """(mark, source) with from_s <= at_s < to_s, oldest first."""

    def closes(self, commodity_id: str, instants: Sequence[float]) -> list[PriceTick | None]:
        """Per instant, the newest mark quoted before it (None before the first): a price
        series at fixed times (the stress tests' daily closes)."""

    def add_fx(self, mark: FxMark, source: str) -> int: ...

    def fx_after(self, mark_id: int) -> list[tuple[int, FxMark]]: ...

    def latest_fx(self, base: str, quote: str) -> FxMark | None: ...
