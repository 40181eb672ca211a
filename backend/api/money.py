"""A loan's money over HTTP: repayments (pending until the lender confirms), drawdowns,
closing, and its signed borrowing-base certificate. Routes parse, call a service, shape the answer."""
from __future__ import annotations

import html
import json
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from backend.api.deps import Ctx, on_loan, principal, require_role
from backend.ports.money import RepaymentRecord
from backend.services.api_keys import Principal

router = APIRouter(prefix="/api/v1", tags=["money"])
Caller = Annotated[Principal, Depends(principal)]
Decider = Annotated[Principal, Depends(require_role("admin", "lender"))]  # the loan's lender, or an admin
Money = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]


class RepaymentIn(BaseModel):
    amount: Money


class DecisionIn(BaseModel):
    reason: str = Field("", max_length=500)


class RepaymentOut(BaseModel):
    id: str
    loan: str
    amount: Decimal
    at_s: float
    state: str = Field(description="pending (changes nothing yet), confirmed or rejected")
    entered_by: str
    decided_by: str | None
    decided_at_s: float | None
    reason: str | None
    outstanding: Decimal = Field(description="the loan's outstanding amount after this call")


def _repayment_out(ctx, record: RepaymentRecord) -> RepaymentOut:
    return RepaymentOut(id=record.id, loan=record.loan_id, amount=record.amount, at_s=record.at_s, state=record.state,
                        entered_by=record.entered_by, decided_by=record.decided_by, decided_at_s=record.decided_at_s,
                        reason=record.reason, outstanding=ctx.registry.snapshot().loans[record.loan_id].outstanding)


@router.get("/loans/{loan_id}/repayments", response_model=list[RepaymentOut])
def list_repayments(loan_id: str, caller: Caller, ctx: Ctx) -> list[RepaymentOut]:
    """The loan's repayments, oldest first: pending, confirmed and rejected, with who and when."""
    records = on_loan(ctx, caller, loan_id, lambda: ctx.money.repayments(loan_id))
    return [_repayment_out(ctx, r) for r in records]


@router.post("/loans/{loan_id}/repayments", status_code=201, response_model=RepaymentOut)
def repay(loan_id: str, body: RepaymentIn, caller: Caller, ctx: Ctx) -> RepaymentOut:
    """Record a repayment. The loan's lender (or an admin): confirmed at once, the outstanding
    falls. Anyone else who sees the loan: `pending` until the lender confirms; it changes nothing."""
    record = on_loan(ctx, caller, loan_id, lambda: ctx.money.repay(caller, loan_id, body.amount))
    return _repayment_out(ctx, record)


@router.post("/loans/{loan_id}/repayments/{repayment_id}/confirm", response_model=RepaymentOut)
def confirm_repayment(loan_id: str, repayment_id: str, caller: Decider, ctx: Ctx) -> RepaymentOut:
    """The lender (or an admin, recorded as the admin) confirms a pending repayment: the outstanding falls."""
    record = on_loan(ctx, caller, loan_id, lambda: ctx.money.confirm(caller, loan_id, repayment_id))
    return _repayment_out(ctx, record)


@router.post("/loans/{loan_id}/repayments/{repayment_id}/reject", response_model=RepaymentOut)
def reject_repayment(loan_id: str, repayment_id: str, body: DecisionIn, caller: Decider, ctx: Ctx) -> RepaymentOut:
    """The lender (or an admin) rejects a pending repayment (no cash seen): nothing changes."""
    record = on_loan(ctx, caller, loan_id, lambda: ctx.money.reject(caller, loan_id, repayment_id, body.reason))
    return _repayment_out(ctx, record)


class DrawdownIn(BaseModel):
    amount: Money


@router.post("/loans/{loan_id}/drawdowns", status_code=201)
def draw(loan_id: str, body: DrawdownIn, caller: Decider, ctx: Ctx) -> dict:
    """The lender raises the outstanding amount; 409 with the reason beyond drawing power
    (target LTV × lending value − outstanding), on a stale price, or before a valuation."""
    drawdown, loan = on_loan(ctx, caller, loan_id, lambda: ctx.money.draw(caller, loan_id, body.amount))
    return {"id": drawdown.id, "loan": loan_id, "amount": str(drawdown.amount), "by": drawdown.by,
            "at_s": drawdown.at_s, "outstanding": str(loan.outstanding)}


