"""Prices over HTTP: manual marks (admin), price history with EWMA volatility, FX rates,
and a what-if revaluation of the whole book at a hypothetical price (staff)."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from backend.api.deps import Ctx, principal, require_role
from backend.ports.prices import FxQuote, PriceQuote
from backend.services.prices import PriceRejected, ewma_volatility
from backend.services.prices_preview import impact

router = APIRouter(prefix="/api/v1", tags=["prices"])
Price = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class PriceIn(BaseModel):
    commodity: str
    price: Price
    currency: Currency
    per: Annotated[str, Field(pattern=r"^(t|kg)$")]


@router.post("/prices", status_code=201)
def post_price(body: PriceIn, ctx: Ctx, caller=Depends(require_role("admin"))) -> dict:
    """A manual, authoritative mark; it goes through the same guard as every feed."""
    if body.commodity not in ctx.registry.snapshot().commodities:
        raise HTTPException(404, f"no commodity {body.commodity!r}")
    at_s = ctx.clock()
    try:
        mark_id = ctx.price_service.submit(PriceQuote(body.commodity, body.price, body.currency, body.per, at_s),
                                           source="manual")
    except PriceRejected as exc:
        raise HTTPException(400, str(exc)) from exc
    return {"id": mark_id, "commodity": body.commodity, "price": str(body.price),
            "currency": body.currency, "per": body.per, "at_s": at_s}


class MarkOut(BaseModel):
    price: str
    currency: str
    per: str
    at_s: float
    source: str


class HistoryOut(BaseModel):
    commodity: str
    marks: list[MarkOut]
    ewma_volatility: float | None = Field(description="EWMA volatility of log returns between the marks "
                                                      "listed, per mark (RiskMetrics λ); null under 2 marks")
    ewma_lambda: float


class LatestOut(BaseModel):
    latest: dict[str, MarkOut]  # commodity -> its newest mark


@router.get("/prices", response_model=HistoryOut | LatestOut)
def price_history(ctx: Ctx, caller=Depends(principal), commodity: str | None = None,
                  from_: Annotated[float, Query(alias="from", ge=0)] = 0.0,
                  to: Annotated[float | None, Query(ge=0)] = None,
                  limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> HistoryOut | LatestOut:
    """With `commodity`: its marks with from ≤ at_s < to (epoch seconds), oldest first, and
    their EWMA volatility. Without: the newest mark of every commodity."""
    commodities = ctx.registry.snapshot().commodities
    if commodity is None:
        return LatestOut(latest={c: _mark(tick, "") for c in sorted(commodities)
                                 if (tick := ctx.price_service.latest(c)) is not None})
    if commodity not in commodities:
        raise HTTPException(404, f"no commodity {commodity!r}")
    to_s = ctx.clock() + 1 if to is None else to
    if to_s < from_:
        raise HTTPException(400, "`to` is before `from`")
    marks = ctx.price_service.history(commodity, from_, to_s, limit)
    decay = ctx.settings.prices.ewma_lambda
    return HistoryOut(commodity=commodity, ewma_lambda=decay,
                      ewma_volatility=ewma_volatility([float(tick.price) for tick, _ in marks], decay),
                      marks=[_mark(tick, source) for tick, source in marks])


def _mark(tick, source: str) -> MarkOut:
    return MarkOut(price=str(tick.price), currency=tick.currency, per=tick.per_unit, at_s=tick.at_s, source=source)


class FxIn(BaseModel):
    base: Currency
    quote: Currency
    rate: Price


@router.post("/fx", status_code=201)
def post_fx(body: FxIn, ctx: Ctx, caller=Depends(require_role("admin"))) -> dict:
    """A manual FX mark: 1 `base` = `rate` `quote`."""
    at_s = ctx.clock()
    try:
        mark_id = ctx.price_service.submit(FxQuote(body.base, body.quote, body.rate, at_s), source="manual")
    except PriceRejected as exc:
        raise HTTPException(400, str(exc)) from exc
    return {"id": mark_id, "base": body.base, "quote": body.quote, "rate": str(body.rate), "at_s": at_s}


class ImpactIn(BaseModel):
    commodity: str
    price: Price
    currency: Currency
    per: Annotated[str, Field(pattern=r"^(t|kg)$")]


@router.post("/prices/impact")
def price_impact(body: ImpactIn, ctx: Ctx,
                 caller=Depends(require_role("admin", "supervisor"))) -> dict:
    """What if `commodity` traded at `price`? Every loan revalued at once (vectorised);
    nothing is stored. Zones are by threshold only: the monitor's state machine decides."""
    registry = ctx.registry.snapshot()
    if body.commodity not in registry.commodities:
        raise HTTPException(404, f"no commodity {body.commodity!r}")
    try:
        return impact(PriceQuote(body.commodity, body.price, body.currency, body.per, ctx.clock()),
                      registry=registry, prices=ctx.price_service, monitor=ctx.monitor)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
