"""Loans, lots and the registry over HTTP. Routes parse, call a service, shape the answer."""
from __future__ import annotations

import bisect
from decimal import Decimal
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from backend.api.deps import Ctx, on_loan, principal
from backend.bootstrap import BackendContext
from backend.domain import registry as reg
from backend.ports.monitor import StandingRecord
from backend.services import access
from backend.services.api_keys import Principal

router = APIRouter(prefix="/api/v1", tags=["book"])
Caller = Annotated[Principal, Depends(principal)]
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Ratio = Annotated[Decimal, Field(gt=0, lt=1, max_digits=6, decimal_places=4)]


class LoanOut(BaseModel):
    id: str
    lender: str
    borrower: str
    currency: str
    outstanding: Decimal
    lots: list[str]
    haircut: Decimal
    thresholds: dict[str, Decimal]
    target_ltv: Decimal
    status: str
    ltv: Decimal | None
    collateral_value: Decimal | None
    market_value: Decimal | None = Field(None, description="valued quantity × price before the haircut, "
                                                           "quality factor and unverified schedule")
    drawing_power: Decimal | None
    cure_deadline_s: float | None
    cure_amount: Decimal | None
    price_stale: bool
    interest: dict[str, str] | None = Field(None, description="yearly `rate` and `day_count` (ACT/360, ACT/365)")
    interest_accrued_to_s: float | None = None
    closed_at_s: float | None = Field(None, description="when its lender closed it (its pledges released)")


_RATIO = Decimal("0.000001")


def _ratio(value: Decimal | None) -> Decimal | None:
    """LTV to six places: what a person or a bank's system can read."""
    return None if value is None else value.quantize(_RATIO)


def _loan_row(loan: reg.Loan, standing: StandingRecord | None) -> dict:
    """A loan as LoanOut's fields (a test holds the two equal): the listing serialises these
    rows directly, 5,000 response models a request being most of its time."""
    return {
        "id": loan.id, "lender": loan.lender_id, "borrower": loan.borrower_id, "currency": loan.currency,
        "outstanding": loan.outstanding, "lots": list(loan.lot_ids), "haircut": loan.haircut,
        "thresholds": {"warning": loan.thresholds.warning, "margin_call": loan.thresholds.margin_call,
                       "liquidation": loan.thresholds.liquidation},
        "target_ltv": loan.target_ltv, "status": standing.status if standing else "normal",
        "ltv": _ratio(standing.ltv) if standing else None,
        "collateral_value": standing.collateral_value if standing else None,
        "market_value": standing.market_value if standing else None,
        "drawing_power": standing.drawing_power if standing else None,
        "cure_deadline_s": standing.cure_deadline_s if standing else None,
        "cure_amount": standing.cure_amount if standing else None,
        "price_stale": standing.price_stale if standing else False,
        "interest": {"rate": str(loan.interest.rate), "day_count": loan.interest.day_count} if loan.interest else None,
        "interest_accrued_to_s": loan.interest_accrued_to_s, "closed_at_s": loan.closed_at_s}


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)  # as pydantic writes a Decimal: a string
    raise TypeError(f"not JSON: {type(value).__name__}")


def loans_json(rows: list[dict]) -> bytes:
    return orjson.dumps(rows, default=_json_default)


@router.get("/loans", response_model=list[LoanOut], responses={200: {"headers": {"Link": {
    "description": "with `limit`, when more loans follow: `<...&after=<last id>>; rel=\"next\"`",
    "schema": {"type": "string"}}}}})
def list_loans(caller: Caller, ctx: Ctx, request: Request,
               limit: Annotated[int | None, Query(ge=1, le=10_000, description="at most this many; "
                                                  "all when omitted")] = None,
               after: Annotated[str | None, Query(max_length=64, description="the last id of the "
                                                  "previous page (the Link header's next)")] = None) -> Response:
    """Loans the caller may see (a lender: its own), by id, with status, LTV, collateral value
    and outstanding; `limit` and `after` page through them."""
    rows, more = loan_rows(caller, ctx, limit, after)
    headers = {}
    if more:
        following = request.url.include_query_params(after=rows[-1]["id"])
        headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return Response(loans_json(rows), media_type="application/json", headers=headers)


def loan_rows(caller: Principal, ctx: BackendContext, limit: int | None = None,
              after: str | None = None) -> tuple[list[dict], bool]:
    """The caller's loans after `after` by id, at most `limit` of them, as LoanOut's fields;
    and whether more follow. One read of their standings, not of the book's."""
    registry = ctx.registry.snapshot()
    loan_ids = access.visible_loan_ids(caller, registry)
    following = loan_ids[bisect.bisect_right(loan_ids, after):] if after is not None else loan_ids
    page = following if limit is None else following[:limit]
    standings = ctx.loan_standings.of_loans(page)
    return [_loan_row(registry.loans[loan_id], standings.get(loan_id)) for loan_id in page], len(page) < len(following)


