"""The LTV state machine of one loan.

    normal → warning → margin_call → default (cure deadline passed)
                     ↘ liquidation (LTV at or above the top threshold)

Up: a status is entered as soon as LTV reaches its threshold. Down: LTV must fall
`hysteresis` below the threshold it crossed, so noise at a threshold cannot flap. A margin
call sets a cure deadline (entry + cure period) and a cure amount (outstanding − target ×
value). A call is cured (`ltv_cured`) only when LTV is back at the target LTV or below (what
repaying the cure amount, or topping up by it, achieves); a bounce that leaves LTV between
the target and the margin-call level keeps the loan in margin call, on the first call's
deadline. Missing the deadline is a default, which is final. An unknown LTV (no price yet)
changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from backend.domain.registry import Thresholds

LoanStatus = Literal["normal", "warning", "margin_call", "liquidation", "default"]
_RANK = {"normal": 0, "warning": 1, "margin_call": 2, "liquidation": 3}
_IN_CALL = ("margin_call", "liquidation")
DEFAULT_TARGET_BELOW_WARNING = Decimal("0.10")   # the book's default target: warning − 0.10


@dataclass(frozen=True, slots=True)
class LoanStanding:
    status: LoanStatus = "normal"
    since_s: float = 0
    cure_deadline_s: float | None = None


def level(ltv: Decimal, thresholds: Thresholds) -> LoanStatus:
    if ltv >= thresholds.liquidation:
        return "liquidation"
    if ltv >= thresholds.margin_call:
        return "margin_call"
    if ltv >= thresholds.warning:
        return "warning"
    return "normal"


def target_status(current: LoanStatus, ltv: Decimal, thresholds: Thresholds,
                  hysteresis: Decimal) -> LoanStatus:
    """Up at once; down only as far as LTV + hysteresis allows."""
    up = level(ltv, thresholds)
    if _RANK[up] >= _RANK[current]:
        return up
    down = level(ltv + hysteresis, thresholds)
    return down if _RANK[down] < _RANK[current] else current


def next_standing(previous: LoanStanding, ltv: Decimal | None, thresholds: Thresholds,
                  cure_period_s: int, hysteresis: Decimal, now_s: float,
                  target_ltv: Decimal | None = None) -> tuple[LoanStanding, bool]:
    """The new standing, and whether this step cured a margin call (at `target_ltv`;
    default warning − 0.10)."""
    if previous.status == "default" or ltv is None:
        return previous, False
    deadline = previous.cure_deadline_s
    if deadline is not None and now_s >= deadline:
        return LoanStanding("default", now_s, deadline), False
    if previous.status == "normal" and ltv < thresholds.warning:
        return previous, False                 # the usual loan: below every threshold
    status = target_status(previous.status, ltv, thresholds, hysteresis)
    was_in_call = previous.status in _IN_CALL
    if was_in_call and status not in _IN_CALL:
        target = thresholds.warning - DEFAULT_TARGET_BELOW_WARNING if target_ltv is None else target_ltv
        if ltv > target:
            status = "margin_call"             # better, not cured: the deadline runs on
    if status == previous.status:
        return previous, False
    in_call = status in _IN_CALL
    if in_call and deadline is None:
        deadline = now_s + cure_period_s
    cured = was_in_call and not in_call
    return LoanStanding(status, now_s, deadline if in_call else None), cured


def cure_amount(outstanding: Decimal, target_ltv: Decimal, collateral_value: Decimal) -> Decimal:
    """What must be repaid to bring LTV back to target."""
    return max(Decimal(0), outstanding - target_ltv * collateral_value)
