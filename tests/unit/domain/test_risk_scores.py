"""Risk scores: exponential decay, blind time, what an event counts for, ordering."""
from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from backend.domain.registry import Borrower, Commodity, Lender, Loan, Lot, Registry, Thresholds, Warehouse
from backend.domain.risk_scores import (
    AlertEpisode,
    CaseOutcome,
    CountResult,
    ScoreWeights,
    decayed_hours,
    exposure,
    merged,
    risk_scores,
)

DAY_S, NOW_S = 86_400.0, 1_800_000_000.0
WEIGHTS = ScoreWeights(half_life_s=10 * DAY_S)


def _registry() -> Registry:
    thresholds = Thresholds(Decimal("0.7"), Decimal("0.8"), Decimal("0.9"))

    def loan(loan_id, lender, borrower, lots):
        return Loan(loan_id, lender, borrower, Decimal(100), "CNY", lots, Decimal("0.1"), thresholds,
                    Decimal("0.6"), 86_400)
    return Registry(
        lenders={"north": Lender("north"), "south": Lender("south")},
        borrowers={"acme": Borrower("acme"), "delta": Borrower("delta")},
        warehouses={"wh-a": Warehouse("wh-a", "gw-a"), "wh-b": Warehouse("wh-b", "gw-b")},
        commodities={"steel": Commodity("steel", "t"), "shrimp": Commodity("shrimp", "t")},
        lots={"lot-1": Lot("lot-1", "wh-a", "steel", (), "s-1", "r-1"),
              "lot-2": Lot("lot-2", "wh-a", "steel", (), "s-2", "r-2"),
              "lot-3": Lot("lot-3", "wh-b", "shrimp", (), "s-3", "r-3")},
        loans={"loan-1": loan("loan-1", "north", "acme", ("lot-1",)),
               "loan-2": loan("loan-2", "south", "acme", ("lot-2",)),
               "loan-3": loan("loan-3", "south", "delta", ("lot-3",))})


def _alert(type_, days_ago, lot=None, loan=None, gateway=None, subject="x", open_days=None):
    opened_s = NOW_S - days_ago * DAY_S
    resolved_s = None if open_days is None else opened_s + open_days * DAY_S
    return AlertEpisode(type_, subject, opened_s, resolved_s, loan=loan, lot=lot, gateway=gateway)


def _by_id(kind, episodes=(), counts=(), listed=(), cases=()):
    scores = risk_scores(kind, episodes=episodes, counts=counts, registry=_registry(), now_s=NOW_S,
                         weights=WEIGHTS, listed=listed, cases=cases)
    return {score.entity_id: score for score in scores}


def test_an_alert_weighs_half_as_much_each_half_life():
    for days_ago, expected in ((0, 3.0), (10, 1.5), (20, 0.75), (35, 3.0 * 2 ** -3.5)):
        score = _by_id("warehouse", [_alert("stock_shortfall", days_ago, lot="lot-1")])["wh-a"]
        assert score.score == pytest.approx(expected)             # critical: 3 points when new
        assert score.alerts["stock_shortfall"].count == 1
    warning = _by_id("warehouse", [_alert("ltv_warning", 10, loan="loan-1")])["wh-a"]
    assert warning.score == pytest.approx(0.5)                    # warning: 1 point, one half-life old
    assert _by_id("warehouse", [_alert("stock_shortfall", -5, lot="lot-1")])["wh-a"].score == 3.0  # future: weight 1


def test_decayed_blind_hours_are_the_integral_of_the_decay_over_the_blind_time():
    half_life_s = 10 * DAY_S
    start_s, end_s = NOW_S - 12 * DAY_S, NOW_S - 11.5 * DAY_S
    grid = np.linspace(start_s, end_s, 200_001)
    numeric = np.trapezoid(2.0 ** (-(NOW_S - grid) / half_life_s), grid) / 3600
    assert decayed_hours(start_s, end_s, NOW_S, half_life_s) == pytest.approx(numeric, rel=1e-9)
    last_hour = decayed_hours(NOW_S - 3600, NOW_S + 7200, NOW_S, half_life_s)     # counted up to now only
    assert last_hour == pytest.approx(240 / math.log(2) * (1 - 2 ** (-1 / 240))) and 0.998 < last_hour < 1
    assert decayed_hours(end_s, start_s, NOW_S, half_life_s) == 0.0


