"""Registry changes that move money or collateral: pledges, repayments, releases.

The double-pledge guard lives here: a lot, and every EPC in it, backs at most one loan, until
its goods are released (a loan repaid to 0 still holds its pledges). A refused pledge is reported as a `double_pledge_attempt` condition addressed to the
lender that holds the pledge; the refusal reason shown to the caller never names that lender.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from backend.domain.alerts import Condition
from backend.domain.errors import RegistryError
from backend.domain.registry import Loan, Registry, ReleaseOrder, Repayment

ALREADY_PLEDGED = "already pledged"


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
