"""The log entries of decisions on the book and its money, built one way (kinds and leaf
format: backend/domain/evidence.py, docs/evidence.md).

Each builder takes what the decision stored (the record the service hands its store) and who
made it; the store appends the entry in the transaction that writes the row, so a row and its
entry commit together. Times are whole seconds (`int`), the second the decision was taken.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .evidence import Entry, decimals
from .inspections import Inspection
from .registry import Loan, Lot, Registry


def _entry(kind: str, at_s: float, subjects: Mapping[str, str], **payload: Any) -> Entry:
    return Entry(kind, int(at_s), subjects, {name: value for name, value in payload.items() if value is not None})


# -- collateral: pledges (top-ups) and substitutions -------------------------------------------

def collateral_entry(outcome: str, *, kind: str, loan_id: str, request_id: str | None, pledge_lot: str,
                     release_lot: str | None, by: str, at_s: float, requested_by: str | None = None,
                     reason: str | None = None) -> Entry:
    """A pledge or substitution request's step: `outcome` requested, approved, rejected or
    refused (a pledge the double-pledge guard or the loan's state stopped: no request stored)."""
    subjects = {"loan": loan_id, "lot": pledge_lot}
    if kind == "substitution":
        name = {"requested": "substitution.requested", "approved": "substitution",
                "rejected": "substitution.rejected", "refused": "substitution.refused"}[outcome]
        return _entry(name, at_s, subjects, by=by, request=request_id, release_lot=release_lot,
                      requested_by=requested_by if outcome in ("approved", "rejected") else None, reason=reason)
    name = {"requested": "pledge.requested", "approved": "pledge", "rejected": "pledge.rejected",
            "refused": "pledge.refused"}[outcome]
    return _entry(name, at_s, subjects, by=by, request=request_id, reason=reason,
                  requested_by=requested_by if outcome in ("approved", "rejected") else None)


def pledged(loan_id: str, lot: Lot, unit: str | None, by: str, at_s: float) -> Entry:
    """A lot pledged through the registry (a new loan's lots, a book's): what it holds, as pledged."""
    return _entry("pledge", at_s, {"loan": loan_id, "lot": lot.id}, by=by, commodity=lot.commodity_id,
                  quantity=sum((item.quantity for item in lot.items), Decimal(0)), unit=unit, items=len(lot.items))


def pledged_in(registry: Registry, loan_id: str, lot_id: str, by: str, at_s: float) -> Entry:
    lot = registry.lots[lot_id]
    commodity = registry.commodities.get(lot.commodity_id)
    return pledged(loan_id, lot, commodity.unit if commodity else None, by, at_s)


# -- money -----------------------------------------------------------------------------------------

def repayment_entry(state: str, *, loan: Loan, reference: str, amount: Decimal, entered_by: str,
                    decided_by: str | None, at_s: float, outstanding: Decimal | None = None,
                    reason: str | None = None) -> Entry:
    """A repayment entered (`pending`), `confirmed` (the loan's new outstanding) or `rejected`."""
    subjects = {"loan": loan.id}
    if state == "pending":
        return _entry("repayment.entered", at_s, subjects, by=entered_by, amount=amount, currency=loan.currency,
                      reference=reference)
    if state == "confirmed":
        return _entry("repayment", at_s, subjects, by=decided_by, amount=amount, currency=loan.currency,
                      reference=reference, entered_by=entered_by, outstanding=outstanding)
    return _entry("repayment.rejected", at_s, subjects, by=decided_by, amount=amount, currency=loan.currency,
                  reference=reference, reason=reason, entered_by=entered_by)


def drawdown_entry(loan: Loan, reference: str, amount: Decimal, by: str, at_s: float, outstanding: Decimal) -> Entry:
    return _entry("drawdown", at_s, {"loan": loan.id}, by=by, amount=amount, currency=loan.currency,
                  reference=reference, outstanding=outstanding)


def interest_entry(loan: Loan, amount: Decimal, days: int, from_s: float, to_s: float,
                   outstanding: Decimal) -> Entry:
    """Interest posted by the backend (`by: system`), at the end of the days it covers."""
    assert loan.interest is not None
    return _entry("interest.posted", to_s, {"loan": loan.id}, by="system", amount=amount, currency=loan.currency,
                  days=days, from_s=int(from_s), to_s=int(to_s), rate=loan.interest.rate,
                  day_count=loan.interest.day_count, outstanding=outstanding)


def loan_closed(loan: Loan, by: str, at_s: float) -> Entry:
    return _entry("loan.closed", at_s, {"loan": loan.id}, by=by, released_lots=list(loan.lot_ids))


# -- the book: what is created, counted, commented ------------------------------------------------

def epcs_sha256(lot: Lot) -> str:
    """SHA-256 (hex) of the lot's EPCs, sorted, one a line ("\\n" after each)."""
    return hashlib.sha256("".join(f"{epc}\n" for epc in sorted(item.epc for item in lot.items)).encode()).hexdigest()


def loan_created(loan: Loan, by: str, at_s: float) -> Entry:
    interest = {"rate": loan.interest.rate, "day_count": loan.interest.day_count} if loan.interest else None
    thresholds = {"warning": loan.thresholds.warning, "margin_call": loan.thresholds.margin_call,
                  "liquidation": loan.thresholds.liquidation}
    return _entry("loan.created", at_s, {"loan": loan.id, "borrower": loan.borrower_id}, by=by, lender=loan.lender_id,
                  currency=loan.currency, outstanding=loan.outstanding, haircut=loan.haircut,
                  target_ltv=loan.target_ltv, thresholds=thresholds, cure_period_s=loan.cure_period_s,
                  interest=interest)


def lot_created(lot: Lot, by: str, at_s: float) -> Entry:
    weight_kg = sum((Decimal(repr(item.weight_kg)) for item in lot.items), Decimal(0))
    return _entry("lot.created", at_s, {"lot": lot.id, "warehouse": lot.warehouse_id, "commodity": lot.commodity_id},
                  by=by, items=len(lot.items), quantity=sum((item.quantity for item in lot.items), Decimal(0)),
                  weight_kg=weight_kg, epcs_sha256=epcs_sha256(lot),
                  tare_kg=Decimal(repr(lot.tare_kg)) if lot.tare_kg else None)


def book_added(delta: Registry, by: str, at_s: float) -> list[Entry]:
    """Entities added to the book: a `loan.created` per loan, a `lot.created` per lot, a `pledge`
    per lot a new loan holds, and one `book.changed` naming every entity added, with the SHA-256
    of that description."""
    entries = [loan_created(loan, by, at_s) for loan in delta.loans.values()]
    entries += [lot_created(lot, by, at_s) for lot in delta.lots.values()]
    entries += [pledged_in(delta, loan.id, lot_id, by, at_s) for loan in delta.loans.values()
                for lot_id in loan.lot_ids if lot_id in delta.lots]
    added = {name: sorted(ids) for name, ids in (
        ("lenders", delta.lenders), ("borrowers", delta.borrowers), ("commodities", delta.commodities),
        ("warehouses", delta.warehouses), ("lots", delta.lots), ("loans", delta.loans)) if ids}
    if added:
        text = json.dumps(added, sort_keys=True, separators=(",", ":"))
        summary = "; ".join(f"{name} {', '.join(ids)}" for name, ids in added.items())
        entries.append(_entry("book.changed", at_s, {}, by=by, book_sha256=hashlib.sha256(text.encode()).hexdigest(),
                              summary=f"added {summary}"))
    return entries


def inspection_recorded(inspection: Inspection, inspection_id: int, by: str) -> Entry:
    return _entry("inspection.recorded", inspection.at_s, {"lot": inspection.lot_id}, by=by,
                  inspection=str(inspection_id), items=inspection.items,
                  quantity=inspection.quantity, note=inspection.note or None,
                  temperature_c=decimals(inspection.temperature_c))


def alert_commented(subjects: Mapping[str, str], by: str, text: str, at_s: float) -> Entry:
    return _entry("alert.commented", at_s, subjects, by=by, comment=text)