def test_blind_episodes_that_overlap_count_once_and_an_open_one_runs_to_now():
    assert merged([(5, 8), (1, 3), (2, 4), (8, 9)]) == [(1, 4), (5, 9)]
    episodes = [_alert("gateway_offline", 2, gateway="gw-a", open_days=1),        # 2 → 1 days ago
                _alert("monitoring_blind", 1.5, lot="lot-1", open_days=1),         # 1.5 → 0.5 days ago
                _alert("monitoring_blind", 0.25, lot="lot-2")]                     # still open
    score = _by_id("gateway", episodes)["gw-a"]
    assert score.blind_hours == pytest.approx(1.5 * 24 + 0.25 * 24)
    expected = (decayed_hours(NOW_S - 2 * DAY_S, NOW_S - 0.5 * DAY_S, NOW_S, WEIGHTS.half_life_s)
                + decayed_hours(NOW_S - 0.25 * DAY_S, NOW_S, NOW_S, WEIGHTS.half_life_s))
    assert score.blind_hours_decayed == pytest.approx(expected)
    assert score.score == pytest.approx(WEIGHTS.blind_hour * expected)
    assert score.alerts == {}                                      # blind types are their own term


def test_an_event_counts_for_its_lots_warehouse_gateway_commodity_and_borrower():
    episodes = [_alert("unauthorized_removal", 1, lot="lot-1", loan="loan-1"),
                _alert("margin_call", 1, loan="loan-3"),                         # loan only: its lots
                _alert("gateway_offline", 1, gateway="gw-b", open_days=0.5),
                _alert("price_outlier", 1, subject="steel/north"),
                _alert("sensor_fault", 1, lot="lot-2", loan="loan-2")]
    counts = [CountResult("lot-3", NOW_S - DAY_S, short=True), CountResult("lot-1", NOW_S - DAY_S, short=False)]
    borrowers = _by_id("borrower", episodes, counts)
    assert set(borrowers["acme"].alerts) == {"unauthorized_removal"} and borrowers["acme"].sensor_faults.count == 1
    assert set(borrowers["delta"].alerts) == {"margin_call"} and borrowers["delta"].confirmed_losses.count == 1
    assert borrowers["acme"].inspections.count == 1 and borrowers["acme"].confirmed_losses.count == 0
    warehouses = _by_id("warehouse", episodes, counts)
    assert warehouses["wh-b"].blind_hours == pytest.approx(12) and "margin_call" in warehouses["wh-b"].alerts
    commodities = _by_id("commodity", episodes, counts)
    assert set(commodities["steel"].alerts) == {"unauthorized_removal", "price_outlier"}
    assert commodities["shrimp"].confirmed_losses.decayed == pytest.approx(2 ** -0.1)
    delta = borrowers["delta"]
    assert delta.score == pytest.approx(sum(delta.contributions.values()))
    assert delta.contributions["confirmed_losses"] == pytest.approx(WEIGHTS.confirmed_loss * 2 ** -0.1)


def _case(outcome, days_ago, lot="lot-1", borrower="acme", amount=None, currency=None, alert_types=(),
          open_days=1.0):
    closed_s = NOW_S - days_ago * DAY_S
    return CaseOutcome(outcome=outcome, opened_at_s=closed_s - open_days * DAY_S, closed_at_s=closed_s, lot=lot,
                       warehouse="wh-a", gateway="gw-a", borrower=borrower, commodity="steel",
                       loss_amount=None if amount is None else Decimal(amount), loss_currency=currency,
                       alert_types=alert_types)


