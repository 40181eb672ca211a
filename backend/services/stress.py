"""Portfolio stress tests (`POST /api/v1/stress`, `pledgewatch stress`): load the book in
scope, the market and the price history through ports, run the pure core
(`backend.domain.stress`, `backend.domain.stress_paths`), shape the answer. Nothing is stored.

Scope: a lender's run is built from its own loans only (registry, standings and lots), so
no other bank's loan enters a number or an aggregate; staff runs take the whole book.
"""
from __future__ import annotations

import gc
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from backend.domain import stress_paths, valuation
from backend.domain.config import MonitorConfig
from backend.domain.errors import DomainError
from backend.domain.observations import PriceTick
from backend.domain.registry import Registry
from backend.domain.stress import Shock, ShockResult, StressBook, StressError, run_shock, stress_book
from backend.ports.monitor import StandingStore
from backend.ports.prices import PriceMarkStore
from backend.services.monitor import MonitorService

DAY_S = 86_400
MAX_LOAN_PATHS = 250_000_000   # loans × paths of one run: about 2.5 × the benchmark's (docs/stress.md)
MAX_PATH_POINTS = 50_000_000   # commodities × paths × (days + 1) simulated: 400 MB of float64
MAX_CLOSES = 5_000             # closes read per commodity (lookback ÷ interval): one query each
_CENT = Decimal("0.01")
_WIDE = Context(prec=80)  # a ruined path's amounts may need more digits than the default 28


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Valuing the book makes a few objects per lot and loan, none in a reference cycle; the
    cyclic collector, triggered by their number, would walk the whole registry again and
    again: half the valuation's time on 100,000 loans (docs/stress.md). Reference counting
    still frees everything; the collector runs again as soon as the valuation is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True, kw_only=True)
class MonteCarloRequest:
    horizon_days: int = 30
    paths: int = 1000
    seed: int = 1
    shock: Shock = field(default_factory=Shock)    # applied first: the paths start from it
    lookback_days: int = 250                       # daily closes taken from this far back
    interval_s: int = DAY_S                        # returns over this interval, scaled to a day
    decay: float = stress_paths.DEFAULT_DECAY
    fallback_volatility: float | None = None       # per day, for commodities without history
    max_loans: int = 500                           # loans listed, the riskiest first


