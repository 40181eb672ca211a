"""Portfolio stress tests over HTTP: staff stress the whole book, a lender its own loans."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from backend.api.deps import Ctx, require_role
from backend.domain.stress import StressError, parse_shock
from backend.services import access
from backend.services.api_keys import Principal
from backend.services.stress import MonteCarloRequest

router = APIRouter(prefix="/api/v1", tags=["stress"])
Caller = Annotated[Principal, Depends(require_role("admin", "supervisor", "lender"))]
Ident = Annotated[str, Field(min_length=1, max_length=64)]


class MonteCarloIn(BaseModel):
    horizon_days: int = Field(30, ge=1, le=365)
    paths: int = Field(1000, ge=10, le=100_000)
    seed: int = Field(1, ge=0, le=2 ** 32 - 1, description="the same seed gives the same numbers")
    lookback_days: int = Field(250, ge=2, le=3650, description="daily closes taken from this far back")
    interval_s: int = Field(86_400, ge=60, le=7 * 86_400,
                            description="returns over this interval, scaled to a day (default: daily)")
    decay: float = Field(0.94, gt=0, lt=1, description="EWMA λ (RiskMetrics)")
    fallback_volatility: float | None = Field(
        None, gt=0, le=1, description="daily volatility for commodities without price history; "
                                      "without it such a commodity is refused by name")


class StressIn(BaseModel):
    shocks: list[Annotated[str, Field(max_length=80)]] = Field(
        default_factory=list, max_length=100, description="NAME=±N%: a commodity (steel_coil=-20%) or an FX "
                                                           "pair, 1 BASE = rate QUOTE (USD/CNY=+5%)")
    warehouses_lost: list[Ident] = Field(default_factory=list, max_length=100,
                                         description="warehouses whose lots are worth 0")
    max_loans: int = Field(500, ge=0, le=100_000, description="loans listed, the riskiest first")
    monte_carlo: MonteCarloIn | None = Field(None, description="also simulate from the shocked book")


@router.post("/stress")
def stress(body: StressIn, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """The book (a lender: its own loans) after a deterministic shock: loans by status, margin
    calls with their cure amounts, shortfall per lender; with `monte_carlo`, the distribution
    of each loan's LTV over the horizon, the probabilities of margin call and default and the
    expected and 99 % tail shortfall per lender and per commodity (see docs/stress.md)."""
    lender = None if access.is_staff(caller) else caller.lender
    try:
        shock = parse_shock(body.shocks, body.warehouses_lost)
        answer: dict[str, Any] = {"shock": ctx.stress.shock(shock, lender=lender, max_loans=body.max_loans),
                                  "monte_carlo": None}
        if body.monte_carlo is not None:
            request = MonteCarloRequest(shock=shock, max_loans=body.max_loans, **body.monte_carlo.model_dump())
            answer["monte_carlo"] = ctx.stress.monte_carlo(request, lender=lender)
    except StressError as exc:
        raise HTTPException(400, str(exc)) from exc
    return answer
