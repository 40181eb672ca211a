"""The money rules: interest accrual and its rounding, drawdowns, closing, substitutions."""
from dataclasses import replace
from decimal import Decimal

import pytest
from factory import loan, lot, registry
from hypothesis import given
from hypothesis import strategies as st

from backend.domain import money, pledges
from backend.domain.errors import RegistryError
from backend.domain.registry import Interest

D = Decimal
DAY = 86_400


def accruing(rate: str = "0.065", day_count: str = "ACT/360", outstanding: int = 900_000, since_s: float = 0):
    return replace(loan(outstanding=outstanding), interest=Interest(D(rate), day_count),  # type: ignore[arg-type]
                   interest_accrued_to_s=since_s)


def test_a_days_interest_is_rounded_to_the_cent_half_even():
    assert money.day_interest(D(900_000), Interest(D("0.065"))) == D("162.50")
    assert money.day_interest(D("36000"), Interest(D("0.0005"))) == D("0.05")
    assert money.day_interest(D("1.8"), Interest(D("0.01"))) == D("0.00")        # 0.00005 → 0.00
    assert money.day_interest(D("54"), Interest(D("0.01"))) == D("0.00")         # 0.0015 → 0.00 (even)
    assert money.day_interest(D("1260"), Interest(D("0.01"))) == D("0.04")       # 0.035 → 0.04 (even)


def test_interest_compounds_daily_on_whole_days_only():
    assert money.interest_due(accruing(), DAY - 1) is None
    posting = money.interest_due(accruing(), 3 * DAY + 600)
    assert (posting.days, posting.from_s, posting.to_s) == (3, 0, 3 * DAY)
    assert posting.amount == D("162.50") + D("162.53") + D("162.56")


def test_act_365_spreads_a_years_rate_over_365_days():
    posting = money.interest_due(accruing(day_count="ACT/365", outstanding=365_000), DAY)
    assert posting.amount == D("65.00")


def test_no_interest_without_a_rate_before_it_starts_or_once_closed():
    assert money.interest_due(loan(), 10 * DAY) is None
    assert money.interest_due(replace(accruing(), interest_accrued_to_s=None), 10 * DAY) is None
    assert money.interest_due(replace(accruing(), closed_at_s=5.0), 10 * DAY) is None


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=60))
def test_interest_never_lowers_the_outstanding_and_the_cursor_moves_by_whole_days(outstanding, days):
    posting = money.interest_due(accruing(outstanding=outstanding), days * DAY + 1)
    assert posting.amount >= 0 and posting.to_s == days * DAY
    assert posting.amount == posting.amount.quantize(D("0.01"))


def test_a_drawdown_is_approved_only_within_drawing_power_on_a_fresh_valuation():
    book_loan = loan(outstanding=40_000)                    # 0.6 × 100,000 − 40,000 = 20,000
    assert money.drawdown_decision(book_loan, D(20_000), D(100_000), False).approved
    refused = money.drawdown_decision(book_loan, D("20000.01"), D(100_000), False)
    assert refused == money.Decision(False, "exceeds drawing power: at most 20000.00 CNY can be drawn")
    assert "stale" in money.drawdown_decision(book_loan, D(1), D(100_000), True).reason
    assert "no valuation" in money.drawdown_decision(book_loan, D(1), None, False).reason
    assert "closed" in money.drawdown_decision(replace(book_loan, closed_at_s=1.0), D(1), D(100_000), False).reason


def test_a_loan_closes_only_when_nothing_is_owed_and_closing_releases_its_lots():
    book = registry()
    with pytest.raises(RegistryError, match="outstanding 40000.00 CNY"):
        pledges.close_loan(book, "loan-1", 10)
    repaid = pledges.set_outstanding(book, "loan-1", D(0))
    assert repaid.loan_of_lot == {"lot-1": "loan-1"}       # repaid to 0: the goods are still held
    closed = pledges.close_loan(repaid, "loan-1", 10)
    assert (closed.loans["loan-1"].lot_ids, closed.loans["loan-1"].closed_at_s) == ((), 10)
    assert closed.loan_of_lot == {}
    assert pledges.pledge_lot(closed, "lot-1", "loan-1").refused_reason == pledges.LOAN_CLOSED
    assert money.close_refusal(closed.loans["loan-1"]) == "the loan is already closed"


def test_a_substitution_swaps_lots_at_once_and_the_incoming_lot_is_guarded():
    book = registry(lots=[lot("lot-1"), lot("lot-2", warehouse="wh-2"), lot("lot-3")],
                    loans=[loan("loan-1"), loan("loan-2", lots=("lot-3",), lender="bank-b")])
    swapped = pledges.substitute(book, "loan-1", "lot-1", "lot-2")
    assert swapped.refused_reason is None and swapped.registry.loans["loan-1"].lot_ids == ("lot-2",)
    held = pledges.substitute(book, "loan-1", "lot-1", "lot-3")
    assert held.refused_reason == pledges.ALREADY_PLEDGED and held.registry is book
    assert held.notice.lender == "bank-b"
    with pytest.raises(RegistryError):
        pledges.substitute(book, "loan-1", "lot-2", "lot-1")  # lot-2 does not back loan-1


def test_a_substitution_keeps_ltv_at_or_below_target():
    book_loan = loan(outstanding=60_000)                    # target 0.6
    assert money.substitution_decision(book_loan, D(100_000), D(50_000), D(50_000)).approved
    refused = money.substitution_decision(book_loan, D(100_000), D(50_000), D("49999"))
    assert refused.reason == "LTV after the substitution would be 0.6000, above the target 0.6"
    assert "infinite" in money.substitution_decision(book_loan, D(100_000), D(100_000), D(0)).reason
