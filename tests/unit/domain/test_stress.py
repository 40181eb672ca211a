"""Deterministic stress shocks: the book valued at shocked prices by the monitor's rules."""
from __future__ import annotations

from decimal import Decimal

import pytest

from backend.domain import ltv
from backend.domain import registry as reg
from backend.domain.observations import PriceTick
from backend.domain.stress import StressError, parse_shock, run_shock, stress_book

NOW_S = 1_800_000_000.0
HYSTERESIS = Decimal("0.02")


def _lot(lot_id: str, commodity: str, tonnes: int, warehouse: str = "wh-1") -> reg.Lot:
    items = tuple(reg.TaggedItem(f"{lot_id}-{n}", Decimal(1), 1000.0) for n in range(tonnes))
    return reg.Lot(lot_id, warehouse, commodity, items, f"{lot_id}-s", f"{lot_id}-r")


def _loan(loan_id: str, lots: tuple[str, ...], outstanding: int, lender: str = "bank-a",
          currency: str = "CNY") -> reg.Loan:
    return reg.Loan(loan_id, lender, "acme", Decimal(outstanding), currency, lots, Decimal("0.10"),
                    reg.Thresholds(Decimal("0.70"), Decimal("0.80"), Decimal("0.90")), Decimal("0.60"), 86_400)


def _registry(*loans: reg.Loan) -> reg.Registry:
    lots = [_lot("lot-s", "steel", 100), _lot("lot-c", "copper", 10, "wh-2"), _lot("lot-b", "steel", 50),
            _lot("lot-u", "steel", 100)]
    return reg.Registry(
        lenders={"bank-a": reg.Lender("bank-a"), "bank-b": reg.Lender("bank-b")},
        borrowers={"acme": reg.Borrower("acme")},
        warehouses={"wh-1": reg.Warehouse("wh-1", "gw-1"), "wh-2": reg.Warehouse("wh-2", "gw-2")},
        commodities={"steel": reg.Commodity("steel", "t"), "copper": reg.Commodity("copper", "t")},
        lots={lot.id: lot for lot in lots}, loans={loan.id: loan for loan in loans})


PRICES = {"steel": PriceTick("steel", Decimal(4000), "CNY", "t", NOW_S),
          "copper": PriceTick("copper", Decimal(10_000), "USD", "t", NOW_S)}
FX = {("USD", "CNY"): Decimal(7)}


def _run(registry: reg.Registry, *terms: str, lost: tuple[str, ...] = (), lender: str | None = None,
         standings: dict[str, ltv.LoanStanding] | None = None):
    book = stress_book(registry, lender=lender, prices=PRICES, fx_rates=FX, standings=standings)
    return run_shock(book, parse_shock(terms, lost), now_s=NOW_S, hysteresis=HYSTERESIS)


def test_a_price_shock_gives_the_ltv_status_cure_and_shortfall_of_a_hand_computation():
    registry = _registry(_loan("loan-1", ("lot-s",), 250_000))
    # 100 t × 4000 × 0.9 = 360,000 before; at −20 %: 100 × 3200 × 0.9 = 288,000.
    row, = _run(registry, "steel=-20%").loans
    assert (row.value_before, row.value_after) == (Decimal("360000.00"), Decimal("288000.00"))
    assert row.ltv_after == Decimal(250_000) / Decimal(288_000)          # 0.868: margin call
    assert (row.status_before, row.status_after) == ("normal", "margin_call")
    assert row.cure_amount == Decimal(250_000) - Decimal("0.60") * Decimal(288_000)   # 77,200
    assert row.shortfall == 0 and row.new_call
    row, = _run(registry, "steel=-40%").loans                            # 216,000 < 250,000
    assert row.status_after == "liquidation" and row.shortfall == Decimal("34000.00")


def test_fx_moves_apply_to_the_rate_either_way_round():
    registry = _registry(_loan("loan-c", ("lot-c",), 400_000))
    # 10 t × 10,000 USD × 7 × 0.9 = 630,000 CNY; USD/CNY +5 %: rate 7.35 → 661,500.
    row, = _run(registry, "USD/CNY=+5%").loans
    assert row.value_after == Decimal("661500.00")
    # The same move written from the CNY side: CNY/USD −5 % is USD/CNY × 1/0.95.
    row, = _run(registry, "CNY/USD=-5%").loans
    assert row.value_after == (Decimal(630_000) / Decimal("0.95")).quantize(Decimal("0.01"))