def test_loss_and_fraud_cases_are_confirmed_losses_with_their_decayed_amounts_per_currency():
    cases = [_case("confirmed_loss", 0, amount="1000.00", currency="CNY"),
             _case("fraud", 10, amount="500.00", currency="CNY"),           # one half-life: half the weight
             _case("fraud", 20, amount="80.00", currency="USD"),
             _case("fraud", 0),                                              # fraud without an amount
             _case("false_alarm", 0), _case("recovered", 0)]
    score = _by_id("warehouse", cases=cases)["wh-a"]
    assert score.confirmed_losses.count == 4
    assert score.confirmed_losses.decayed == pytest.approx(1 + 0.5 + 0.25 + 1)
    assert score.loss_amounts["CNY"].amount == Decimal("1500.00")
    assert score.loss_amounts["CNY"].decayed == Decimal("1250.00")
    assert score.loss_amounts["USD"].decayed == Decimal("20.00")
    assert {outcome: tally.count for outcome, tally in score.cases.items()} == \
        {"confirmed_loss": 1, "fraud": 3, "false_alarm": 1, "recovered": 1}
    assert score.score == pytest.approx(WEIGHTS.confirmed_loss * 2.75)   # false alarms, recoveries add nothing
    assert _by_id("borrower", cases=cases)["acme"].score == score.score
    assert "delta" not in _by_id("borrower", cases=cases)


def test_a_short_count_a_loss_case_explains_is_not_a_second_loss():
    loss = _case("confirmed_loss", 1, amount="10.00", currency="CNY", open_days=2)   # open 3 → 1 days ago
    during, after, elsewhere = (CountResult("lot-1", NOW_S - 2 * DAY_S, short=True),
                                CountResult("lot-1", NOW_S - 0.5 * DAY_S, short=True),
                                CountResult("lot-2", NOW_S - 2 * DAY_S, short=True))
    score = _by_id("warehouse", counts=[during, after, elsewhere], cases=[loss])["wh-a"]
    assert score.inspections.count == 3 and score.confirmed_losses.count == 3     # the case, after, elsewhere
    alone = _by_id("warehouse", counts=[during], cases=[_case("false_alarm", 1, open_days=2)])["wh-a"]
    assert alone.confirmed_losses.count == 1                                      # a false alarm explains nothing


def test_sensor_fault_cases_count_with_sensor_faults_once():
    cases = [_case("sensor_fault", 0, alert_types=("unauthorized_removal",)),      # a removal that was the sensor
             _case("sensor_fault", 0, alert_types=("sensor_fault", "stock_shortfall"))]  # its alert counts
    episodes = [_alert("sensor_fault", 0, lot="lot-1", loan="loan-1")]
    score = _by_id("warehouse", episodes, cases=cases)["wh-a"]
    assert score.sensor_faults.count == 2 and score.cases["sensor_fault"].count == 2
    assert score.score == pytest.approx(2 * WEIGHTS.sensor_fault)


def test_scores_come_riskiest_first_ties_by_id_and_quiet_entities_listed_at_zero():
    episodes = [_alert("stock_shortfall", 30, lot="lot-3"),          # old critical: 3/8 = 0.375
                _alert("ltv_warning", 0, loan="loan-1")]              # new warning: 1
    scores = risk_scores("warehouse", episodes=episodes, counts=[], registry=_registry(), now_s=NOW_S,
                         weights=WEIGHTS, listed=["wh-c", "wh-0", "wh-a"])
    assert [(s.entity_id, round(s.score, 3)) for s in scores] == [("wh-a", 1.0), ("wh-b", 0.375), ("wh-0", 0.0),
                                                                  ("wh-c", 0.0)]
    # with a longer half-life the old critical alert outweighs the new warning
    slow = risk_scores("warehouse", episodes=episodes, counts=[], registry=_registry(), now_s=NOW_S,
                       weights=ScoreWeights(half_life_s=300 * DAY_S))
    assert [s.entity_id for s in slow] == ["wh-b", "wh-a"]


def test_a_lenders_exposure_is_what_its_active_loans_touch():
    registry = _registry()
    assert exposure(registry, "north") == {"warehouse": {"wh-a"}, "gateway": {"gw-a"}, "commodity": {"steel"},
                                           "borrower": {"acme"}}
    assert exposure(registry, "south")["commodity"] == {"steel", "shrimp"}
    assert exposure(registry, None)["gateway"] == {"gw-a", "gw-b"}


def test_a_bad_kind_or_half_life_is_refused_by_name():
    with pytest.raises(ValueError, match="kind must be one of warehouse, gateway, borrower, commodity"):
        risk_scores("lender", episodes=[], counts=[], registry=_registry(), now_s=NOW_S)  # type: ignore[arg-type]
    for bad in (0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match="half_life_s"):
            ScoreWeights(half_life_s=bad)
