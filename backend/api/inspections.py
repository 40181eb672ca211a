"""Inspection tasks and physical counts over HTTP. A lender sees the tasks on its loans;
staff record counts."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from backend.api.deps import Ctx, principal, require_role
from backend.services import access
from backend.services.api_keys import Principal
from backend.services.registry import NotFound

router = APIRouter(prefix="/api/v1", tags=["inspections"])
Caller = Annotated[Principal, Depends(principal)]
Staff = Annotated[Principal, Depends(require_role("admin", "supervisor"))]


class TaskOut(BaseModel):
    lot: str
    loan: str | None
    lender: str | None
    reasons: list[str] = Field(description="the critical alert types open on the lot")
    opened_at_s: float
    deadline_s: float
    state: str = Field(description="open, overdue or done")


class CountIn(BaseModel):
    lot: Annotated[str, Field(min_length=1, max_length=64)]
    items: int = Field(ge=0, le=10_000_000)
    quantity: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]
    temperature_c: float | None = Field(None, ge=-100, le=100)
    note: str = Field("", max_length=2000)


@router.get("/inspections", response_model=list[TaskOut])
def list_tasks(caller: Caller, ctx: Ctx) -> list[TaskOut]:
    """Inspection tasks (unverified collateral, critical alerts) with their deadline; a lender: its own lots'."""
    lender = access.alert_lender_filter(caller)  # the parties addressed alerts are addressed their tasks
    return [TaskOut(lot=t.lot_id, loan=t.loan_id, lender=t.lender_id, reasons=list(t.reasons),
                    opened_at_s=t.opened_at_s, deadline_s=t.deadline_s, state=t.state)
            for t in ctx.inspections.tasks(lender)]


@router.post("/inspections", status_code=201)
def record_count(body: CountIn, caller: Staff, ctx: Ctx) -> dict:
    """A supervisor's physical count: a match re-verifies the lot, a short count is a loss."""
    try:
        count_id, count = ctx.inspections.record(body.lot, body.items, body.quantity,
                                                 body.temperature_c, body.note, caller.name)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"id": count_id, "lot": count.lot_id, "items": count.items,
            "quantity": str(count.quantity), "at_s": count.at_s}