@router.get("/loans/{loan_id}", response_model=LoanOut)
def get_loan(loan_id: str, caller: Caller, ctx: Ctx) -> LoanOut:
    """One loan: status, LTV against its thresholds, collateral and lending value, cure deadline and amount."""
    registry = ctx.registry.snapshot()
    if not access.sees_loan(caller, registry, loan_id):
        raise HTTPException(404, f"no loan {loan_id!r}")
    return LoanOut(**_loan_row(registry.loans[loan_id], ctx.loan_standings.of(loan_id)))


class SensorOut(BaseModel):
    id: str
    kind: str


class LotOut(BaseModel):
    id: str
    warehouse: str
    commodity: str
    loan: str | None
    pledged_items: int
    pledged_quantity: Decimal
    observed_items: int | None
    observed_quantity: Decimal | None
    rfid_ok: bool | None
    scale_ok: bool | None
    weight_net_kg: float | None
    expected_weight_kg: float | None
    missing_epcs: list[str]
    sensors: list[SensorOut]


@router.get("/lots/{lot_id}", response_model=LotOut)
def get_lot(lot_id: str, caller: Caller, ctx: Ctx) -> LotOut:
    """Pledged against observed, and the sensors that observe it."""
    registry = ctx.registry.snapshot()
    if not access.sees_lot(caller, registry, lot_id):
        raise HTTPException(404, f"no lot {lot_id!r}")
    lot = registry.lots[lot_id]
    # this process's monitor, else the view a monitor stored (None when not judged of late)
    view = ctx.monitor.lot_view(lot_id) if ctx.monitor else ctx.lot_views.lot_view(lot_id)
    return LotOut(
        id=lot.id, warehouse=lot.warehouse_id, commodity=lot.commodity_id,
        loan=registry.loan_of_lot.get(lot_id), pledged_items=len(registry.pledged_epcs[lot_id]),
        pledged_quantity=registry.pledged_quantity[lot_id],
        observed_items=view.observed_items if view else None,
        observed_quantity=view.observed_quantity if view else None,
        rfid_ok=view.rfid_ok if view else None, scale_ok=view.scale_ok if view else None,
        weight_net_kg=view.weight_net_kg if view else None,
        expected_weight_kg=view.expected_weight_kg if view else None,
        missing_epcs=sorted(view.missing_epcs) if view else [],
        sensors=[SensorOut(id=s.id, kind=s.kind) for s in registry.sensors.values() if s.lot_id == lot_id])


class ReleaseIn(BaseModel):
    lot: Ident
    items: int = Field(ge=1, le=100_000)
    repayment: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]


@router.post("/loans/{loan_id}/releases/quote")
def quote_release(loan_id: str, body: ReleaseIn, caller: Caller, ctx: Ctx) -> dict:
    """How many items a repayment of this amount could free now while LTV stays at or below target
    (every open delivery order counted as gone); nothing is requested (POST .../releases does)."""
    decision = on_loan(ctx, caller, loan_id, lambda: ctx.releases.decide(
        loan_id, body.lot, body.items, body.repayment))
    return {"approved": decision.approved, "max_items": decision.max_items, "reason": decision.reason}



class HistoryPointOut(BaseModel):
    at_s: float
    status: str
    ltv: Decimal | None
    collateral_value: Decimal | None
    observed_quantity: Decimal | None
    pledged_quantity: Decimal | None


@router.get("/loans/{loan_id}/history", response_model=list[HistoryPointOut])
def loan_history(loan_id: str, caller: Caller, ctx: Ctx,
                 from_s: Annotated[float, Query(ge=0, le=1e12)] = 0,
                 to_s: Annotated[float, Query(ge=0, le=1e12)] = 1e12,
                 limit: Annotated[int, Query(ge=1, le=10_000)] = 2000) -> list[HistoryPointOut]:
    """LTV, value and quantities over time: a point per change, and at least one a minute."""
    if not access.sees_loan(caller, ctx.registry.snapshot(), loan_id):
        raise HTTPException(404, f"no loan {loan_id!r}")
    return [HistoryPointOut(**{k: getattr(p, k) for k in HistoryPointOut.model_fields} | {"ltv": _ratio(p.ltv)})
            for p in ctx.loan_standings.history(loan_id, from_s, to_s, limit)]
