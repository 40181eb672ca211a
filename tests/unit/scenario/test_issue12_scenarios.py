"""Issue 12: one seed scenario per finding, each failing on the main it was filed against."""
from pathlib import Path

from backend.scenario.runner import run_file

SCENARIOS = Path(__file__).resolve().parents[3] / "seeds" / "scenarios"


def _run(name: str):
    return run_file(str(SCENARIOS / f"{name}.yaml"))


def _opened(result) -> list[tuple[str, str | None, str | None]]:
    return [(a.type, a.loan, a.lot) for a in result.alerts.values()]


def test_finding_1_an_unpriced_top_up_is_worth_zero_and_stops_nothing():
    result = _run("unpriced-topup")
    view = result.state.loan_views["loan-1"]
    assert (view.status, float(view.collateral_value), view.unpriced_lots) == (
        "margin_call", 1_620_000.0, ("lot-2",))
    stale = [a for a in result.alerts.values() if a.type == "price_stale"]
    assert [(a.details["commodity"], a.details["reason"], a.opened_at_s) for a in stale] == [
        ("nickel", "no price", 3600)]
    assert ("unauthorized_removal", "loan-2", "lot-3") in _opened(result)


def test_finding_2_a_bounce_is_no_cure_and_the_loan_defaults_at_the_first_deadline():
    result = _run("margin-bounce")
    assert result.state.loan_views["loan-1"].status == "default"
    kinds = [(a.type, a.opened_at_s) for a in result.alerts.values()]
    assert ("margin_call", 3600) in kinds and ("liquidation", 3600 + 7200) in kinds
    assert "ltv_cured" not in {kind for kind, _ in kinds}
    assert [kind for kind, _ in kinds].count("margin_call") == 1


def _unverified(result):
    return [a for a in result.alerts.values() if a.type == "collateral_unverified"]


def test_finding_3_a_dead_scale_is_unverified_and_the_swap_is_alerted_with_the_blind_period():
    result = _run("dead-scale-swap")
    [gap] = _unverified(result)
    assert (gap.details["reason"], gap.loan) == ("scale dead", "loan-1")
    assert 3600 < gap.details["since_s"] <= 3600 + 300
    assert gap.opened_at_s <= 3600 + 900                      # within one window of the fault
    [loss] = [a for a in result.alerts.values() if a.type == "weight_count_mismatch"]
    assert (loss.details["blind_from_s"], loss.details["blind_to_s"]) == (gap.details["since_s"], 25200)
    assert result.state.loan_views["loan-1"].status == "liquidation"


def test_finding_4_a_drifting_scale_is_unverified_and_the_value_follows_the_schedule():
    result = _run("scale-drift")
    [gap] = _unverified(result)
    assert gap.details["reason"] == "scale drifting" and gap.state == "open"
    opened = {a.type: a.opened_at_s for a in result.alerts.values()}
    assert opened["margin_call"] < 11 * 3600 + 1800          # before the swap: the blind time alone
    assert result.state.loan_views["loan-1"].unverified_lots == ("lot-1",)


def test_finding_5_a_perishable_lot_without_temperature_data_is_unverified():
    result = _run("probe-dead-thaw")
    [gap] = _unverified(result)
    assert gap.details["reason"] == "no temperature data"
    assert gap.opened_at_s <= 3600 + 900
    # the commodity's schedule (grace 30 m, 0 after 6 h) cut the lending value during the gap
    assert "margin_call" in {a.type for a in result.alerts.values()}


def test_findings_9_10_releases_are_refused_on_a_stale_price_an_open_alert_or_unverified_lot():
    result = _run("release-guards")
    releases = [e.text for e in result.timeline if e.text.startswith("RELEASE")]
    assert releases == [
        "RELEASE 4 items of lot-2 approved by bank-a against 100000",
        "RELEASE 2 items of lot-1 refused: price of copper_cathode is stale (4860 s old)",
        "RELEASE 2 items of lot-2 refused: critical alert open on lot-2: unauthorized_removal",
        "RELEASE 2 items of lot-3 refused: lot unverified: scale dead since 7320 s"]
    # the release freed 4 of the EPCs still seen: the 4 stolen before it stay missing
    theft = [a for a in result.alerts.values() if a.type == "unauthorized_removal"]
    assert [(a.lot, a.details["missing_items"], a.state) for a in theft] == [("lot-2", 4, "open")]
    assert result.state.lot_views["lot-2"].pledged_items == 36


