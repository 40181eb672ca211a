"""Who may see what. Object-level rules live here, not in each route.

Staff (admin, supervisor) see the whole book. A lender sees its own loans, the lots that
back them, and the alerts addressed to it; anything else does not exist for it (404).
"""
from __future__ import annotations

from backend.domain.registry import Loan, Registry
from backend.services.api_keys import Principal

STAFF = ("admin", "supervisor")


def is_staff(caller: Principal) -> bool:
    return caller.role in STAFF


def sees_loan(caller: Principal, registry: Registry, loan_id: str) -> bool:
    loan = registry.loans.get(loan_id)
    return loan is not None and (is_staff(caller) or loan.lender_id == caller.lender)


def sees_lot(caller: Principal, registry: Registry, lot_id: str) -> bool:
    if lot_id not in registry.lots:
        return False
    return is_staff(caller) or registry.lender_of_lot(lot_id) == caller.lender


def decides_for(caller: Principal, loan: Loan) -> bool:
    """Who confirms repayments and approves collateral changes: the loan's lender, or an
    admin acting for it (recorded as the admin, never as the lender)."""
    return caller.role == "admin" or (caller.role == "lender" and caller.lender == loan.lender_id)


def alert_lender_filter(caller: Principal) -> str | None:
    """None: every alert; else only alerts addressed to this lender."""
    return None if is_staff(caller) else caller.lender
