"""One scenario per event type: the alert it must raise, when, and that nothing else fires."""
import pytest
from book import BASE, alerts_of, run_book

from backend.scenario.model import Scenario

AT = 1800                  # every event happens 30 minutes in
WINDOW = 900               # flagged within one confirmation window (15 simulated minutes)


def ev(**fields):
    return {"at": "30m", **fields}


def steel_prices(*moves, max_age="1d"):
    return {"prices": [{"commodity": "steel_coil", "currency": "CNY", "per": "t", "start": 4000,
                        "moves": list(moves), "max_age": max_age}, BASE["prices"][1]]}


CASES = {
    "remove_items": ([ev(type="remove_items", lot="lot-1", count=4)], {},
                     ["unauthorized_removal"]),
    "replace_contents": ([ev(type="replace_contents", lot="lot-1", fraction=0.2)], {},
                         ["weight_count_mismatch"]),
    "sensor_fault scale stuck": ([ev(type="sensor_fault", lot="lot-1", sensor="scale", mode="stuck",
                                     **{"for": "1h"})], {}, ["sensor_fault", "collateral_unverified"]),
    "sensor_fault scale dead": ([ev(type="sensor_fault", lot="lot-1", sensor="scale", mode="dead",
                                    **{"for": "1h"})], {}, ["sensor_fault", "collateral_unverified"]),
    "sensor_fault rfid dead": ([ev(type="sensor_fault", lot="lot-1", sensor="rfid", mode="dead",
                                   **{"for": "1h"})], {}, ["sensor_fault", "collateral_unverified"]),
    "sensor_fault rfid stuck": ([ev(type="sensor_fault", lot="lot-1", sensor="rfid", mode="stuck",
                                    **{"for": "1h"})], {}, ["sensor_fault", "collateral_unverified"]),
    "sensor_fault probe dead": ([ev(type="sensor_fault", lot="lot-2", sensor="temperature",
                                    mode="dead", **{"for": "1h"})], {}, ["sensor_fault", "collateral_unverified"]),
    "gateway_offline": ([ev(type="gateway_offline", gateway="gw-1", **{"for": "20m"})], {},
                        ["gateway_offline", "collateral_unverified"]),
    "pledge": ([ev(type="pledge", lot="lot-1", loan="loan-2")], {}, ["double_pledge_attempt"]),
    "temperature": ([ev(type="temperature", lot="lot-2", to_c=-5, **{"for": "1h"})], {},
                    ["temperature_excursion"]),
    "clone_tags": ([ev(type="clone_tags", lot="lot-1", warehouse="wh-2", count=3)], {},
                   ["tag_conflict"]),
    # ten minutes without a trusted reading (and the reader's window to refill): unverified
    "tamper": ([ev(type="tamper", gateway="gw-1", **{"for": "10m"})], {},
               ["tamper_detected", "collateral_unverified"]),
    "forged": ([ev(type="forged", gateway="gw-1", per_minute=3, **{"for": "30m"})], {},
               ["tamper_detected"]),
    "clock_skew": ([ev(type="clock_skew", gateway="gw-1", offset="-10m", **{"for": "30m"})], {},
                   ["clock_skew"]),
}


@pytest.mark.parametrize("name", CASES)
def test_event_raises_its_alert_in_time_and_nothing_else(name):
    events, overrides, expected = CASES[name]
    alerts = alerts_of(run_book(events, **overrides))
    assert [kind for kind, *_ in alerts] == expected
    opened_at = alerts[0][2]
    assert AT <= opened_at <= AT + WINDOW


def test_sensor_drift_is_a_sensor_fault_once_it_exceeds_the_tolerance():
    # 1 %/h drift crosses the 0.5 % tolerance after 30 min; then one window at most.
    alerts = alerts_of(run_book([ev(type="sensor_fault", lot="lot-1", sensor="scale",
                                    mode="drift", **{"for": "2h"})]))
    assert [kind for kind, *_ in alerts] == ["sensor_fault", "collateral_unverified"]
    assert AT + 1800 <= alerts[0][2] <= AT + 1800 + WINDOW


def test_an_offline_gateway_is_not_theft_and_hides_no_theft():
    alerts = alerts_of(run_book([ev(type="gateway_offline", gateway="gw-1", **{"for": "20m"}),
                                 {"at": "35m", "type": "remove_items", "lot": "lot-1", "count": 4}]))
    assert [kind for kind, *_ in alerts] == ["gateway_offline", "collateral_unverified",
                                             "unauthorized_removal"]
    back_at = AT + 1200
    assert back_at <= alerts[2][2] <= back_at + WINDOW


def test_a_dead_reader_hides_no_shortfall_the_scale_still_shows():
    alerts = alerts_of(run_book([{"at": "20m", "type": "sensor_fault", "lot": "lot-1",
                                  "sensor": "rfid", "mode": "dead", "for": "2h"},
                                 ev(type="remove_items", lot="lot-1", count=4)], duration="2h"))
    assert [kind for kind, *_ in alerts] == ["sensor_fault", "collateral_unverified",
                                             "stock_shortfall"]
    assert AT <= alerts[2][2] <= AT + WINDOW


