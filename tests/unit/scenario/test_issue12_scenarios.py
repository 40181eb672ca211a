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