@router.post("/loans/{loan_id}/close")
def close_loan(loan_id: str, caller: Decider, ctx: Ctx) -> dict:
    """The lender closes a loan repaid in full: its remaining pledges are released (the goods
    are free). 409 with the reason while anything is outstanding; repaying to 0 frees nothing."""
    before = ctx.registry.snapshot().loans.get(loan_id)
    loan = on_loan(ctx, caller, loan_id, lambda: ctx.money.close(caller, loan_id))
    return {"loan": loan_id, "closed_at_s": loan.closed_at_s, "closed_by": caller.name,
            "released_lots": list(before.lot_ids) if before else []}


@router.get("/loans/{loan_id}/certificate")
def certificate(loan_id: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """The loan's borrowing-base certificate now: eligible collateral lot by lot, market and
    lending value, drawing power, outstanding, open alerts; signed with the backend's document
    key (Ed25519 over `body`, the canonical JSON of `document`; amounts as decimal strings)."""
    signed = on_loan(ctx, caller, loan_id, lambda: ctx.certificates.certificate(loan_id))
    return {"document": json.loads(signed.body), "body": signed.body.decode(), "signature": signed.signature,
            "key_id": signed.key_id}


@router.get("/loans/{loan_id}/certificate.html", response_model=None,  # errors stay JSON
            responses={200: {"description": "the certificate as a printable page",
                             "content": {"text/html": {"schema": {"type": "string"}}}}})
def certificate_html(loan_id: str, caller: Caller, ctx: Ctx) -> HTMLResponse:
    """The certificate, printable, with its signature."""
    signed = on_loan(ctx, caller, loan_id, lambda: ctx.certificates.certificate(loan_id))
    return HTMLResponse(render_certificate(json.loads(signed.body), signed.signature, signed.key_id))


def _cell(value: Any) -> str:
    return "<td>" + html.escape("—" if value is None else str(value)) + "</td>"


def render_certificate(doc: dict[str, Any], signature: str, key_id: str) -> str:
    rows = "".join("<tr>" + "".join(_cell(lot.get(k)) for k in (
        "lot", "warehouse", "commodity", "quantity", "unit", "unit_price", "market_value", "lending_value",
        "eligible", "reason")) + "</tr>" for lot in doc["lots"])
    alerts = "".join("<tr>" + "".join(_cell(a[k]) for k in ("id", "type", "severity", "lot", "opened_at_s"))
                     + "</tr>" for a in doc["open_alerts"]) or "<tr><td colspan=5>none</td></tr>"
    totals = "".join(f"<tr><th>{html.escape(label)}</th>{_cell(doc.get(key))}</tr>" for label, key in (
        ("Outstanding", "outstanding"), ("Market value", "market_value"), ("Lending value", "lending_value"),
        ("Eligible lending value", "eligible_value"), ("Drawing power", "drawing_power"), ("LTV", "ltv"),
        ("Target LTV", "target_ltv"), ("Status", "status")))
    title = f"Borrowing-base certificate — {doc['loan']}"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #999;padding:.25em .5em;text-align:left}}code{{word-break:break-all}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Lender {html.escape(doc['lender'])}, borrower {html.escape(doc['borrower'])}, amounts in
{html.escape(doc['currency'])}. Issued at {doc['at_s']} s (Unix time); valued at {html.escape(str(doc['valued_at_s']))} s.</p>
<table>{totals}</table>
<h2>Collateral</h2><table><tr><th>Lot</th><th>Warehouse</th><th>Commodity</th><th>Quantity</th><th>Unit</th>
<th>Unit price</th><th>Market value</th><th>Lending value</th><th>Eligible</th><th>Why not</th></tr>{rows}</table>
<h2>Open alerts</h2><table><tr><th>Id</th><th>Type</th><th>Severity</th><th>Lot</th><th>Opened at (s)</th></tr>
{alerts}</table>
<p>Signed by the PledgeWatch backend, key <code>{html.escape(key_id)}</code> (Ed25519 over the canonical JSON of
this certificate, as served by <code>GET /api/v1/loans/{html.escape(doc['loan'])}/certificate</code>):</p>
<p><code>{html.escape(signature)}</code></p></body></html>"""
