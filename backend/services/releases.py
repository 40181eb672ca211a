"""Releasing goods against repayment: the most a repayment can free, and the release itself.

Goods may leave only a lot the monitor can vouch for (verified, priced at a fresh price, no
critical alert open on it), and only EPCs its reader sees: never the missing ones.
"""
from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Callable

from backend.domain import registry as reg
from backend.domain.releases import ReleaseDecision, decide_release
from backend.services.registry import Conflict, NotFound, RegistryService

# lot id -> (why a release is refused now, or None; the EPCs observed present, or None: unknown)
ReleaseGuard = Callable[[str], tuple[str | None, frozenset[str] | None]]


class ReleaseService:
    def __init__(self, *, registry: RegistryService, collateral_value: Callable[[str], Decimal | None],
                 value_per_item: Callable[[str, str], Decimal], clock: Callable[[], float],
                 guard: ReleaseGuard = lambda lot_id: (None, None)) -> None:
        """`guard(lot_id)` → (why nothing may leave now or None, the pledged EPCs observed
        present or None when unknown)."""
        self.registry, self.collateral_value = registry, collateral_value
        self.value_per_item, self.clock, self.guard = value_per_item, clock, guard

    def decide(self, loan_id: str, lot_id: str, items: int, repayment: Decimal) -> ReleaseDecision:
        registry = self.registry.snapshot()
        loan = registry.loans.get(loan_id)
        if loan is None or lot_id not in loan.lot_ids:
            raise NotFound(f"lot {lot_id!r} does not back loan {loan_id!r}")
        refusal, present = self.guard(lot_id)
        if refusal is not None:
            return ReleaseDecision(False, 0, refusal)
        if present is not None and items > len(present):
            return ReleaseDecision(False, len(present), f"only {len(present)} pledged items of lot "
                                                        f"{lot_id} are observed present")
        value = self.collateral_value(loan_id)
        if value is None:
            raise Conflict("the loan has no valuation yet; try again once its goods are priced")
        pledged = len(registry.pledged_epcs[lot_id])
        if items > pledged:
            raise Conflict(f"only {pledged} items of lot {lot_id} are pledged")
        return decide_release(items, self.value_per_item(lot_id, loan_id), loan.outstanding,
                              repayment, value, loan.target_ltv)

    def release(self, loan_id: str, lot_id: str, items: int,
                repayment: Decimal) -> tuple[reg.ReleaseOrder, reg.Loan]:
        """The loan's lender lets `items` leave `lot_id` against `repayment` (whoever clicks,
        the approval is the lender's); Conflict with the reason when LTV would exceed target."""
        decision = self.decide(loan_id, lot_id, items, repayment)
        if not decision.approved:
            raise Conflict(decision.reason)
        registry = self.registry.snapshot()
        _, present = self.guard(lot_id)
        leaving = sorted(registry.pledged_epcs[lot_id] if present is None else present)
        epcs = frozenset(leaving[len(leaving) - items:])  # goods leave from the end of the lot
        at_s = self.clock()
        order_id = "rel-" + hashlib.sha256(f"{loan_id}|{lot_id}|{at_s}".encode()).hexdigest()[:12]
        order = reg.ReleaseOrder(order_id, loan_id, lot_id, epcs, registry.loans[loan_id].lender_id,
                                 repayment, at_s)
        return order, self.registry.record_release(order)
