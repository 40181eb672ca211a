"""Alerts over HTTP: list and filter, acknowledge, resolve. A lender sees only its own."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from backend.api.deps import context, principal
from backend.domain.alerts import ALERT_TYPES
from backend.services import access
from backend.services.api_keys import Principal
from backend.services.events import alert_event, log_alert

router = APIRouter(prefix="/api/v1", tags=["alerts"])
Caller = Annotated[Principal, Depends(principal)]


class AlertOut(BaseModel):
    id: str
    type: str
    severity: str
    state: str
    opened_at_s: float
    acknowledged_at_s: float | None
    acknowledged_by: str | None
    ack_note: str | None
    resolved_at_s: float | None
    loan: str | None
    lot: str | None
    lender: str | None
    gateway: str | None
    details: dict[str, Any]


def _out(record) -> AlertOut:
    return AlertOut(**{name: getattr(record, name) for name in AlertOut.model_fields})


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(caller: Caller, ctx=Depends(context),
                state: Literal["open", "acknowledged", "resolved"] | None = None,
                type: Annotated[str | None, Query(pattern=f"^({'|'.join(ALERT_TYPES)})$")] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[AlertOut]:
    """Newest first."""
    records = ctx.alerts.find(state=state, type_=type, lender=access.alert_lender_filter(caller),
                              limit=limit, offset=offset)
    return [_out(r) for r in records]


def _visible(ctx, caller: Principal, alert_id: str):
    record = ctx.alerts.get(alert_id)
    lender = access.alert_lender_filter(caller)
    if record is None or (lender is not None and record.lender != lender):
        raise HTTPException(404, f"no alert {alert_id!r}")
    return record


class AckIn(BaseModel):
    note: str | None = Field(None, max_length=2000)


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut)
def acknowledge(alert_id: str, caller: Caller, ctx=Depends(context), body: AckIn | None = None) -> AlertOut:
    """Who saw it, when, and a note. 409 when it is not open."""
    _visible(ctx, caller, alert_id)
    if not ctx.alerts.acknowledge(alert_id, caller.name, body.note if body else None, ctx.clock()):
        raise HTTPException(409, "only an open alert can be acknowledged")
    return _published("acknowledged", ctx, alert_id, caller.name)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve(alert_id: str, caller: Caller, ctx=Depends(context)) -> AlertOut:
    """Close an alert by hand (how a one-off notice ends). 409 when already resolved."""
    _visible(ctx, caller, alert_id)
    if not ctx.alerts.resolve(alert_id, caller.name, ctx.clock()):
        raise HTTPException(409, "the alert is already resolved")
    return _published("resolved", ctx, alert_id, caller.name)


def _published(action: str, ctx, alert_id: str, by: str) -> AlertOut:
    """Log and tell live dashboards what a person did, and answer with the stored alert."""
    record = ctx.alerts.get(alert_id)
    log_alert(action, record, by)
    ctx.events.publish([alert_event(action, record)])
    return _out(record)