def test_a_lost_warehouse_is_worth_nothing_and_the_loan_is_short_by_what_it_owes():
    registry = _registry(_loan("loan-1", ("lot-s", "lot-c"), 500_000))
    row, = _run(registry, lost=("wh-2",)).loans                          # copper gone, steel stays
    assert row.value_after == Decimal("360000.00")
    row, = _run(registry, lost=("wh-1", "wh-2")).loans
    assert row.value_after == 0 and row.ltv_after == Decimal("Infinity")
    assert row.status_after == "liquidation" and row.shortfall == Decimal(500_000)


def test_the_state_machine_judges_from_the_current_standing():
    registry = _registry(_loan("loan-1", ("lot-s",), 250_000))
    # LTV 0.794 after −12.5 %: under the margin-call level, but not by the hysteresis: stays in call.
    in_call = {"loan-1": ltv.LoanStanding("margin_call", NOW_S - 60, NOW_S + 3600)}
    row, = _run(registry, "steel=-12.5%", standings=in_call).loans
    assert row.status_after == "margin_call" and not row.new_call
    row, = _run(registry, "steel=+50%", standings={"loan-1": ltv.LoanStanding("default", NOW_S, NOW_S)}).loans
    assert row.status_after == "default"                                 # final


def test_a_lender_run_holds_only_its_own_loans():
    registry = _registry(_loan("loan-a", ("lot-s",), 250_000), _loan("loan-b", ("lot-b",), 170_000, lender="bank-b"))
    result = _run(registry, "steel=-40%", lender="bank-a")
    assert [row.loan_id for row in result.loans] == ["loan-a"]
    assert result.shortfall_by_lender() == {("bank-a", "CNY"): Decimal("34000.00")}
    everyone = _run(registry, "steel=-40%")
    assert set(everyone.shortfall_by_lender()) == {("bank-a", "CNY"), ("bank-b", "CNY")}
    assert everyone.by_status()["liquidation"] == 2 and result.by_status()["liquidation"] == 1


def test_margin_calls_list_the_largest_cure_first():
    registry = _registry(_loan("loan-a", ("lot-s",), 250_000), _loan("loan-b", ("lot-b",), 130_000))
    calls = _run(registry, "steel=-20%").margin_calls()
    assert [c.loan_id for c in calls] == ["loan-a", "loan-b"]
    assert calls[0].cure_amount > calls[1].cure_amount > 0


def test_valued_quantities_quality_and_unverified_share_are_the_monitors():
    registry = _registry(_loan("loan-1", ("lot-s",), 100_000))
    book = stress_book(registry, lender=None, prices=PRICES, fx_rates=FX, quantities={"lot-s": Decimal(50)},
                       quality={"lot-s": Decimal("0.9")}, shares={"lot-s": Decimal("0.5")})
    row, = run_shock(book, parse_shock([]), now_s=NOW_S, hysteresis=HYSTERESIS).loans
    assert row.value_after == Decimal(50 * 4000) * Decimal("0.9") * Decimal("0.9") * Decimal("0.5")


def test_an_unpriced_loan_is_left_as_it_is():
    registry = _registry(_loan("loan-1", ("lot-s",), 100_000))
    book = stress_book(registry, lender=None, prices={}, fx_rates={})
    row, = run_shock(book, parse_shock([]), now_s=NOW_S, hysteresis=HYSTERESIS).loans
    assert row.value_after is None and row.status_after == "normal" and row.shortfall == 0


@pytest.mark.parametrize(("terms", "lost", "message"), [
    (["steel=-20"], (), "NAME=±N%"), (["steel=-120%"], (), "100 %"), (["gold=-5%"], (), "no commodity 'gold'"),
    (["EUR/CNY=+1%"], (), "no FX rate EUR/CNY"), (["usd/cny=+1%"], (), "ISO codes"), ([], ("wh-9",), "wh-9")])
def test_bad_shocks_are_refused_naming_what_is_wrong(terms, lost, message):
    registry = _registry(_loan("loan-1", ("lot-s",), 100_000))
    with pytest.raises(StressError, match=message):
        _run(registry, *terms, lost=lost)
