"""Price sources: where market prices and FX rates come from (the `PriceSource` port).

A source only reports quotes; it never writes a mark. Every quote goes through
`backend.services.prices.PriceService.submit`, which guards it and writes the mark the
monitor's core then judges (outliers held, staleness). Two shapes of source:

- polled (`poll(now_s)` returns the quotes available now): HTTP JSON, CSV replay, simulated;
- pushed (`start(emit)` / `stop()`): the MQTT price topic.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Callable, Protocol, Sequence, Union, runtime_checkable


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


@runtime_checkable
class PolledSource(Protocol):
    name: str
    interval_s: float

    def poll(self, now_s: float) -> Sequence[Quote]: ...


@runtime_checkable
class PushedSource(Protocol):
    name: str

    def start(self, emit: Emit) -> None: ...

    def stop(self) -> None: ...


PriceSource = Union[PolledSource, PushedSource]


def to_decimal(value: object) -> Decimal:
    """A number as a vendor sent it (int, float, numeric string) as Decimal; NaN if not a number.

    Floats go through repr so 0.1 stays 0.1. Guards, not sources, decide what is acceptable.
    """
    if isinstance(value, bool) or value is None:
        return Decimal("NaN")
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        return Decimal("NaN")


def parse_pair(pair: str) -> tuple[str, str]:
    base, _, quote = pair.partition("/")
    if len(base) != 3 or len(quote) != 3 or not (base + quote).isalpha() or not (base + quote).isupper():
        raise ValueError(f"an FX pair is written BASE/QUOTE in ISO codes, e.g. USD/CNY; got {pair!r}")
    return base, quote
