"""What a price would do to the book, before the monitor says it: the vectorised
revaluation (backend/domain/revaluation.py) of every loan at current prices and at a
hypothetical one. Used by POST /api/v1/prices/impact; nothing is stored."""
from __future__ import annotations

import time
from decimal import Decimal

import numpy as np

from backend.domain import revaluation
from backend.domain.errors import DomainError
from backend.domain.observations import PriceTick
from backend.domain.registry import Registry
from backend.ports.prices import PriceQuote
from backend.services.monitor import MonitorService
from backend.services.prices import PriceService

MAX_LISTED = 100


def _current(registry: Registry, prices: PriceService,
             monitor: MonitorService | None) -> tuple[dict[str, PriceTick], dict[str, Decimal]]:
    """Prices the monitor accepted (or, without a monitor here, the latest marks), and the
    valued quantities (or the pledged ones)."""
    if monitor is not None:
        state = monitor.state
        ticks = {c: m.accepted for c, m in state.prices.items() if m.accepted is not None}
        quantities = {lot: v.quantity for lot, v in state.valued.items()}
    else:
        ticks = {c: tick for c in registry.commodities if (tick := prices.latest(c)) is not None}
        quantities = {}
    return ticks, {**registry.pledged_quantity, **quantities}


def impact(quote: PriceQuote, *, registry: Registry, prices: PriceService, monitor: MonitorService | None) -> dict:
    """ValueError when the book cannot be valued (e.g. a currency without an FX rate)."""
    ticks, quantities = _current(registry, prices, monitor)
    fx = prices.fx_rates()
    started = time.perf_counter()
    book = revaluation.book_arrays(registry, quantities)
    try:
        _, ltv_now = revaluation.revalue(book, revaluation.price_grid(book, registry, ticks, fx))
        then = {**ticks, quote.commodity: PriceTick(quote.commodity, quote.price, quote.currency, quote.per, quote.at_s)}
        _, ltv_then = revaluation.revalue(book, revaluation.price_grid(book, registry, then, fx))
    except DomainError as exc:
        raise ValueError(str(exc)) from exc
    zone_now, zone_then = revaluation.zones(book, ltv_now), revaluation.zones(book, ltv_then)
    elapsed_ms = (time.perf_counter() - started) * 1000
    moved = np.flatnonzero(zone_now != zone_then)[:MAX_LISTED]
    return {"commodity": quote.commodity, "price": str(quote.price), "loans_revalued": len(book.loan_ids),
            "elapsed_ms": round(elapsed_ms, 3),
            "by_zone": {name: int((zone_then == z).sum()) for z, name in enumerate(revaluation.ZONES)},
            "zone_changes": [{"loan": book.loan_ids[i], "ltv_now": _num(ltv_now[i]), "ltv_then": _num(ltv_then[i]),
                              "zone_now": _zone(zone_now[i]), "zone_then": _zone(zone_then[i])} for i in moved]}


def _num(value: float) -> float | None:
    return None if np.isnan(value) else (None if np.isinf(value) else round(float(value), 6))


def _zone(zone: int) -> str | None:
    return None if zone < 0 else revaluation.ZONES[zone]