class StressService:
    def __init__(self, *, registry: Callable[[], Registry], marks: PriceMarkStore, standings: StandingStore,
                 monitor: MonitorService | None, clock: Callable[[], float],
                 config: MonitorConfig = MonitorConfig()) -> None:
        self.registry, self.marks, self.standings = registry, marks, standings
        self.monitor, self.clock, self.config = monitor, clock, config

    def book(self, lender: str | None) -> StressBook:
        """The loans in scope valued as the monitor values them now: in this process, its
        valued quantities, quality factors and unverified shares; elsewhere, the pledged
        quantities at full quality and the latest marks."""
        registry = self.registry()
        if lender is not None and lender not in registry.lenders:
            raise StressError(f"no lender {lender!r}")
        if self.monitor is None:
            prices = {c: tick for c in registry.commodities if (tick := self.marks.latest(c)) is not None}
            fx = {(mark.base, mark.quote): mark.rate for _, mark in self.marks.fx_after(0)}
            return stress_book(registry, lender=lender, prices=prices, fx_rates=fx,
                               standings=self.standings.standings())
        state = self.monitor.state
        quantities, quality, shares = {}, {}, {}
        for loan, inputs in state.valuation_inputs.values():
            for lot_id, (quantity, _, commodity, exposure, share) in zip(loan.lot_ids, inputs or ()):
                quantities[lot_id] = quantity
                quality[lot_id] = valuation.quality_factor(exposure, commodity)
                if share is not None:
                    shares[lot_id] = share
        prices = {c: mark.accepted for c, mark in state.prices.items() if mark.accepted is not None}
        return stress_book(registry, lender=lender, prices=prices, fx_rates=self.monitor.fx_rates(),
                           quantities=quantities, quality=quality, shares=shares,
                           standings=dict(state.standings))

    def shock(self, shock: Shock, *, lender: str | None, max_loans: int = 500) -> dict[str, Any]:
        with cyclic_gc_paused():
            result = run_shock(self.book(lender), shock, now_s=self.clock(), hysteresis=self.config.ltv_hysteresis)
        return shock_report(result, scope=lender, max_loans=max_loans)

    def monte_carlo(self, request: MonteCarloRequest, *, lender: str | None) -> dict[str, Any]:
        """The market is simulated whole (every priced commodity with history, and those the
        loans in scope hold), so a loan's numbers do not depend on whose run it is in."""
        with cyclic_gc_paused():
            book = self.book(lender)
            exposure, ids, unvalued = stress_paths.exposure_of(book, request.shock)
        closes = math.ceil(request.lookback_days * DAY_S / request.interval_s)
        if closes > MAX_CLOSES:
            raise StressError(f"a {request.lookback_days}-day look-back at {request.interval_s} s intervals is "
                              f"{closes:,} closes per commodity, more than {MAX_CLOSES:,}: lengthen the interval")
        if len(exposure.loan_ids) * request.paths > MAX_LOAN_PATHS:
            raise StressError(f"{len(exposure.loan_ids)} loans × {request.paths} paths is more than "
                              f"{MAX_LOAN_PATHS:,} loan-paths: ask for fewer paths")
        carrying = {c for k, c in enumerate(ids) if exposure.weights[:, k].any()}
        returns = {c: self.daily_returns(c, tick, book.fx_rates, request) for c, tick in book.prices.items()}
        returns = {c: r for c, r in returns.items()
                   if c in carrying or np.isfinite(r).sum() >= stress_paths.MIN_RETURNS}
        model = stress_paths.estimate_model(returns, decay=request.decay,
                                            fallback_volatility=request.fallback_volatility,
                                            idle=[c for c in ids if c not in returns])
        points = len(model.commodity_ids) * request.paths * (request.horizon_days + 1)
        if points > MAX_PATH_POINTS:
            raise StressError(f"{len(model.commodity_ids)} commodities × {request.paths} paths × "
                              f"{request.horizon_days} days is more than {MAX_PATH_POINTS:,} price points: "
                              f"ask for fewer paths or a shorter horizon")
        relatives = stress_paths.simulate(model, horizon_days=request.horizon_days, paths=request.paths,
                                          seed=request.seed)
        rows = [model.commodity_ids.index(c) for c in ids]
        if rows != list(range(len(model.commodity_ids))):
            relatives = relatives[rows]        # the loans' commodities, in the exposure's order
        risk = stress_paths.evaluate(exposure, relatives, ids)
        return monte_carlo_report(request, exposure, model, returns, risk, unvalued=unvalued, scope=lender,
                                  commodity_ids=ids)

    def daily_returns(self, commodity_id: str, now: PriceTick, fx: Mapping[tuple[str, str], Decimal],
                      request: MonteCarloRequest) -> np.ndarray:
        """Log returns between the closes at now − k intervals (k = lookback … 0), as daily
        returns (scaled by √(day / interval)); NaN before the first mark. Closes are
        converted to the current mark's currency and unit (a feed may have changed)."""
        now_s = self.clock()
        count = max(2, math.ceil(request.lookback_days * DAY_S / request.interval_s))
        boundaries = [now_s - k * request.interval_s for k in range(count, -1, -1)]
        commodity = self.registry().commodities[commodity_id]
        closes = []
        for tick in self.marks.closes(commodity_id, boundaries):
            try:
                price = None if tick is None else valuation.unit_price(tick, commodity, now.currency, fx)
            except DomainError:
                price = None                   # a close no rate can convert: a missing day
            closes.append(math.nan if price is None or price <= 0 else float(price))
        scale = math.sqrt(DAY_S / request.interval_s)
        return np.diff(np.log(np.array(closes, dtype=np.float64))) * scale


def _money(value: Decimal | float | None) -> str | None:
    if value is None:
        return None
    amount = Decimal(repr(value)) if isinstance(value, float) else value
    return str(amount) if not amount.is_finite() else str(amount.quantize(_CENT, context=_WIDE))


def _ratio(value: Decimal | float | None) -> float | None:
    """LTV to six places; None when there is none or it is infinite (no collateral left)."""
    if value is None or not math.isfinite(value):
        return None
    # A float rounded as a float: a ruined path's LTV (1e30) has more digits than Decimal's context.
    return round(float(value), 6)


def _probability(value: float) -> float:
    return round(float(value), 6)


