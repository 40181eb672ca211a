"""API keys and the audit log (admin only)."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel, Field, model_validator

from backend.api.deps import Ctx, require_role
from backend.settings import key_binding_problem

router = APIRouter(prefix="/api/v1", tags=["security"])
admin = require_role("admin")


class KeyIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    role: Literal["admin", "supervisor", "lender", "borrower", "warehouse", "gateway"]
    lender: str | None = Field(None, description="a lender key's lender (it sees only its own loans)")
    borrower: str | None = Field(None, description="a borrower key's borrower (its own loans and lots; it "
                                                   "requests releases and substitutions, never approves)")
    warehouses: list[str] = Field(default_factory=list, max_length=100,
                                  description="a warehouse key's warehouses (their lots and delivery orders)")

    @model_validator(mode="after")
    def _bound_to_its_party(self) -> "KeyIn":
        problem = key_binding_problem(self.role, self.lender, self.borrower, self.warehouses)
        if problem:
            raise ValueError(problem)
        return self


class KeyOut(BaseModel):
    id: str
    name: str
    role: str
    lender: str | None
    borrower: str | None = None
    warehouses: list[str] = []
    created_at_s: float
    created_by: str
    revoked_at_s: float | None


class NewKeyOut(KeyOut):
    key: str  # shown this once


def _out(record, **extra) -> dict:
    return {"id": record.id, "name": record.name, "role": record.role, "lender": record.lender_id,
            "borrower": record.borrower_id, "warehouses": list(record.warehouse_ids or ()),
            "created_at_s": record.created_at_s, "created_by": record.created_by,
            "revoked_at_s": record.revoked_at_s, **extra}


@router.post("/keys", status_code=201, response_model=NewKeyOut)
def create_key(body: KeyIn, ctx: Ctx, caller=Depends(admin)) -> dict:
    """Create an API key; the key is in this answer only, the server keeps its hash (admin)."""
    registry = ctx.registry.snapshot()
    if body.lender is not None and body.lender not in registry.lenders:
        raise HTTPException(404, f"no lender {body.lender!r}")
    if body.borrower is not None and body.borrower not in registry.borrowers:
        raise HTTPException(404, f"no borrower {body.borrower!r}")
    unknown = sorted(set(body.warehouses) - set(registry.warehouses))
    if unknown:
        raise HTTPException(404, f"no warehouse {unknown[0]!r}")
    record, key = ctx.keyring.create(body.name, body.role, body.lender, caller.name, body.borrower,
                                     body.warehouses)
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
