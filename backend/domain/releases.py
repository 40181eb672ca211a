"""How much a repayment may release: goods leave only while LTV stays at or below target.

After a release of value V_r against a repayment R the loan must satisfy

    (outstanding − R) ≤ target_ltv × (collateral_value − V_r)

so the most it can free is  V_r = collateral_value − (outstanding − R) / target_ltv.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal


def max_release_value(outstanding: Decimal, repayment: Decimal, collateral_value: Decimal,
                      target_ltv: Decimal) -> Decimal:
    """The most collateral value (haircut applied) that can leave; never negative."""
    remaining = max(Decimal(0), outstanding - repayment)
    if remaining == 0:
        return collateral_value
    return max(Decimal(0), collateral_value - remaining / target_ltv)


@dataclass(frozen=True, slots=True)
class ReleaseDecision:
    approved: bool
    max_items: int
    reason: str


def decide_release(items: int, value_per_item: Decimal, outstanding: Decimal,
                   repayment: Decimal, collateral_value: Decimal,
                   target_ltv: Decimal) -> ReleaseDecision:
    """Approve `items` (each worth `value_per_item` as collateral) if LTV stays ≤ target."""
    room = max_release_value(outstanding, repayment, collateral_value, target_ltv)
    if value_per_item <= 0:
        max_items = items
    else:
        max_items = int((room / value_per_item).to_integral_value(rounding=ROUND_FLOOR))
    if items <= max_items:
        return ReleaseDecision(True, max_items, "within target LTV")
    return ReleaseDecision(False, max_items,
                           f"would lift LTV above target: at most {max_items} items "
                           f"can be released against this repayment")


def choose_epcs(lot_id: str, available: frozenset[str], items: int | None,
                named: frozenset[str] | None) -> tuple[frozenset[str], str | None]:
    """The EPCs a delivery order names, among `available` (pledged, observed present, on no
    other open order): exactly `named`, or `items` of them, the highest first (goods leave
    from the end of the lot). (EPCs, None) or (empty, why not)."""
    if named is not None:
        unavailable = named - available
        if unavailable:
            return frozenset(), (f"{len(unavailable)} of the named EPCs of lot {lot_id} are not pledged items "
                                 f"observed present, or are on another open delivery order")
        return named, None
    wanted = items or 0
    if wanted > len(available):
        return frozenset(), (f"only {len(available)} pledged items of lot {lot_id} are observed present "
                             f"and on no other open delivery order")
    return frozenset(sorted(available)[len(available) - wanted:]), None
