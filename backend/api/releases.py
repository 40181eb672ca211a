"""Releases over HTTP, maker-checker: a request (the borrower, or staff), the lender's approval
(another key) issuing a signed delivery order, or its refusal; delivery orders read, printed
and acknowledged by the warehouse. Routes parse, call a service, shape the answer."""
from __future__ import annotations

import html
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, model_validator

from backend.api.deps import Ctx, on_loan, principal, require_role
from backend.ports.releases import DeliveryOrderRecord, ReleaseRequest
from backend.services.api_keys import Principal
from backend.services.registry import Conflict, NotFound

router = APIRouter(prefix="/api/v1", tags=["releases"])
Caller = Annotated[Principal, Depends(principal)]
Requester = Annotated[Principal, Depends(require_role("admin", "supervisor", "borrower"))]
Decider = Annotated[Principal, Depends(require_role("admin", "lender"))]  # the loan's lender, or an admin
Keeper = Annotated[Principal, Depends(require_role("admin", "warehouse"))]
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Epc = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{8,64}$")]


class ReleaseRequestIn(BaseModel):
    lot: Ident
    items: int | None = Field(None, ge=1, le=100_000, description="how many items (the lender's approval "
                                                                    "chooses which, among those observed present)")
    epcs: list[Epc] | None = Field(None, min_length=1, max_length=10_000, description="or exactly these EPCs")
    repayment: Ident | None = Field(None, description="the repayment it is asked against (its id); goods "
                                                      "leave only once it is confirmed")

    @model_validator(mode="after")
    def _items_or_epcs(self) -> "ReleaseRequestIn":
        if (self.items is None) == (self.epcs is None):
            raise ValueError("name either items or epcs")
        if self.epcs is not None and len(set(self.epcs)) != len(self.epcs):
            raise ValueError("an EPC is named twice")
        return self


class ApproveIn(BaseModel):
    valid_for_s: int | None = Field(None, ge=60, le=30 * 86_400,
                                    description="how long the delivery order lets the goods out "
                                                "(default: the backend's `releases.delivery_order_valid_s`)")


class RefuseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class ReleaseRequestOut(BaseModel):
    id: str
    loan: str
    lot: str
    items: int | None
    epcs: list[str] | None
    repayment: str | None
    at_s: float
    requested_by: str
    state: str = Field(description="pending, approved (a delivery order was issued) or refused")
    decided_by: str | None = Field(description="who approved or refused: the lender's key, or an admin's")
    decided_at_s: float | None
    reason: str | None
    delivery_order: str | None


def _request_out(request: ReleaseRequest) -> ReleaseRequestOut:
    return ReleaseRequestOut(id=request.id, loan=request.loan_id, lot=request.lot_id, items=request.items,
                             epcs=sorted(request.epcs) if request.epcs is not None else None,
                             repayment=request.repayment, at_s=request.at_s, requested_by=request.requested_by,
                             state=request.state, decided_by=request.decided_by, decided_at_s=request.decided_at_s,
                             reason=request.reason, delivery_order=request.delivery_order)


class DeliveryOrderOut(BaseModel):
    id: str
    request: str
    loan: str
    lot: str
    warehouse: str
    epcs: list[str]
    issued_by: str
    issued_at_s: float
    valid_until_s: float
    state: str = Field(description="issued, acknowledged (by the warehouse), fulfilled (every EPC left) or "
                                   "expired (unfulfilled: the EPCs still there are pledged again)")
    acknowledged_by: str | None
    acknowledged_at_s: float | None
    closed_at_s: float | None
    left_epcs: list[str] = Field(description="EPCs that left under it (released when it closed)")
    document: dict[str, Any] = Field(description="the signed document, as issued")
    body: str = Field(description="its canonical JSON: what the signature covers")
    signature: str = Field(description="base64 Ed25519 signature over `body` (key: GET /api/v1/documents/key)")
    key_id: str


def _order_out(order: DeliveryOrderRecord) -> DeliveryOrderOut:
    return DeliveryOrderOut(id=order.id, request=order.request_id, loan=order.loan_id, lot=order.lot_id,
                            warehouse=order.warehouse_id, epcs=sorted(order.epcs), issued_by=order.issued_by,
                            issued_at_s=order.issued_at_s, valid_until_s=order.valid_until_s, state=order.state,
                            acknowledged_by=order.acknowledged_by, acknowledged_at_s=order.acknowledged_at_s,
                            closed_at_s=order.closed_at_s, left_epcs=sorted(order.left_epcs),
                            document=json.loads(order.body), body=order.body.decode(), signature=order.signature,
                            key_id=order.key_id)


@router.get("/loans/{loan_id}/releases", response_model=list[ReleaseRequestOut])
def list_releases(loan_id: str, caller: Caller, ctx: Ctx) -> list[ReleaseRequestOut]:
    """The loan's release requests, oldest first, with who asked, who decided and when."""
    return [_request_out(r) for r in on_loan(ctx, caller, loan_id, lambda: ctx.releases.requests(loan_id))]


@router.post("/loans/{loan_id}/releases", status_code=201, response_model=ReleaseRequestOut)
def request_release(loan_id: str, body: ReleaseRequestIn, caller: Requester, ctx: Ctx) -> ReleaseRequestOut:
    """Ask the loan's lender to let goods leave (the borrower, or staff for it): `pending` until
    the lender approves or refuses it. Named EPCs are held for it: 409 if another pending
    request or open delivery order names one."""
    epcs = frozenset(body.epcs) if body.epcs is not None else None
    return _request_out(on_loan(ctx, caller, loan_id, lambda: ctx.releases.ask(
        caller, loan_id, body.lot, body.items, epcs, body.repayment)))


