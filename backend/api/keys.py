"""API keys and the audit log (admin only)."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel, Field, model_validator

from backend.api.deps import Ctx, require_role

router = APIRouter(prefix="/api/v1", tags=["security"])
admin = require_role("admin")


class KeyIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    role: Literal["admin", "supervisor", "lender", "gateway"]
    lender: str | None = None

    @model_validator(mode="after")
    def _lender_iff_lender_role(self) -> "KeyIn":
        if (self.role == "lender") != (self.lender is not None):
            raise ValueError("a lender key names its lender; other roles name none")
        return self


class KeyOut(BaseModel):
    id: str
    name: str
    role: str
    lender: str | None
    created_at_s: float
    created_by: str
    revoked_at_s: float | None


class NewKeyOut(KeyOut):
    key: str  # shown this once


def _out(record, **extra) -> dict:
    return {"id": record.id, "name": record.name, "role": record.role, "lender": record.lender_id,
            "created_at_s": record.created_at_s, "created_by": record.created_by,
            "revoked_at_s": record.revoked_at_s, **extra}


@router.post("/keys", status_code=201, response_model=NewKeyOut)
def create_key(body: KeyIn, ctx: Ctx, caller=Depends(admin)) -> dict:
    """Create an API key; the key is in this answer only, the server keeps its hash (admin)."""
    if body.lender is not None and body.lender not in ctx.registry.snapshot().lenders:
        raise HTTPException(404, f"no lender {body.lender!r}")
    record, key = ctx.keyring.create(body.name, body.role, body.lender, caller.name)
    return _out(record, key=key)


@router.get("/keys", response_model=list[KeyOut])
def list_keys(ctx: Ctx, caller=Depends(admin)) -> list[dict]:
    """API keys by name, role and lender, never the key itself (admin)."""
    return [_out(r) for r in ctx.keyring.listed()]


@router.delete("/keys/{key_id}", status_code=204)
def revoke_key(key_id: str, ctx: Ctx, caller=Depends(admin)) -> Response:
    """Revoke an API key at once: its next request answers 401 (admin)."""
    if not ctx.keyring.revoke(key_id):
        raise HTTPException(404, f"no active key {key_id!r}")
    return Response(status_code=204)


class AuditOut(BaseModel):
    at_s: float
    actor: str | None
    role: str | None
    method: str
    path: str
    status: int
    client: str | None


@router.get("/audit", response_model=list[AuditOut])
def audit_log(ctx: Ctx, caller=Depends(admin),
              limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[AuditOut]:
    """Mutating calls, newest first."""
    return [AuditOut(**e.__dict__) for e in ctx.audit.recent(limit, offset)]
