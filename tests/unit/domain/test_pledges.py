from decimal import Decimal

import pytest
from factory import loan, lot, registry
from hypothesis import given
from hypothesis import strategies as st

from backend.domain.errors import RegistryError
from backend.domain.pledges import ALREADY_PLEDGED, apply_release, apply_repayment, pledge_lot
from backend.domain.registry import Lot, ReleaseOrder, Repayment
from backend.domain.releases import decide_release, max_release_value

D = Decimal


def test_a_pledged_lot_cannot_back_a_second_loan():
    book = registry(loans=[loan("loan-1"), loan("loan-2", lots=(), lender="bank-b")])
    outcome = pledge_lot(book, "lot-1", "loan-2")
    assert outcome.refused_reason == ALREADY_PLEDGED
    assert "bank-a" not in outcome.refused_reason
    assert outcome.registry.loans["loan-2"].lot_ids == ()
    notice = outcome.notice
    assert (notice.type, notice.lender, notice.loan, notice.lot) == \
        ("double_pledge_attempt", "bank-a", "loan-1", "lot-1")


def test_a_lot_sharing_an_epc_with_a_pledged_lot_is_refused():
    first = lot("lot-1")
    twin = Lot("lot-2", "wh-2", "steel", first.items[:1], "s", "r")
    book = registry(lots=[first, twin], loans=[loan("loan-1"), loan("loan-2", lots=())])
    assert pledge_lot(book, "lot-2", "loan-2").refused_reason == ALREADY_PLEDGED


def test_a_lot_of_a_repaid_loan_stays_pledged_until_released():
    # Issue 12, finding 7 (before: a repaid loan's lot could be pledged again).
    book = registry(loans=[loan("loan-1", outstanding=0), loan("loan-2", lots=())])
    outcome = pledge_lot(book, "lot-1", "loan-2")
    assert outcome.refused_reason == "already pledged"
    assert outcome.registry.loan_of_lot["lot-1"] == "loan-1"


def test_repayment_lowers_the_outstanding_never_below_zero():
    book = apply_repayment(registry(), Repayment("loan-1", D(50_000), 0))
    assert book.loans["loan-1"].outstanding == 0
    with pytest.raises(RegistryError):
        apply_repayment(book, Repayment("loan-1", D(0), 0))


def test_only_the_lender_may_approve_a_release():
    book = registry()
    order = ReleaseOrder("r1", "loan-1", "lot-1", frozenset({"lot-1-0000"}), "bank-b", D(0), 0)
    with pytest.raises(RegistryError):
        apply_release(book, order)


@given(st.lists(st.integers(min_value=1, max_value=5), max_size=6))
def test_pledged_is_initial_minus_released(batches):
    book = registry()
    initial = book.lots["lot-1"].epcs
    released: set[str] = set()
    for n, count in enumerate(batches):
        chosen = frozenset(sorted(book.pledged_epcs["lot-1"])[:count])
        if not chosen:
            break
        book = apply_release(book, ReleaseOrder(f"r{n}", "loan-1", "lot-1", chosen, "bank-a",
                                                D(100), n))
        released |= chosen
    assert book.pledged_epcs["lot-1"] == initial - released
    assert book.pledged_quantity["lot-1"] == len(initial - released)
    assert book.loans["loan-1"].outstanding == 40_000 - 100 * len(book.releases)


money = st.decimals(min_value=D(0), max_value=D(10**7), places=2)


@given(money, money, st.decimals(min_value=D(1), max_value=D(10**7), places=2),
       st.decimals(min_value=D("0.1"), max_value=D("0.9"), places=2))
def test_the_largest_release_keeps_ltv_at_or_below_target(outstanding, repayment, value, target):
    room = max_release_value(outstanding, repayment, value, target)
    remaining = max(D(0), outstanding - repayment)
    assert 0 <= room <= value
    if remaining and room:
        assert remaining / (value - room) <= target * (1 + D("1e-20"))


def test_a_release_beyond_the_target_is_refused_with_the_most_allowed():
    # value 1000 per item × 20, outstanding 10 000, repay 1000 → 9000 ≤ 0.6 × (20 000 − Vr)
    decision = decide_release(6, D(1000), D(10_000), D(1000), D(20_000), D("0.6"))
    assert (decision.approved, decision.max_items) == (False, 5)
    assert decide_release(5, D(1000), D(10_000), D(1000), D(20_000), D("0.6")).approved
