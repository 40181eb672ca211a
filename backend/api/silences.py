"""Silences over HTTP (staff): quiet a warehouse's, a gateway's or an alert type's alerts for
a while, with a reason. Silenced alerts are still stored and sent to the banks, marked."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, Field

from backend.api.deps import Ctx, require_role
from backend.domain.silences import MAX_SILENCE_S
from backend.services.api_keys import Principal
from backend.services.silences import SilenceRefused

router = APIRouter(prefix="/api/v1", tags=["alerts"])
Staff = Annotated[Principal, Depends(require_role("admin", "supervisor"))]


class SilenceIn(BaseModel):
    scope: Literal["warehouse", "gateway", "type"]
    value: str = Field(min_length=1, max_length=64, description="the warehouse, gateway or alert type")
    reason: str = Field(min_length=1, max_length=2000)
    for_s: float = Field(gt=0, le=MAX_SILENCE_S, description="how long, in seconds (at most 30 days)")


class SilenceOut(BaseModel):
    id: str
    scope: str
    value: str
    gateway: str | None
    reason: str
    created_by: str
    created_at_s: float
    until_s: float


@router.post("/silences", response_model=SilenceOut, status_code=201)
def add_silence(body: SilenceIn, caller: Staff, ctx: Ctx) -> SilenceOut:
    """Silence alerts in a scope for a while (maintenance, a known outage); they are still raised and sent to the
    bank, marked `silenced_by`."""
    try:
        silence = ctx.silences.silence(caller, body.scope, body.value, body.reason, body.for_s)
    except SilenceRefused as exc:
        raise HTTPException(400, str(exc)) from exc
    return SilenceOut(**{name: getattr(silence, name) for name in SilenceOut.model_fields})


@router.get("/silences", response_model=list[SilenceOut])
def list_silences(caller: Staff, ctx: Ctx) -> list[SilenceOut]:
    """The silences running now, oldest first."""
    return [SilenceOut(**{name: getattr(s, name) for name in SilenceOut.model_fields}) for s in ctx.silences.running()]


@router.delete("/silences/{silence_id}", status_code=204)
def end_silence(silence_id: str, caller: Staff, ctx: Ctx) -> Response:
    """End a silence now (it stays on record)."""
    if not ctx.silences.end(caller, silence_id):
        raise HTTPException(404, f"no running silence {silence_id!r}")
    return Response(status_code=204)
