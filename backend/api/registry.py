"""Adding to the registry (admin, supervisor): lenders, borrowers, commodities, warehouses,
lots with their tagged items, loans. A loan's lots are pledged one by one through the
double-pledge guard, so creating a loan can never pledge goods twice."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field, model_validator

from backend.api.deps import Ctx, require_role
from backend.domain import registry as reg
from backend.services.api_keys import Principal
from backend.services.registry import Conflict, NotFound

router = APIRouter(prefix="/api/v1", tags=["registry"])
staff = require_role("admin", "supervisor")
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Share = Annotated[Decimal, Field(ge=0, lt=1, max_digits=6, decimal_places=4)]
Ratio = Annotated[Decimal, Field(gt=0, lt=2, max_digits=6, decimal_places=4)]


class PartyIn(BaseModel):
    id: Ident


class CommodityIn(BaseModel):
    id: Ident
    unit: Annotated[str, Field(pattern=r"^(t|kg)$")]
    perishable: bool = False
    temperature_max_c: float | None = Field(None, ge=-100, le=100)
    price_max_age_s: int = Field(86_400, ge=60, le=365 * 86_400)

    @model_validator(mode="after")
    def _perishables_have_a_limit(self) -> "CommodityIn":
        if self.perishable and self.temperature_max_c is None:
            raise ValueError("a perishable commodity needs temperature_max_c")
        return self


class WarehouseIn(BaseModel):
    id: Ident
    gateway: Ident


class ItemIn(BaseModel):
    epc: Annotated[str, Field(pattern=r"^[0-9a-f]{8,64}$")]
    quantity: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6)]
    weight_kg: float = Field(gt=0)


class LotIn(BaseModel):
    id: Ident
    warehouse: Ident
    commodity: Ident
    scale: Ident
    reader: Ident
    probe: Ident | None = None
    tare_kg: float = Field(0.0, ge=0)
    items: list[ItemIn] = Field(min_length=1, max_length=100_000)

    @model_validator(mode="after")
    def _epcs_unique(self) -> "LotIn":
        if len({i.epc for i in self.items}) != len(self.items):
            raise ValueError("an EPC appears twice in the lot")
        return self


class ThresholdsIn(BaseModel):
    warning: Ratio
    margin_call: Ratio
    liquidation: Ratio


class InterestIn(BaseModel):
    rate: Annotated[Decimal, Field(ge=0, lt=1, max_digits=8, decimal_places=6)]
    day_count: Literal["ACT/360", "ACT/365"] = "ACT/360"


class LoanIn(BaseModel):
    id: Ident
    lender: Ident
    borrower: Ident
    outstanding: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    haircut: Share = Decimal(0)
    thresholds: ThresholdsIn
    target_ltv: Ratio
    cure_period_s: int = Field(86_400, ge=0)
    interest: InterestIn | None = None
    lots: list[Ident] = []

    @model_validator(mode="after")
    def _rising(self) -> "LoanIn":
        t = self.thresholds
        if not self.target_ltv < t.warning < t.margin_call < t.liquidation:
            raise ValueError("need target_ltv < warning < margin_call < liquidation")
        return self


def _add(ctx, delta: reg.Registry, caller: Principal) -> None:
    known = ctx.registry.snapshot()
    for lot in delta.lots.values():
        if lot.warehouse_id not in known.warehouses or lot.commodity_id not in known.commodities:
            raise HTTPException(404, f"lot {lot.id}: no warehouse {lot.warehouse_id!r} or commodity {lot.commodity_id!r}")
    for loan in delta.loans.values():
        if loan.lender_id not in known.lenders or loan.borrower_id not in known.borrowers:
            raise HTTPException(404, f"loan {loan.id}: no lender {loan.lender_id!r} or borrower {loan.borrower_id!r}")
    try:
        ctx.registry.add(delta, caller.name)
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from exc


@router.post("/lenders", status_code=201)
def add_lender(body: PartyIn, ctx: Ctx, caller=Depends(staff)) -> dict:
    """Register a lender (a bank). Staff; an existing id answers 409."""
    _add(ctx, reg.Registry(lenders={body.id: reg.Lender(body.id)}), caller)
    return {"id": body.id}


@router.post("/borrowers", status_code=201)
def add_borrower(body: PartyIn, ctx: Ctx, caller=Depends(staff)) -> dict:
    """Register a borrower. Staff; an existing id answers 409."""
    _add(ctx, reg.Registry(borrowers={body.id: reg.Borrower(body.id)}), caller)
    return {"id": body.id}


@router.post("/commodities", status_code=201)
def add_commodity(body: CommodityIn, ctx: Ctx, caller=Depends(staff)) -> dict:
    """Register a commodity with its unit (and, for perishables, its temperature limit). Staff."""
    commodity = reg.Commodity(body.id, body.unit, body.perishable, body.temperature_max_c,
                              body.price_max_age_s)
    _add(ctx, reg.Registry(commodities={body.id: commodity}), caller)
    return {"id": body.id}


@router.post("/warehouses", status_code=201)
def add_warehouse(body: WarehouseIn, ctx: Ctx, caller=Depends(staff)) -> dict:
    """Register a warehouse and the gateway that watches it. Staff."""
    _add(ctx, reg.Registry(warehouses={body.id: reg.Warehouse(body.id, body.gateway)}), caller)
    return {"id": body.id, "gateway": body.gateway}


@router.post("/lots", status_code=201)
def add_lot(body: LotIn, ctx: Ctx, caller=Depends(staff)) -> dict:
    """Register a tagged lot in a warehouse: its scale, reader, probe and items (EPC, quantity, weight). Staff."""
    items = tuple(reg.TaggedItem(i.epc, i.quantity, i.weight_kg) for i in body.items)
    lot = reg.Lot(body.id, body.warehouse, body.commodity, items, body.scale, body.reader,
                  body.probe, body.tare_kg)
    _add(ctx, reg.Registry(lots={body.id: lot}), caller)
    return {"id": body.id, "items": len(items)}


@router.post("/loans", status_code=201)
def add_loan(body: LoanIn, ctx: Ctx, caller=Depends(staff)) -> dict:
    """The loan is created first, then each lot pledged: 409 'already pledged' stops at the
    first lot that backs another loan (the loan exists, with the lots pledged before it)."""
    thresholds = reg.Thresholds(body.thresholds.warning, body.thresholds.margin_call,
                                body.thresholds.liquidation)  # rising: checked by LoanIn
    interest = reg.Interest(body.interest.rate, body.interest.day_count) if body.interest else None
    loan = reg.Loan(body.id, body.lender, body.borrower, body.outstanding, body.currency, (),
                    body.haircut, thresholds, body.target_ltv, body.cure_period_s, interest=interest)
    _add(ctx, reg.Registry(loans={body.id: loan}), caller)
    for lot_id in body.lots:
        try:
            ctx.registry.pledge(lot_id, body.id, caller.name)
        except NotFound as exc:
            raise HTTPException(404, f"no lot {lot_id!r}") from exc
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from exc
    return {"id": body.id, "lots": body.lots}
