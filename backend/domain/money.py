"""Money moving on a loan: drawdowns, interest, substitutions, closing. Pure: values in, decisions out.

Interest accrues daily on the outstanding amount at the loan's yearly `rate` over its day
count's year (ACT/360: 360 days, ACT/365: 365; actual days elapsed). Each whole day elapsed
since interest was last posted adds

    day's interest = outstanding × rate ÷ days in the year,  rounded to the cent, half-even

to the outstanding amount (posted, so the next day's interest is on it too: daily
compounding). Rounding per day, to the cent, with banker's rounding (ROUND_HALF_EVEN), so a
book of many loans carries no upward bias. A part of a day is posted when it completes. The
day's interest is on the balance when it is posted (the backend posts every monitor tick, so
within seconds of the day's end), not a mean of the day's balances: a repayment made during
the day lowers that whole day's interest.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from backend.domain.registry import Interest, Loan
from backend.domain.valuation import drawing_power, loan_to_value

DAY_S = 86_400
DAYS_IN_YEAR = {"ACT/360": 360, "ACT/365": 365}
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Decision:
    approved: bool
    reason: str


def cents(amount: Decimal) -> Decimal:
    """An amount as it is shown and told: to the cent (however the database wrote it)."""
    return amount.quantize(CENT)


def _refused(reason: str) -> Decision:
    return Decision(False, reason)


def drawdown_decision(loan: Loan, amount: Decimal, collateral_value: Decimal | None,
                      price_stale: bool) -> Decision:
    """Raise the outstanding by `amount` only within drawing power (target LTV × lending value
    − outstanding), on a valuation that rests on fresh prices."""
    if loan.closed_at_s is not None:
        return _refused("the loan is closed")
    if amount <= 0:
        return _refused("a drawdown must be positive")
    if collateral_value is None:
        return _refused("the loan has no valuation yet; try again once its goods are priced")
    if price_stale:
        return _refused("the loan's valuation rests on a stale price")
    power = drawing_power(loan.target_ltv, collateral_value, loan.outstanding)
    if amount > power:
        return _refused(f"exceeds drawing power: at most {cents(power)} {loan.currency} can be drawn")
    return Decision(True, "within drawing power")


def close_refusal(loan: Loan) -> str | None:
    """Why the loan cannot be closed now (None: it can)."""
    if loan.closed_at_s is not None:
        return "the loan is already closed"
    if loan.outstanding > 0:
        return (f"outstanding {cents(loan.outstanding)} {loan.currency}: a loan closes only when it is "
                f"repaid in full")
    return None


def substitution_decision(loan: Loan, collateral_value: Decimal, value_out: Decimal,
                          value_in: Decimal) -> Decision:
    """Swap collateral worth `value_out` (its lending value in the loan now) for collateral
    worth `value_in` (at a fresh price): approved if LTV after is at or below the target."""
    after = collateral_value - value_out + value_in
    ltv_after = loan_to_value(loan.outstanding, after)
    if ltv_after > loan.target_ltv:
        shown = "infinite" if not ltv_after.is_finite() else f"{ltv_after:.4f}"
        return _refused(f"LTV after the substitution would be {shown}, above the target {loan.target_ltv.normalize()}")
    return Decision(True, "within target LTV")


@dataclass(frozen=True, slots=True)
class InterestPosting:
    loan_id: str
    amount: Decimal                            # interest of `days` whole days, each rounded
    days: int
    from_s: float                              # interest was posted up to here
    to_s: float                                # and now is up to here


def day_interest(outstanding: Decimal, interest: Interest) -> Decimal:
    return (outstanding * interest.rate / DAYS_IN_YEAR[interest.day_count]).quantize(CENT, ROUND_HALF_EVEN)


def interest_due(loan: Loan, now_s: float) -> InterestPosting | None:
    """The interest of the whole days elapsed since it was last posted (None: nothing due:
    no interest, not started, closed, or less than a day)."""
    if loan.interest is None or loan.interest_accrued_to_s is None or loan.closed_at_s is not None:
        return None
    days = int((now_s - loan.interest_accrued_to_s) // DAY_S)
    if days < 1:
        return None
    balance = loan.outstanding
    for _ in range(days):
        balance += day_interest(balance, loan.interest)
    return InterestPosting(loan.id, balance - loan.outstanding, days, loan.interest_accrued_to_s,
                           loan.interest_accrued_to_s + days * DAY_S)