def test_two_dead_stock_sensors_leave_the_lot_blind():
    dead = {"type": "sensor_fault", "lot": "lot-1", "mode": "dead", "for": "1h"}
    alerts = alerts_of(run_book([ev(sensor="rfid", **dead), ev(sensor="scale", **dead)]))
    assert sorted(kind for kind, *_ in alerts) == ["collateral_unverified", "monitoring_blind",
                                                   "sensor_fault", "sensor_fault"]


def test_a_release_with_repayment_lets_the_goods_leave_silently():
    result = run_book([ev(type="release", lot="lot-1", items=4, approved_by="bank-a", repayment=200000),
                       {"at": "40m", "type": "remove_items", "lot": "lot-1", "count": 4}])
    assert alerts_of(result) == []
    loan = result.state.loan_views["loan-1"]
    assert loan.outstanding == 700000
    assert result.state.lot_views["lot-1"].pledged_items == 36


def test_a_release_beyond_the_target_is_refused_and_the_removal_flagged():
    result = run_book([ev(type="release", lot="lot-1", items=20, approved_by="bank-a", repayment=10000),
                       {"at": "40m", "type": "remove_items", "lot": "lot-1", "count": 2}])
    assert any("refused: would lift LTV above target" in e.text for e in result.timeline)
    assert [kind for kind, *_ in alerts_of(result)] == ["unauthorized_removal"]
    assert result.state.loan_views["loan-1"].outstanding == 900000


def test_repay_lowers_the_outstanding_and_raises_nothing():
    result = run_book([ev(type="repay", loan="loan-1", amount=100000)])
    assert alerts_of(result) == []
    assert result.state.loan_views["loan-1"].outstanding == 800000


def test_price_feed_stop_raises_price_stale_once_the_price_is_too_old():
    alerts = alerts_of(run_book([ev(type="price_feed_stop", commodity="steel_coil")],
                                **steel_prices(max_age="1h")))
    assert [kind for kind, *_ in alerts] == ["price_stale"]
    assert AT + 3600 <= alerts[0][2] <= AT + 3600 + WINDOW


def test_a_price_fall_calls_a_margin_and_a_repayment_cures_it():
    # LTV 0.5 at 4000; 0.83 at 2400 after a ramp with no outlier step; repay → 0.56.
    result = run_book([{"at": "1h", "type": "repay", "loan": "loan-1", "amount": 300000}],
                      **steel_prices({"at": "30m", "to": 3200}, {"at": "31m", "to": 2600},
                                     {"at": "32m", "to": 2400}))
    kinds = [(kind, opened) for kind, _, opened, _ in alerts_of(result)]
    assert kinds == [("ltv_warning", 1860), ("margin_call", 1920), ("ltv_cured", 3600)]
    assert result.state.loan_views["loan-1"].status == "normal"


def test_an_uncured_margin_call_defaults_into_liquidation():
    result = run_book([], **steel_prices({"at": "30m", "to": 3200}, {"at": "31m", "to": 2600},
                                         {"at": "32m", "to": 2400}))
    kinds = [kind for kind, *_ in alerts_of(result)]
    assert kinds == ["ltv_warning", "margin_call", "liquidation"]
    assert result.state.loan_views["loan-1"].status == "default"


def test_a_one_tick_price_spike_is_an_outlier_only():
    alerts = alerts_of(run_book([], **steel_prices({"at": "30m", "to": 40000},
                                                   {"at": "32m", "to": 4000})))
    assert [kind for kind, *_ in alerts] == ["price_outlier"]


def test_every_event_type_of_the_format_is_covered_here():
    covered = {e["type"] for events, _, _ in CASES.values() for e in events}
    covered |= {"release", "repay", "price_feed_stop", "inspection"}   # inspection: see below
    covered |= {"confirm_repayment", "substitute", "drawdown", "close_loan"}   # test_money_events.py
    covered |= {"request_release", "approve_release"}   # test_release_events.py
    declared = _event_types()
    assert len(declared) == 20 and declared <= covered


def test_a_short_inspection_is_a_loss_at_once_and_a_matching_one_raises_nothing():
    short = run_book([ev(type="inspection", lot="lot-1", items=36, quantity=450)])
    assert [(kind, opened) for kind, _, opened, _ in alerts_of(short)] == [("stock_shortfall", AT)]
    assert [(a.type, a.outcome) for a in short.actions] == [("inspection", "recorded")]
    whole = run_book([ev(type="inspection", lot="lot-1", items=40, quantity=500)])
    assert alerts_of(whole) == [] and whole.actions[0].reason == "count matches"


def _event_types():
    union = Scenario.model_fields["events"].annotation.__args__[0].__origin__
    return {model.model_fields["type"].annotation.__args__[0] for model in union.__args__}