@router.post("/loans/{loan_id}/releases/{release_id}/approve")
def approve_release(loan_id: str, release_id: str, caller: Decider, ctx: Ctx,
                    body: ApproveIn | None = None) -> dict[str, Any]:
    """The loan's lender (or an admin, recorded as the admin), with another key than the one
    that asked, approves: a signed delivery order names the EPCs that may leave (observed
    present, on no other order). 409 with the reason when the lot is unverified, its price
    stale, a critical alert open on it, or LTV would exceed target with every open order
    counted; the request then stays pending."""
    valid_for_s = body.valid_for_s if body else None
    request, order = on_loan(ctx, caller, loan_id, lambda: ctx.releases.approve(
        caller, loan_id, release_id, valid_for_s))
    return {"request": _request_out(request).model_dump(), "delivery_order": _order_out(order).model_dump()}


@router.post("/loans/{loan_id}/releases/{release_id}/refuse", response_model=ReleaseRequestOut)
def refuse_release(loan_id: str, release_id: str, body: RefuseIn, caller: Decider, ctx: Ctx) -> ReleaseRequestOut:
    """The loan's lender (or an admin) refuses a pending request, with a reason: nothing leaves."""
    return _request_out(on_loan(ctx, caller, loan_id, lambda: ctx.releases.refuse(
        caller, loan_id, release_id, body.reason)))


def _order(ctx, caller: Principal, order_id: str) -> DeliveryOrderRecord:
    try:
        return ctx.delivery_orders.get(caller, order_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get("/delivery-orders", response_model=list[DeliveryOrderOut])
def list_delivery_orders(caller: Caller, ctx: Ctx) -> list[DeliveryOrderOut]:
    """The delivery orders the caller may see, newest first: a warehouse its warehouses', a
    lender or borrower its loans'."""
    return [_order_out(o) for o in ctx.delivery_orders.visible(caller)]


@router.get("/delivery-orders/{order_id}", response_model=DeliveryOrderOut)
def get_delivery_order(order_id: str, caller: Caller, ctx: Ctx) -> DeliveryOrderOut:
    """One delivery order: the signed document and its state since (who acknowledged it, when it closed)."""
    return _order_out(_order(ctx, caller, order_id))


@router.get("/delivery-orders/{order_id}/print", response_model=None,  # errors stay JSON
            responses={200: {"description": "the delivery order as a printable page",
                             "content": {"text/html": {"schema": {"type": "string"}}}}})
def print_delivery_order(order_id: str, caller: Caller, ctx: Ctx) -> HTMLResponse:
    """The delivery order, printable, with its signature."""
    order = _order(ctx, caller, order_id)
    return HTMLResponse(render_delivery_order(json.loads(order.body), order))


@router.post("/delivery-orders/{order_id}/acknowledge", response_model=DeliveryOrderOut)
def acknowledge_delivery_order(order_id: str, caller: Keeper, ctx: Ctx) -> DeliveryOrderOut:
    """The keeper of its warehouse (or an admin, recorded as the admin) confirms it will hand
    the goods out; 409 once acknowledged, closed or past its validity."""
    try:
        return _order_out(ctx.delivery_orders.acknowledge(caller, order_id))
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from exc


@router.get("/documents/key")
def document_key(ctx: Ctx) -> dict[str, str]:
    """The backend's document key (no authentication): delivery orders and borrowing-base
    certificates carry an Ed25519 signature over their canonical JSON made with it."""
    key_id, pem = ctx.delivery_orders.public_key()
    return {"alg": "ed25519", "key_id": key_id, "public_key_pem": pem}


def render_delivery_order(doc: dict[str, Any], order: DeliveryOrderRecord) -> str:
    def row(label: str, value: Any) -> str:
        return f"<tr><th>{html.escape(label)}</th><td>{html.escape('—' if value is None else str(value))}</td></tr>"
    facts = "".join(row(label, doc.get(key)) for label, key in (
        ("Loan", "loan"), ("Lender", "lender"), ("Borrower", "borrower"), ("Warehouse", "warehouse"),
        ("Lot", "lot"), ("Commodity", "commodity"), ("Items", "items"), ("Quantity", "quantity"), ("Unit", "unit"),
        ("Requested by", "requested_by"), ("Approved by", "approved_by"), ("Repayment", "repayment"),
        ("Issued at (s)", "issued_at_s"), ("Valid until (s)", "valid_until_s")))
    state = row("State now", order.state) + row("Acknowledged by", order.acknowledged_by)
    epcs = "".join(f"<li><code>{html.escape(epc)}</code></li>" for epc in doc["epcs"])
    title = f"Delivery order {doc['id']}"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #999;padding:.25em .5em;text-align:left}}code{{word-break:break-all}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Only the items below may leave the lot, until the validity ends. Any other item leaving is reported
to the lender as unauthorized removal.</p>
<table>{facts}{state}</table>
<h2>Items (EPC)</h2><ol>{epcs}</ol>
<p>Signed by the PledgeWatch backend, key <code>{html.escape(order.key_id)}</code> (Ed25519 over the canonical
JSON of this order, as served by <code>GET /api/v1/delivery-orders/{html.escape(order.id)}</code>; public key at
<code>GET /api/v1/documents/key</code>):</p>
<p><code>{html.escape(order.signature)}</code></p></body></html>"""