def test_finding_10_the_steel_theft_release_waits_for_the_open_theft_alert():
    result = _run("steel-theft")
    assert any("refused: critical alert open on lot-1: unauthorized_removal" in e.text
               for e in result.timeline)
    assert result.state.lot_views["lot-1"].pledged_items == 40


def test_finding_6_forged_traffic_is_tampering_and_hides_no_theft():
    result = _run("forged-traffic")
    assert sorted(_opened(result)) == [("tamper_detected", None, None),
                                       ("unauthorized_removal", "loan-1", "lot-1")]
    theft = next(a for a in result.alerts.values() if a.type == "unauthorized_removal")
    assert 3600 < theft.opened_at_s <= 3600 + 900
    assert result.state.lot_views["lot-2"].observed_items == 40    # the forger's "empty" ignored


def test_finding_7_a_repaid_loan_still_holds_its_pledge():
    result = _run("repaid-pledge")
    assert [e.text for e in result.timeline if e.text.startswith("PLEDGE")] == [
        "PLEDGE  lot-1 to loan-2 refused: already pledged"]
    assert ("double_pledge_attempt", "loan-1", "lot-1") in _opened(result)
    assert ("unauthorized_removal", "loan-1", "lot-1") in _opened(result)


def test_finding_8_a_pledged_epc_read_under_another_lots_reader_in_the_same_warehouse():
    result = _run("clone-same-warehouse")
    [conflict] = [a for a in result.alerts.values() if a.type == "tag_conflict"]
    assert (conflict.lot, conflict.lender, conflict.details["epcs"]) == ("lot-1", "bank-a", 3)
    assert 1800 < conflict.opened_at_s <= 1800 + 900


def test_finding_11_a_theft_seen_two_ways_is_one_episode_and_a_loan_without_lots_is_not_valued():
    result = _run("theft-handover")
    alerts = {a.type: a for a in result.alerts.values()}
    shortfall, removal = alerts["stock_shortfall"], alerts["unauthorized_removal"]
    assert shortfall.resolved_at_s >= removal.opened_at_s          # no gap between them
    assert "liquidation" not in alerts
    assert result.state.loan_views["loan-2"].status == "normal"


def test_inspections_reverify_report_shortfalls_and_go_overdue():
    result = _run("inspections")
    views = result.state
    unverified = {a.lot: a for a in _unverified(result)}
    # lot-2's drifted scale stayed unverified until the matching count at 6 h
    assert unverified["lot-2"].resolved_at_s == 6 * 3600 + 300
    short = next(a for a in result.alerts.values() if a.type == "stock_shortfall")
    assert (short.lot, short.opened_at_s, short.details["counted_items"]) == ("lot-3", 7200, 36)
    assert views.valued["lot-3"].quantity == 450
    overdue = [e.text for e in result.timeline if e.text.startswith("OVERDUE")]
    assert overdue == ["OVERDUE inspection of lot-4 (due at 98100 s: unauthorized_removal)"]
    assert [(a.at_s, a.type, a.lot, a.outcome) for a in result.actions] == [
        (7200, "inspection", "lot-3", "recorded"), (10800, "repayment", None, "recorded"),
        (14400, "inspection", "lot-1", "recorded"), (21600, "inspection", "lot-2", "recorded")]


def test_the_json_lists_every_action():
    from backend.scenario.report import result_document
    document = result_document(_run("release-guards"))
    assert [(a["type"], a["lot"], a["outcome"]) for a in document["actions"]] == [
        ("release", "lot-2", "approved"), ("release", "lot-1", "refused"),
        ("release", "lot-2", "refused"), ("release", "lot-3", "refused")]
    assert document["actions"][1]["reason"] == "price of copper_cathode is stale (4860 s old)"
