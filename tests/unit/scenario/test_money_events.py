"""Issue 14 in scenarios: repayments confirmed by the lender, drawdowns within drawing power,
closing a loan, substitutions at a fresh price, and daily interest."""
from decimal import Decimal
from pathlib import Path

from book import BASE, alerts_of, run_book

from backend.scenario.report import result_document
from backend.scenario.runner import run_file

SEED = Path(__file__).resolve().parents[3] / "seeds" / "scenarios" / "money-loop.yaml"


def ev(at: str, **fields):
    return {"at": at, **fields}


def actions(result) -> list[tuple]:
    return [(a.at_s, a.type, a.outcome, a.reason) for a in result.actions]


def test_a_borrowers_repayment_waits_for_the_lenders_confirmation():
    result = run_book([ev("30m", type="repay", loan="loan-1", amount=100000, by="acme"),
                       ev("40m", type="confirm_repayment", loan="loan-1", by="bank-b"),
                       ev("50m", type="confirm_repayment", loan="loan-1", by="bank-a"),
                       ev("1h", type="confirm_repayment", loan="loan-1")], duration="2h")
    assert actions(result) == [
        (1800, "repayment", "pending", "entered by acme"),
        (2400, "confirm_repayment", "refused", "bank-b is not the lender of loan-1"),
        (3000, "confirm_repayment", "approved", None),
        (3600, "confirm_repayment", "refused", "no pending repayment")]
    assert result.state.loan_views["loan-1"].outstanding == 800000


def test_a_drawdown_beyond_drawing_power_is_refused():
    # 0.6 × (500 t × 4000 × 0.9) − 900,000 = 180,000 can be drawn
    result = run_book([ev("30m", type="drawdown", loan="loan-1", amount=200000),
                       ev("40m", type="drawdown", loan="loan-1", amount=150000),
                       ev("50m", type="drawdown", loan="loan-1", amount=40000)], duration="1h")
    assert [(a.outcome, a.reason) for a in result.actions] == [
        ("refused", "exceeds drawing power: at most 180000.00 CNY can be drawn"), ("approved", None),
        ("refused", "exceeds drawing power: at most 30000.00 CNY can be drawn")]
    assert result.state.loan_views["loan-1"].outstanding == 1050000


def test_repaid_to_zero_the_pledge_holds_until_the_loan_is_closed():
    result = run_book([ev("20m", type="close_loan", loan="loan-1"),
                       ev("30m", type="repay", loan="loan-1", amount=900000),
                       ev("40m", type="pledge", lot="lot-1", loan="loan-2"),
                       ev("50m", type="close_loan", loan="loan-1", by="bank-a"),
                       ev("1h", type="pledge", lot="lot-1", loan="loan-2")], duration="90m")
    assert [(a.type, a.outcome) for a in result.actions] == [
        ("close_loan", "refused"), ("repayment", "recorded"), ("pledge", "refused"),
        ("close_loan", "approved"), ("pledge", "approved")]
    assert result.actions[0].reason == "outstanding 900000.00 CNY: a loan closes only when it is repaid in full"
    assert result.registry.loans["loan-1"].lot_ids == ()
    assert result.registry.loans["loan-2"].lot_ids == ("lot-2", "lot-1")
    assert [kind for kind, *_ in alerts_of(result)] == ["double_pledge_attempt"]


SPARE = {"lots": BASE["lots"] + [{"id": "lot-3", "warehouse": "wh-1", "commodity": "copper", "items": 10,
                                  "item_quantity": 5}],
         "commodities": BASE["commodities"] + [{"id": "copper", "unit": "t"}],
         "prices": BASE["prices"] + [{"commodity": "copper", "currency": "CNY", "per": "t", "start": 68000,
                                      "max_age": "1h"}]}


def test_a_substitution_weighs_the_incoming_lot_at_a_fresh_price():
    # lot-3: 50 t × 68,000 × 0.9 = 3.06 M for lot-1's 1.8 M: LTV 0.29 after
    swap = {"type": "substitute", "loan": "loan-1", "release_lot": "lot-1", "pledge_lot": "lot-3"}
    stale = run_book([ev("10m", type="price_feed_stop", commodity="copper"), ev("80m", **swap)],
                     duration="2h", **SPARE)
    [refused] = stale.actions
    assert (refused.outcome, refused.reason) == ("refused", "lot lot-3: price of copper is stale (4260 s old)")
    fresh = run_book([ev("30m", **swap), ev("40m", type="remove_items", lot="lot-1", count=40)],
                     duration="2h", **SPARE)
    assert [(a.type, a.lot, a.outcome) for a in fresh.actions] == [("substitution", "lot-3", "approved")]
    assert fresh.registry.loans["loan-1"].lot_ids == ("lot-3",)
    assert alerts_of(fresh) == []                       # lot-1's goods were free to go


def test_a_substitution_that_lifts_ltv_above_target_is_refused():
    cheap = {**SPARE, "lots": BASE["lots"] + [{"id": "lot-3", "warehouse": "wh-1", "commodity": "copper",
                                               "items": 10, "item_quantity": 2}]}
    result = run_book([ev("30m", type="substitute", loan="loan-1", release_lot="lot-1", pledge_lot="lot-3")],
                      duration="1h", **cheap)
    [refused] = result.actions
    assert refused.reason.startswith("LTV after the substitution would be 0.7353, above the target 0.6")
    assert result.registry.loans["loan-1"].lot_ids == ("lot-1",)


def test_interest_accrues_daily_and_only_where_the_book_says_so():
    loans = [{**BASE["loans"][0], "interest": {"rate": 0.065}}, BASE["loans"][1]]
    result = run_book([], duration="3d", step="10m", loans=loans)
    # 900,000 × 0.065 / 360 = 162.50; then 162.53 and 162.56 on the grown balance (half-even, per day)
    assert result.state.loan_views["loan-1"].outstanding == Decimal("900487.59")
    assert result.state.loan_views["loan-2"].outstanding == 1200000


def test_the_money_loop_seed_shows_each_step():
    document = result_document(run_file(str(SEED)))
    assert [(a["type"], a["outcome"]) for a in document["actions"]] == [
        ("repayment", "pending"), ("confirm_repayment", "approved"), ("drawdown", "refused"),
        ("drawdown", "approved"), ("substitution", "refused"), ("substitution", "approved"),
        ("close_loan", "refused"), ("repayment", "recorded"), ("close_loan", "approved")]
    assert document["alerts"] == []
