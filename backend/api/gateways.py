from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from backend.api.deps import Ctx, require_role
from backend.ports.ingest import GatewayStatus

router = APIRouter(prefix="/api/v1", tags=["gateways"])
staff = require_role("admin", "supervisor")


class GatewayOut(BaseModel):
    id: str
    online: bool
    boot_epoch: int | None
    last_seq: int | None
    acked_seq: int | None
    last_seen: datetime | None
    missing_seqs: int  # never received and not announced dropped: unexplained gaps
    dropped_seqs: int  # announced by the gateway as dropped by its outbox size cap
    refused_seqs: int  # quarantined for good (the gateway was told, and keeps them)
    info: dict[str, Any]


def _out(status: GatewayStatus) -> GatewayOut:
    seen = (datetime.fromtimestamp(status.last_seen_ms / 1000, timezone.utc)
            if status.last_seen_ms is not None else None)
    return GatewayOut(id=status.gateway, online=status.online, boot_epoch=status.boot_epoch,
                      last_seq=status.last_seq, acked_seq=status.acked_seq, last_seen=seen,
                      missing_seqs=status.missing_seqs, dropped_seqs=status.dropped_seqs,
                      refused_seqs=status.refused_seqs, info=dict(status.info))


@router.get("/gateways", response_model=list[GatewayOut])
def list_gateways(ctx: Ctx, caller=Depends(staff)) -> list[GatewayOut]:
    """Every gateway that ever reported: online, boot epoch, sequence progress, last seen, gaps (staff)."""
    return [_out(s) for s in ctx.ledger.gateways()]


@router.get("/gateways/{gateway_id}", response_model=GatewayOut)
def get_gateway(gateway_id: str, ctx: Ctx, caller=Depends(staff)) -> GatewayOut:
    """One gateway's delivery state: online, boot epoch, last and acknowledged seq, missing seqs (staff)."""
    for status in ctx.ledger.gateways():
        if status.gateway == gateway_id:
            return _out(status)
    raise HTTPException(404, f"no gateway {gateway_id!r}")


class QuarantinedOut(BaseModel):
    topic: str
    reason: str
    detail: str
    received_at: datetime
    reading_count: int
    payload_preview: str  # the first 200 bytes, as text where it decodes


@router.get("/quarantine", response_model=list[QuarantinedOut], tags=["operations"])
def list_quarantine(ctx: Ctx, caller=Depends(require_role("admin")),
                    limit: int = Query(100, ge=1, le=1000)) -> list[QuarantinedOut]:
    """Messages refused by ingest, newest first, with the reason."""
    return [QuarantinedOut(topic=q.topic, reason=q.reason, detail=q.detail,
                           received_at=datetime.fromtimestamp(q.received_at_ms / 1000, timezone.utc),
                           reading_count=q.reading_count,
                           payload_preview=q.payload[:200].decode("utf-8", "replace"))
            for q in ctx.ledger.quarantined(limit)]
