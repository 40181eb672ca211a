"""Risk scores over HTTP: staff see every entity's, a lender the scores of its own exposure,
computed from its own history only (docs/risk-scores.md)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from backend.api.deps import Ctx, require_role
from backend.domain.risk_scores import Kind
from backend.services import access
from backend.services.api_keys import Principal

router = APIRouter(prefix="/api/v1", tags=["risk"])
Caller = Annotated[Principal, Depends(require_role("admin", "supervisor", "lender"))]


@router.get("/risk-scores")
def risk_scores(caller: Caller, ctx: Ctx,
                kind: Annotated[Kind, Query(description="what is scored")]) -> dict[str, Any]:
    """A score per warehouse, gateway, borrower or commodity, the riskiest first, with its
    inputs (decayed counts of alerts by type, confirmed losses, inspections, sensor faults,
    blind hours) and each term's points; events weigh 2^(−age / half-life)."""
    return ctx.risk_scores.scores(kind, lender=None if access.is_staff(caller) else caller.lender)
