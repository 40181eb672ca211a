"""Changing a loan's collateral over HTTP: top-ups (`pledges`) and substitutions, each
approved by the loan's lender. Routes parse, call a service, shape the answer."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from backend.api.deps import Ctx, on_loan, principal, require_role
from backend.api.money import DecisionIn
from backend.ports.money import CollateralRequest
from backend.services.api_keys import Principal

router = APIRouter(prefix="/api/v1", tags=["collateral"])
Caller = Annotated[Principal, Depends(principal)]
Decider = Annotated[Principal, Depends(require_role("admin", "lender"))]
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class RequestOut(BaseModel):
    id: str
    loan: str
    kind: str = Field(description="pledge (a top-up) or substitution")
    lot: str = Field(description="the lot pledged to the loan")
    release_lot: str | None = Field(description="the lot released from it (a substitution)")
    at_s: float
    requested_by: str
    state: str = Field(description="pending, approved (carried out) or rejected")
    decided_by: str | None
    decided_at_s: float | None
    reason: str | None


def _out(request: CollateralRequest) -> RequestOut:
    return RequestOut(id=request.id, loan=request.loan_id, kind=request.kind, lot=request.pledge_lot,
                      release_lot=request.release_lot, at_s=request.at_s, requested_by=request.requested_by,
                      state=request.state, decided_by=request.decided_by, decided_at_s=request.decided_at_s,
                      reason=request.reason)


class PledgeIn(BaseModel):
    lot: Ident


class SubstitutionIn(BaseModel):
    release_lot: Ident
    pledge_lot: Ident


@router.get("/loans/{loan_id}/pledges", response_model=list[RequestOut])
def list_pledges(loan_id: str, caller: Caller, ctx: Ctx) -> list[RequestOut]:
    """Top-up requests of the loan, oldest first, with who asked, who decided and when."""
    return [_out(r) for r in on_loan(ctx, caller, loan_id, lambda: ctx.collateral.requests(loan_id, "pledge"))]


@router.post("/loans/{loan_id}/pledges", status_code=201, response_model=RequestOut)
def pledge(loan_id: str, body: PledgeIn, caller: Caller, ctx: Ctx) -> RequestOut:
    """Add a lot to the loan's collateral: at once for its lender (or an admin), else a
    `pending` request for the lender. 409 'already pledged' if it backs another loan."""
    return _out(on_loan(ctx, caller, loan_id, lambda: ctx.collateral.ask(caller, loan_id, body.lot)))


@router.post("/loans/{loan_id}/pledges/{request_id}/approve", response_model=RequestOut)
def approve_pledge(loan_id: str, request_id: str, caller: Decider, ctx: Ctx) -> RequestOut:
    """The lender (or an admin) approves a pending top-up; the double-pledge guard applies now."""
    return _out(on_loan(ctx, caller, loan_id, lambda: ctx.collateral.approve(caller, loan_id, "pledge", request_id)))


@router.post("/loans/{loan_id}/pledges/{request_id}/reject", response_model=RequestOut)
def reject_pledge(loan_id: str, request_id: str, body: DecisionIn, caller: Decider, ctx: Ctx) -> RequestOut:
    """The lender (or an admin) refuses a pending top-up, with a reason: nothing is pledged."""
    return _out(on_loan(ctx, caller, loan_id, lambda: ctx.collateral.reject(
        caller, loan_id, "pledge", request_id, body.reason)))


@router.get("/loans/{loan_id}/substitutions", response_model=list[RequestOut])
def list_substitutions(loan_id: str, caller: Caller, ctx: Ctx) -> list[RequestOut]:
    """Substitution requests of the loan, oldest first, with who asked, who decided and when."""
    return [_out(r) for r in on_loan(ctx, caller, loan_id, lambda: ctx.collateral.requests(loan_id, "substitution"))]


@router.post("/loans/{loan_id}/substitutions", status_code=201, response_model=RequestOut)
def substitute(loan_id: str, body: SubstitutionIn, caller: Caller, ctx: Ctx) -> RequestOut:
    """Release `release_lot` and pledge `pledge_lot` in one transaction: at once for the lender
    (or an admin), else pending. Approved only if LTV after is at or below target with the new
    lot valued now (observed present, verified, fresh price, no critical alert); 409 with the
    reason otherwise."""
    return _out(on_loan(ctx, caller, loan_id, lambda: ctx.collateral.ask(
        caller, loan_id, body.pledge_lot, body.release_lot)))


@router.post("/loans/{loan_id}/substitutions/{request_id}/approve", response_model=RequestOut)
def approve_substitution(loan_id: str, request_id: str, caller: Decider, ctx: Ctx) -> RequestOut:
    """The lender (or an admin) approves a pending substitution: weighed now, carried out in one
    transaction, or 409 with the reason (it stays pending)."""
    return _out(on_loan(ctx, caller, loan_id, lambda: ctx.collateral.approve(
        caller, loan_id, "substitution", request_id)))


@router.post("/loans/{loan_id}/substitutions/{request_id}/reject", response_model=RequestOut)
def reject_substitution(loan_id: str, request_id: str, body: DecisionIn, caller: Decider, ctx: Ctx) -> RequestOut:
    """The lender (or an admin) refuses a pending substitution, with a reason: nothing changes."""
    return _out(on_loan(ctx, caller, loan_id, lambda: ctx.collateral.reject(
        caller, loan_id, "substitution", request_id, body.reason)))
