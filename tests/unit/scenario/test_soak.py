"""A week of a 50-lot book under default noise raises no alert at all."""
from backend.scenario.runner import run_scenario
from backend.scenario.synthetic import synthetic_book


def test_seven_days_fifty_lots_default_noise_zero_alerts():
    # 5-minute reporting keeps this test to a few seconds; the 1-minute month is the benchmark.
    result = run_scenario(synthetic_book(lots=50, duration="7d", step="5m", seed=11))
    assert result.alerts == {}
    assert {v.status for v in result.state.loan_views.values()} == {"normal"}
    assert all(v.observed_items == v.pledged_items for v in result.state.lot_views.values())
