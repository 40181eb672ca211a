"""Who may see what. Object-level rules live here, not in each route.

Staff (admin, supervisor) see the whole book. A lender sees its own loans, the lots that
back them, and the alerts addressed to it. A borrower sees its own loans and the lots that
back them. A warehouse sees the lots in its warehouses (and their delivery orders), no
loan. Anything else does not exist for them (404); a gateway key sees nothing of the book.
"""
from __future__ import annotations

from backend.domain.registry import Loan, Registry
from backend.services.api_keys import Principal

STAFF = ("admin", "supervisor")
NO_LENDER = ""  # names no lender: alerts of no lender match it


def is_staff(caller: Principal) -> bool:
    return caller.role in STAFF


def _owns_loan(caller: Principal, loan: Loan) -> bool:
    if caller.role == "lender":
        return loan.lender_id == caller.lender
    return caller.role == "borrower" and loan.borrower_id == caller.borrower


def sees_loan(caller: Principal, registry: Registry, loan_id: str) -> bool:
    loan = registry.loans.get(loan_id)
    return loan is not None and (is_staff(caller) or _owns_loan(caller, loan))


def sees_lot(caller: Principal, registry: Registry, lot_id: str) -> bool:
    lot = registry.lots.get(lot_id)
    if lot is None:
        return False
    if is_staff(caller):
        return True
    if caller.role == "warehouse":
        return lot.warehouse_id in caller.warehouses
    loan_id = registry.loan_of_lot.get(lot_id)
    return loan_id is not None and _owns_loan(caller, registry.loans[loan_id])


def visible_loan_ids(caller: Principal, registry: Registry) -> tuple[str, ...]:
    """The ids of the loans `caller` sees (as `sees_loan`), in id order, read from the
    snapshot's indexes rather than by testing every loan of the book."""
    if is_staff(caller):
        return registry.loan_ids
    if caller.role == "lender" and caller.lender:
        return registry.loan_ids_of_lender.get(caller.lender, ())
    if caller.role == "borrower" and caller.borrower:
        return registry.loan_ids_of_borrower.get(caller.borrower, ())
    return ()


def decides_for(caller: Principal, loan: Loan) -> bool:
    """Who confirms repayments and approves collateral changes and releases: the loan's
    lender, or an admin acting for it (recorded as the admin, never as the lender)."""
    return caller.role == "admin" or (caller.role == "lender" and caller.lender == loan.lender_id)


def requests_for(caller: Principal, loan: Loan) -> bool:
    """Who may ask for goods to leave: the loan's borrower, or staff on its behalf."""
    return is_staff(caller) or (caller.role == "borrower" and caller.borrower == loan.borrower_id)


def alert_lender_filter(caller: Principal) -> str | None:
    """None: every alert; else only alerts addressed to this lender (NO_LENDER for a party
    that is not a lender: borrowers, warehouses and gateways are addressed no alert)."""
    if is_staff(caller):
        return None
    return caller.lender if caller.role == "lender" and caller.lender else NO_LENDER


def sees_delivery_order(caller: Principal, registry: Registry, loan_id: str, warehouse_id: str) -> bool:
    """A delivery order: whoever sees its loan, and the keeper of its warehouse."""
    if caller.role == "warehouse":
        return warehouse_id in caller.warehouses
    return sees_loan(caller, registry, loan_id)