def shock_report(result: ShockResult, *, scope: str | None, max_loans: int) -> dict[str, Any]:
    shock = result.shock
    by_risk = sorted(result.loans, key=lambda row: (-(row.ltv_after or Decimal(0)), row.loan_id))
    return {
        "scope": scope or "book",
        "shock": {"prices": {c: str(move) for c, move in sorted(shock.prices.items())},
                  "fx": {f"{base}/{quote}": str(move) for (base, quote), move in sorted(shock.fx.items())},
                  "warehouses_lost": sorted(shock.warehouses_lost)},
        "loans_total": len(result.loans),
        "by_status_before": result.by_status(after=False), "by_status_after": result.by_status(),
        "margin_calls": [{"loan": row.loan_id, "lender": row.lender_id, "currency": row.currency,
                          "status": row.status_after, "ltv": _ratio(row.ltv_after),
                          "cure_amount": _money(row.cure_amount), "new": row.new_call}
                         for row in result.margin_calls()],
        "shortfall_by_lender": [{"lender": lender, "currency": currency, "shortfall": _money(amount)}
                                for (lender, currency), amount in result.shortfall_by_lender().items()],
        "loans": [{"loan": row.loan_id, "lender": row.lender_id, "currency": row.currency,
                   "outstanding": _money(row.outstanding), "value_before": _money(row.value_before),
                   "value_after": _money(row.value_after), "ltv_before": _ratio(row.ltv_before),
                   "ltv_after": _ratio(row.ltv_after), "status_before": row.status_before,
                   "status_after": row.status_after, "cure_amount": _money(row.cure_amount),
                   "shortfall": _money(row.shortfall)} for row in by_risk[:max_loans]],
    }


def _tails(summary: Mapping[tuple[str, str], tuple[float, float, float]], keys: list[tuple[str, str]],
           name: str) -> list[dict[str, Any]]:
    return [{name: key[0], "currency": key[1],
             **dict(zip(("expected", "p99", "tail_99"), (_money(v) for v in summary.get(key, (0.0, 0.0, 0.0)))))}
            for key in keys]


def monte_carlo_report(request: MonteCarloRequest, exposure: stress_paths.Exposure,
                       model: stress_paths.MarketModel, returns: Mapping[str, np.ndarray],
                       risk: stress_paths.PathRisk, *, unvalued: tuple[str, ...], scope: str | None,
                       commodity_ids: tuple[str, ...]) -> dict[str, Any]:
    """The model is shown for the commodities of the loans in scope only."""
    values = exposure.weights.sum(axis=1)
    order = sorted(range(len(exposure.loan_ids)),
                   key=lambda i: (-risk.p_default[i], -risk.p_margin_call[i], exposure.loan_ids[i]))
    lender_of = {k: key for k, key in enumerate(exposure.lender_groups)}
    held = [(c, ccy) for k, c in enumerate(commodity_ids) for j, ccy in enumerate(exposure.currencies)
            if np.any((exposure.attribution[:, k] > 0) & (exposure.currency == j))]
    return {
        "scope": scope or "book", "horizon_days": request.horizon_days, "paths": request.paths,
        "seed": request.seed, "decay": request.decay, "lookback_days": request.lookback_days,
        "interval_s": request.interval_s, "percentiles": list(stress_paths.PERCENTILES),
        "model": {"commodities": [
            {"commodity": c, "volatility_daily": round(float(model.volatility[k]), 8),
             "returns": int(np.isfinite(returns[c]).sum()) if c in returns else 0,
             "fallback": c in returns and int(np.isfinite(returns[c]).sum()) < stress_paths.MIN_RETURNS}
            for k, c in ((model.commodity_ids.index(c), c) for c in commodity_ids)],
            "correlation": [[round(float(model.correlation[model.commodity_ids.index(a), model.commodity_ids.index(b)]), 6)
                             for b in commodity_ids] for a in commodity_ids]},
        "loans_total": len(exposure.loan_ids), "unvalued": list(unvalued),
        "loans": [{"loan": exposure.loan_ids[i], "lender": lender_of[int(exposure.lender_group[i])][0],
                   "currency": exposure.currencies[int(exposure.currency[i])],
                   "outstanding": _money(float(exposure.outstanding[i])), "value": _money(float(values[i])),
                   "ltv": _ratio(float(exposure.outstanding[i] / values[i])) if values[i] > 0 else None,
                   "ltv_percentiles": [_ratio(float(x)) for x in risk.ltv_percentiles[i]],
                   "thresholds": {"margin_call": float(exposure.margin_call[i]),
                                  "liquidation": float(exposure.liquidation[i])},
                   "p_margin_call": _probability(risk.p_margin_call[i]),
                   "p_default": _probability(risk.p_default[i]),
                   "expected_shortfall": _money(float(risk.expected_shortfall[i]))}
                  for i in order[:request.max_loans]],
        "shortfall_by_lender": _tails(risk.lender_shortfall, list(exposure.lender_groups), "lender"),
        "shortfall_by_commodity": _tails(risk.commodity_shortfall, held, "commodity"),
    }

