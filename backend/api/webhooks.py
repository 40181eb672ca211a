"""Bank webhook endpoints over HTTP (interfaces.md): admin for any lender, a lender for
itself. The secret is shown once, at registration (and on rotation). Anything of another
lender does not exist for a lender (404)."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel, Field

from backend.api.deps import Ctx, require_role
from backend.services.api_keys import Principal
from backend.services.webhooks import WebhookError

router = APIRouter(prefix="/api/v1", tags=["webhooks"])
Caller = Annotated[Principal, Depends(require_role("admin", "lender"))]


class WebhookIn(BaseModel):
    lender: str | None = Field(None, description="defaults to the calling lender")
    url: Annotated[str, Field(max_length=2000)]
    event_types: list[str] | None = Field(None, description="alert types, and `inspection` for inspection tasks; omitted: all")


class WebhookOut(BaseModel):
    id: str
    lender: str
    url: str
    event_types: list[str] | None
    enabled: bool
    disabled_reason: str | None
    disabled_at_s: float | None
    created_at_s: float
    rotating_until_s: float | None


class DeliveryOut(BaseModel):
    event_id: str
    attempt: int
    at_s: float
    outcome: Literal["delivered", "http_error", "network_error", "blocked", "gone"]
    status_code: int | None
    error: str | None
    duration_ms: float
    next_attempt_at_s: float | None


def _out(record, now_s: float) -> WebhookOut:
    rotating = record.previous_secret_until_s if record.previous_secret and \
        (record.previous_secret_until_s or 0) > now_s else None
    return WebhookOut(id=record.id, lender=record.lender, url=record.url,
                      event_types=list(record.event_types) if record.event_types is not None else None,
                      enabled=record.enabled, disabled_reason=record.disabled_reason,
                      disabled_at_s=record.disabled_at_s, created_at_s=record.created_at_s,
                      rotating_until_s=rotating)


def _own_lender(caller: Principal) -> str | None:
    return None if caller.role == "admin" else caller.lender


def _visible(ctx, caller: Principal, webhook_id: str):
    record = ctx.webhooks.visible(webhook_id, _own_lender(caller))
    if record is None:
        raise HTTPException(404, f"no webhook {webhook_id!r}")
    return record


@router.post("/webhooks", status_code=201)
def register(body: WebhookIn, caller: Caller, ctx: Ctx) -> dict:
    """→ 201 {"id", "secret": "whsec_..."}; the secret is never shown again."""
    lender = body.lender or caller.lender
    if lender is None:
        raise HTTPException(400, "name the `lender` the endpoint belongs to")
    if (caller.role == "lender" and lender != caller.lender) or lender not in ctx.registry.snapshot().lenders:
        raise HTTPException(404, f"no lender {lender!r}")
    try:
        record, secret = ctx.webhooks.register(lender, body.url, body.event_types)
    except WebhookError as exc:
        raise HTTPException(400, str(exc)) from exc
    return {"id": record.id, "secret": secret, **_out(record, ctx.clock()).model_dump(exclude={"id"})}


@router.get("/webhooks", response_model=list[WebhookOut])
def list_webhooks(caller: Caller, ctx: Ctx) -> list[WebhookOut]:
    """Every endpoint an admin may see, or the caller's own; disabled ones say why."""
    now_s = ctx.clock()
    return [_out(r, now_s) for r in ctx.webhooks.endpoints(_own_lender(caller))]


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: str, caller: Caller, ctx: Ctx) -> WebhookOut:
    """One webhook registration (admin, or the lender it belongs to); the secret is never shown again."""
    return _out(_visible(ctx, caller, webhook_id), ctx.clock())


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, caller: Caller, ctx: Ctx) -> Response:
    """Stops deliveries (pending ones are cancelled); the delivery log is kept."""
    _visible(ctx, caller, webhook_id)
    ctx.webhooks.remove(webhook_id)
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/rotate-secret")
def rotate_secret(webhook_id: str, caller: Caller, ctx: Ctx) -> dict:
    """A new secret, shown once; the old one keeps signing too until `rotating_until_s`."""
    _visible(ctx, caller, webhook_id)
    secret = ctx.webhooks.rotate_secret(webhook_id)
    return {"id": webhook_id, "secret": secret,
            "rotating_until_s": _out(ctx.webhooks.visible(webhook_id, None), ctx.clock()).rotating_until_s}


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut])
def deliveries(webhook_id: str, caller: Caller, ctx: Ctx,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Annotated[int, Query(ge=0)] = 0) -> list[DeliveryOut]:
    """Every attempt, newest first."""
    _visible(ctx, caller, webhook_id)
    return [DeliveryOut(**{name: getattr(r, name) for name in DeliveryOut.model_fields})
            for r in ctx.webhooks.deliveries(webhook_id, limit, offset)]


class RedeliverIn(BaseModel):
    event_id: str = Field(min_length=1, max_length=96, description="the webhook-id of an event this endpoint was sent")


@router.post("/webhooks/{webhook_id}/ping", status_code=202)
def ping(webhook_id: str, caller: Caller, ctx: Ctx) -> dict:
    """Queue a test event (`com.pledgewatch.ping`, signed like any other) for this endpoint alone."""
    _visible(ctx, caller, webhook_id)
    return {"event_id": ctx.webhooks.ping(webhook_id)}


@router.post("/webhooks/{webhook_id}/redeliver", status_code=202)
def redeliver(webhook_id: str, body: RedeliverIn, caller: Caller, ctx: Ctx) -> dict:
    """Send an event again now, under the same webhook-id (a bank lost it or fixed its receiver); 404 if
    this endpoint never had it."""
    _visible(ctx, caller, webhook_id)
    try:
        ctx.webhooks.redeliver(webhook_id, body.event_id)
    except WebhookError as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"event_id": body.event_id}
