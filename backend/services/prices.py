"""Market prices in: guard every quote, write it as a mark, wake the monitor.

`PriceService.submit` is the one way into `price_marks` and `fx_marks`, whatever the
source (manual API, HTTP poller, CSV replay, MQTT topic, simulation). It refuses what no
market can quote (NaN, zero, negative, absurdly large, from the future, older than the
mark it would replace); everything else is written and judged by the monitor's core,
which holds outliers until confirmed and flags stale prices. Nothing here second-guesses
that judgement.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Sequence

import numpy as np

from backend.domain import valuation
from backend.domain.config import MonitorConfig
from backend.domain.evidence import Entry
from backend.domain.observations import PriceTick
from backend.domain.registry import Registry
from backend.domain.stress_paths import ewma_covariance
from backend.ports.evidence import EvidenceLog
from backend.ports.prices import (
    FxMark,
    FxQuote,
    PolledSource,
    PriceMarkStore,
    PriceQuote,
    PriceSource,
    PriceSourceError,
    Quote,
)

log = logging.getLogger("pledgewatch.prices")
MAX_PRICE = Decimal("1e15")  # beyond any commodity quote; keeps NUMERIC(28, 10) safe
MAX_FX_RATE = Decimal("1e9")
_PLACES = Decimal("1e-10")


class PriceRejected(ValueError):
    """A quote no market could have made; the message says why (shown to the caller)."""


def check_number(value: Decimal, ceiling: Decimal, what: str) -> Decimal:
    if not value.is_finite():
        raise PriceRejected(f"{what} is not a number")
    if value <= 0:
        raise PriceRejected(f"{what} must be above zero")
    if value >= ceiling:
        raise PriceRejected(f"{what} is implausibly large")
    return value.quantize(_PLACES).normalize() if value.as_tuple().exponent < -10 else value


def check_time(at_s: float, latest_at_s: float | None, now_s: float, tolerance_s: float) -> None:
    if at_s > now_s + tolerance_s:
        raise PriceRejected("the quote is timed in the future (a stale price would never look stale)")
    if latest_at_s is not None and at_s < latest_at_s:
        raise PriceRejected("the quote is older than the latest mark")


def check_convertible(quote: PriceQuote, registry: Registry, has_fx: Callable[[str, str], bool]) -> None:
    """Every loan holding the commodity must be able to value it in its own currency."""
    for loan in registry.loans.values():
        if loan.currency == quote.currency or has_fx(quote.currency, loan.currency):
            continue
        if any(registry.lots[lot_id].commodity_id == quote.commodity for lot_id in loan.lot_ids):
            raise PriceRejected(f"no FX rate from {quote.currency} to {loan.currency} (loan {loan.id}): "
                                f"mark the rate first")


def check_price(quote: PriceQuote, registry: Registry, latest: PriceTick | None, now_s: float,
                tolerance_s: float, has_fx: Callable[[str, str], bool] = lambda a, b: False) -> PriceTick:
    """The guarded tick, or PriceRejected."""
    commodity = registry.commodities.get(quote.commodity)
    if commodity is None:
        raise PriceRejected(f"no commodity {quote.commodity!r}")
    if quote.per != commodity.unit and not (quote.per in valuation.KG_PER_UNIT
                                            and commodity.unit in valuation.KG_PER_UNIT):
        raise PriceRejected(f"a price per {quote.per} cannot value {commodity.unit}")
    if len(quote.currency) != 3 or not quote.currency.isalpha() or not quote.currency.isupper():
        raise PriceRejected(f"currency {quote.currency!r} is not an ISO code")
    price = check_number(quote.price, MAX_PRICE, "the price")
    check_convertible(quote, registry, has_fx)
    check_time(quote.at_s, latest.at_s if latest else None, now_s, tolerance_s)
    if latest is not None and (latest.at_s, latest.price) == (quote.at_s, price):
        raise PriceRejected("the same quote again")  # a re-poll must not count as confirmation
    return PriceTick(quote.commodity, price, quote.currency, quote.per, quote.at_s)


def check_fx(quote: FxQuote, latest: FxMark | None, now_s: float, tolerance_s: float) -> FxMark:
    if quote.base == quote.quote:
        raise PriceRejected("an FX pair needs two currencies")
    rate = check_number(quote.rate, MAX_FX_RATE, "the rate")
    check_time(quote.at_s, latest.at_s if latest else None, now_s, tolerance_s)
    if latest is not None and (latest.at_s, latest.rate) == (quote.at_s, rate):
        raise PriceRejected("the same quote again")
    return FxMark(quote.base, quote.quote, rate, quote.at_s)


class PriceService:
    def __init__(self, *, marks: PriceMarkStore, registry: Callable[[], Registry],
                 clock: Callable[[], float], future_tolerance_s: float = 60.0,
                 on_mark: Callable[[], None] = lambda: None, evidence_log: EvidenceLog | None = None) -> None:
        self.marks, self.registry, self.clock = marks, registry, clock
        self.future_tolerance_s, self.on_mark = future_tolerance_s, on_mark
        self.evidence_log = evidence_log  # every accepted mark is logged (price_mark.used, fx_rate.used)
        self._lock = threading.Lock()  # check-then-write: one quote at a time per process

    def submit(self, quote: Quote, source: str) -> int:
        """Guard and store one quote; returns the mark id. PriceRejected says why not."""
        with self._lock:
            now_s = self.clock()
            if isinstance(quote, FxQuote):
                mark = check_fx(quote, self.marks.latest_fx(quote.base, quote.quote), now_s,
                                self.future_tolerance_s)
                mark_id = self.marks.add_fx(mark, source)
                entry = Entry("fx_rate.used", int(now_s), {},
                              {"base": mark.base, "quote": mark.quote, "rate": mark.rate, "source": source,
                               "observed_at_s": int(mark.at_s)})
            else:
                tick = check_price(quote, self.registry(), self.marks.latest(quote.commodity),
                                   now_s, self.future_tolerance_s, self._has_fx)
                mark_id = self.marks.add(tick, source)
                entry = Entry("price_mark.used", int(now_s), {"commodity": tick.commodity_id},
                              {"price": tick.price, "currency": tick.currency, "unit": tick.per_unit,
                               "source": source, "observed_at_s": int(tick.at_s)})
            if self.evidence_log is not None:  # beside the mark's own transaction, under the same lock
                self.evidence_log.append([entry])
        self.on_mark()
        return mark_id

    def _has_fx(self, source: str, target: str) -> bool:
        return (self.marks.latest_fx(source, target) or self.marks.latest_fx(target, source)) is not None

    def latest_price(self, commodity_id: str) -> Decimal | None:
        tick = self.marks.latest(commodity_id)
        return tick.price if tick else None

    def latest(self, commodity_id: str) -> PriceTick | None:
        """The newest mark by quote time (the core may yet hold it as an outlier)."""
        return self.marks.latest(commodity_id)

    def history(self, commodity_id: str, from_s: float, to_s: float,
                limit: int) -> list[tuple[PriceTick, str]]:
        """(mark, source) with from_s <= at_s < to_s, oldest first."""
        return self.marks.history(commodity_id, from_s, to_s, limit)

    def fx_rates(self) -> dict[tuple[str, str], Decimal]:
        """Each pair's latest rate by arrival, unjudged (the monitor's are `FxRates`)."""
        return {(fx.base, fx.quote): fx.rate for _, fx in self.marks.fx_after(0)}


class FxRates:
    """The FX rates the monitor values with: each pair's marks folded through the core's
    own outlier rule (`valuation.mark_price`), so a wild rate is held like a wild price."""

    def __init__(self, marks: PriceMarkStore, config: MonitorConfig) -> None:
        self.marks, self.config = marks, config
        self._cursor = 0
        self._pairs: dict[tuple[str, str], valuation.PriceMark] = {}

    def __call__(self) -> dict[tuple[str, str], Decimal]:
        for mark_id, fx in self.marks.fx_after(self._cursor):
            self._cursor = mark_id
            pair = (fx.base, fx.quote)
            tick = PriceTick(f"{fx.base}/{fx.quote}", fx.rate, fx.quote, "fx", fx.at_s)
            held = valuation.mark_price(self._pairs.get(pair, valuation.PriceMark()), tick, self.config)
            if held.suspect is not None:
                log.warning("FX %s/%s: %s held as an outlier (accepted %s)", *pair, fx.rate,
                            held.accepted.price)
            self._pairs[pair] = held
        return {pair: mark.accepted.price for pair, mark in self._pairs.items() if mark.accepted}


def ewma_volatility(prices: Sequence[float], decay: float = 0.94) -> float | None:
    """EWMA (RiskMetrics) volatility of log returns, per observation; None under 2 prices.

    σ² = Σ (1−λ) λ^k r²_{n−k}, normalised by the weights actually present (the stress
    tests' estimate: `stress_paths.ewma_covariance`)."""
    series = np.asarray(prices, dtype=np.float64)
    if series.size < 2 or np.any(series <= 0):
        return None
    return float(np.sqrt(ewma_covariance(np.diff(np.log(series))[:, None], decay)[0, 0]))


@dataclass
class _Polled:
    source: PolledSource
    due_s: float = 0.0


class PriceFeedRunner:
    """Polls the polled sources on a named thread and starts the pushed ones; every quote
    goes to `PriceService.submit`. A failing source is logged and tried at its next turn."""

    def __init__(self, sources: Sequence[PriceSource], service: PriceService,
                 clock: Callable[[], float]) -> None:
        self.service, self.clock = service, clock
        self.polled = [_Polled(s) for s in sources if isinstance(s, PolledSource)]
        self.pushed = [s for s in sources if not isinstance(s, PolledSource)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="price-feeds", daemon=True)

    def start(self) -> None:
        for source in self.pushed:
            source.start(self.accept)
        if self.polled:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for source in self.pushed:
            source.stop()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def accept(self, quote: Quote, source: str) -> int | None:
        try:
            return self.service.submit(quote, source)
        except PriceRejected as exc:
            log.warning("price source %s: quote refused: %s", source, exc)
            return None

    def run_due(self) -> float:
        """Poll every source that is due; returns seconds until the next one is."""
        now_s = self.clock()
        for entry in self.polled:
            if entry.due_s <= now_s:
                entry.due_s = now_s + entry.source.interval_s
                self._poll(entry.source, now_s)
        return max(0.0, min(e.due_s for e in self.polled) - self.clock()) if self.polled else 1.0

    def _poll(self, source: PolledSource, now_s: float) -> None:
        try:
            quotes = source.poll(now_s)
        except PriceSourceError as exc:
            log.warning("price source %s failed: %s", source.name, exc)
            return
        for quote in quotes:
            self.accept(quote, source.name)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait_s = self.run_due()
            except Exception:  # a bug in one source must not stop the others
                log.exception("price feed round failed")
                wait_s = 1.0
            self._stop.wait(wait_s)
