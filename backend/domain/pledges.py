"""Registry changes that move money or collateral: pledges, repayments, releases,
substitutions, drawdowns, interest and closing a loan.

The double-pledge guard lives here: a lot, and every EPC in it, backs at most one loan, until
its goods are released (a loan repaid to 0 still holds its pledges). A refused pledge is reported as a `double_pledge_attempt` condition addressed to the
lender that holds the pledge; the refusal reason shown to the caller never names that lender.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from backend.domain import money
from backend.domain.alerts import Condition
from backend.domain.errors import RegistryError
from backend.domain.registry import Loan, Registry, ReleaseOrder, Repayment

ALREADY_PLEDGED = "already pledged"
LOAN_CLOSED = "the loan is closed"


@dataclass(frozen=True, slots=True)
class PledgeOutcome:
    registry: Registry
    refused_reason: str | None = None          # None: the pledge was recorded
    notice: Condition | None = None            # double_pledge_attempt, when refused


def holder_of(registry: Registry, lot_id: str) -> Loan | None:
    """The loan already backed by this lot or by any of its EPCs."""
    lot = registry.lots[lot_id]
    for loan in registry.loans.values():
        for held_id in loan.lot_ids:
            if held_id == lot_id or not lot.epcs.isdisjoint(registry.lots[held_id].epcs):
                return loan
    return None


def pledge_lot(registry: Registry, lot_id: str, loan_id: str) -> PledgeOutcome:
    """Add `lot_id` to the collateral of `loan_id`, unless it already backs a loan."""
    if lot_id not in registry.lots or loan_id not in registry.loans:
        raise RegistryError(f"unknown lot {lot_id!r} or loan {loan_id!r}")
    loan = registry.loans[loan_id]
    if loan.closed_at_s is not None:
        return PledgeOutcome(registry, LOAN_CLOSED)
    if lot_id in loan.lot_ids:
        return PledgeOutcome(registry)
    holder = holder_of(registry, lot_id)
    if holder is not None:
        notice = Condition(
            "double_pledge_attempt", subject=lot_id, lot=lot_id, loan=holder.id,
            lender=holder.lender_id, gateway=registry.gateway_of_lot(lot_id),
            details={"reason": ALREADY_PLEDGED, "borrower": loan.borrower_id, "attempting_loan": loan.id})
        return PledgeOutcome(registry, ALREADY_PLEDGED, notice)
    pledged = replace(loan, lot_ids=loan.lot_ids + (lot_id,))
    return PledgeOutcome(replace(registry, loans={**registry.loans, loan_id: pledged}))


def apply_repayment(registry: Registry, repayment: Repayment) -> Registry:
    """Lower the loan's outstanding amount (never below zero) and record the repayment."""
    if repayment.amount <= 0:
        raise RegistryError(f"a repayment must be positive, got {repayment.amount}")
    loan = registry.loans[repayment.loan_id]
    repaid = replace(loan, outstanding=max(Decimal(0), loan.outstanding - repayment.amount))
    return replace(registry, loans={**registry.loans, loan.id: repaid},
                   repayments=registry.repayments + (repayment,))


def apply_release(registry: Registry, order: ReleaseOrder) -> Registry:
    """Record an approved release: its EPCs may leave, its repayment lowers the outstanding."""
    loan = registry.loans[order.loan_id]
    if order.approved_by != loan.lender_id:
        raise RegistryError(f"release {order.id}: only the loan's lender may approve it")
    if order.lot_id not in loan.lot_ids:
        raise RegistryError(f"release {order.id}: lot {order.lot_id} does not back {loan.id}")
    not_pledged = order.epcs - registry.pledged_epcs[order.lot_id]
    if not_pledged:
        raise RegistryError(f"release {order.id}: {len(not_pledged)} EPCs are not pledged")
    released = replace(registry, releases=registry.releases + (order,))
    if order.repayment > 0:
        released = apply_repayment(released, Repayment(loan.id, order.repayment, order.at_s))
    return released


def _with_loan(registry: Registry, loan: Loan) -> Registry:
    return replace(registry, loans={**registry.loans, loan.id: loan})


def substitute(registry: Registry, loan_id: str, release_lot: str, pledge_lot_id: str) -> PledgeOutcome:
    """Release `release_lot` from the loan and pledge `pledge_lot_id` in its place, at once;
    refused as a pledge is (the double-pledge guard applies to the lot coming in)."""
    loan = registry.loans[loan_id]
    if release_lot not in loan.lot_ids:
        raise RegistryError(f"lot {release_lot} does not back {loan_id}")
    if pledge_lot_id == release_lot:
        raise RegistryError("a lot cannot be substituted for itself")
    without = _with_loan(registry, replace(loan, lot_ids=tuple(x for x in loan.lot_ids if x != release_lot)))
    outcome = pledge_lot(without, pledge_lot_id, loan_id)
    if outcome.refused_reason is not None or pledge_lot_id in loan.lot_ids:
        return PledgeOutcome(registry, outcome.refused_reason or "the lot already backs this loan", outcome.notice)
    return outcome


def set_outstanding(registry: Registry, loan_id: str, outstanding: Decimal,
                    interest_accrued_to_s: float | None = None) -> Registry:
    """A drawdown or posted interest: the loan's new outstanding amount (and how far its
    interest is posted, when given)."""
    loan = registry.loans[loan_id]
    accrued = loan.interest_accrued_to_s if interest_accrued_to_s is None else interest_accrued_to_s
    return _with_loan(registry, replace(loan, outstanding=outstanding, interest_accrued_to_s=accrued))


def close_loan(registry: Registry, loan_id: str, at_s: float) -> Registry:
    """Close a loan repaid in full: every lot still pledged to it is released."""
    refusal = money.close_refusal(registry.loans[loan_id])
    if refusal is not None:
        raise RegistryError(refusal)
    return _with_loan(registry, replace(registry.loans[loan_id], lot_ids=(), closed_at_s=at_s))
