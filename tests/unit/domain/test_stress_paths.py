"""Monte Carlo stress: closed forms on small books, a brute-force check, reproducibility."""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from backend.domain import stress_paths as sp
from backend.domain.stress import StressError

K_STANDARD_ERRORS = 4          # tolerance of every Monte Carlo comparison below
BGK_BETA = 0.5826              # Broadie–Glasserman–Kou: −ζ(1/2)/√(2π)
LTV_PERCENTILE_RTOL = 2 ** -23  # loans on several commodities rank their values in float32


def _first_passage(level: float, sigma: float, mu: float, days: float) -> float:
    """P(min over [0, t] of a GBM ≤ level × start), continuous monitoring (reflection
    principle with drift ν = μ − σ²/2): Φ((b − νt)/σ√t) + e^{2νb/σ²} Φ((b + νt)/σ√t)."""
    phi, b, nu, spread = NormalDist().cdf, math.log(level), mu - sigma ** 2 / 2, sigma * math.sqrt(days)
    return phi((b - nu * days) / spread) + math.exp(2 * nu * b / sigma ** 2) * phi((b + nu * days) / spread)


def _daily_first_passage(level: float, sigma: float, mu: float, days: float) -> float:
    """The same, monitored once a day: the continuous formula at the barrier moved away by
    e^{−βσ√Δt} (Broadie, Glasserman & Kou 1997), Δt = 1 day."""
    return _first_passage(level * math.exp(-BGK_BETA * sigma), sigma, mu, days)


def _one_commodity(sigma: float, mu: float = 0.0) -> sp.MarketModel:
    return _model(("steel",), [sigma], np.eye(1), [mu])


def _model(ids, volatility, correlation, drift=None) -> sp.MarketModel:
    return sp.MarketModel(commodity_ids=tuple(ids), volatility=np.array(volatility, dtype=np.float64),
                          correlation=np.array(correlation, dtype=np.float64),
                          drift=np.zeros(len(ids)) if drift is None else np.array(drift, dtype=np.float64))


def _exposure(weights, outstanding, lenders=None, margin_call=0.8, liquidation=0.9) -> sp.Exposure:
    weights = np.asarray(weights, dtype=np.float64)
    loans = len(weights)
    lenders = lenders or ["bank-a"] * loans
    groups = tuple(sorted({(lender, "CNY") for lender in lenders}))
    return sp.Exposure(
        loan_ids=tuple(f"loan-{i}" for i in range(loans)), weights=weights,
        attribution=weights / weights.sum(axis=1, keepdims=True), outstanding=np.asarray(outstanding, dtype=np.float64),
        margin_call=np.broadcast_to(np.asarray(margin_call, dtype=np.float64), loans).copy(),
        liquidation=np.broadcast_to(np.asarray(liquidation, dtype=np.float64), loans).copy(),
        lender_group=np.array([groups.index((lender, "CNY")) for lender in lenders]), lender_groups=groups,
        currency=np.zeros(loans, dtype=np.int64), currencies=("CNY",))


@pytest.mark.parametrize(("sigma", "mu"), [(0.02, 0.0), (0.02, 0.001), (0.03, -0.002)])
def test_a_single_loan_breaches_as_often_as_the_first_passage_formula_says(sigma, mu):
    paths, days = 200_000, 30
    exposure = _exposure([[1_000_000.0]], [700_000.0])    # LTV 0.70; margin call at value 875,000
    relatives = sp.simulate(_one_commodity(sigma, mu), horizon_days=days, paths=paths, seed=11)
    risk = sp.evaluate(exposure, relatives, ("steel",))
    for probability, threshold in ((risk.p_margin_call[0], 0.8), (risk.p_default[0], 0.9)):
        expected = _daily_first_passage(0.7 / threshold, sigma, mu, days)
        error = math.sqrt(expected * (1 - expected) / paths)
        assert abs(probability - expected) <= K_STANDARD_ERRORS * error, (threshold, probability, expected)
    # The test can fail: the continuous-monitoring formula (breaches between days) is off by more.
    continuous = _first_passage(0.7 / 0.9, sigma, mu, days)
    assert abs(risk.p_default[0] - continuous) > K_STANDARD_ERRORS * math.sqrt(continuous / paths)


def test_the_ltv_percentiles_of_one_loan_are_those_of_the_lognormal_price():
    sigma, days, paths = 0.02, 30, 100_000
    relatives = sp.simulate(_one_commodity(sigma), horizon_days=days, paths=paths, seed=5)
    risk = sp.evaluate(_exposure([[1_000_000.0]], [600_000.0]), relatives, ("steel",))
    for q, ltv in zip(sp.PERCENTILES, risk.ltv_percentiles[0]):
        z = NormalDist().inv_cdf(1 - q / 100)  # LTV's q-percentile is the price's (1 − q)-percentile
        exact = 0.6 / math.exp(-sigma ** 2 / 2 * days + sigma * math.sqrt(days) * z)
        assert ltv == pytest.approx(exact, rel=0.01)


def _brute_force(exposure: sp.Exposure, relatives: np.ndarray):
    """Every loan, path and step valued directly."""
    values = np.einsum("lc,cpt->lpt", exposure.weights, relatives)
    owed = exposure.outstanding[:, None]
    breach = values <= (owed / exposure.liquidation[:, None])[:, :, None]
    breached = breach.any(axis=2)
    step = np.where(breached, breach.argmax(axis=2), values.shape[2] - 1)
    at = np.take_along_axis(values, step[:, :, None], axis=2)[:, :, 0]
    shortfall = np.maximum(0.0, owed - at)
    called = (values.min(axis=2) <= owed / exposure.margin_call[:, None]).mean(axis=1)
    final = np.sort(values[:, :, -1], axis=1)
    ranks = [sp.percentile_rank(q, values.shape[1]) for q in sp.PERCENTILES]
    ltv = owed / final[:, [values.shape[1] - 1 - r for r in ranks]]
    return called, breached.mean(axis=1), shortfall, ltv


def test_every_loan_agrees_with_a_brute_force_valuation_of_every_path_and_step():
    # Wild prices (6 % a day), so that days gap through the LTV-1 level; some loans liquidate
    # only above LTV 1 (a shortfall at the horizon without a breach).
    model = _model(("copper", "steel"), [0.06, 0.05], [[1, 0.6], [0.6, 1]])
    relatives = sp.simulate(model, horizon_days=20, paths=4000, seed=3)
    rng = np.random.default_rng(0)
    weights = np.zeros((60, 2))
    weights[:30, 0] = rng.uniform(1e5, 1e6, 30)          # copper alone
    weights[30:45, 1] = rng.uniform(1e5, 1e6, 15)        # steel alone
    weights[45:, :] = rng.uniform(1e5, 1e6, (15, 2))     # both
    outstanding = weights.sum(axis=1) * rng.uniform(0.5, 0.88, 60)
    lenders = ["bank-a" if i % 2 else "bank-b" for i in range(60)]
    liquidation = np.where(np.arange(60) % 3 == 0, 1.1, 0.9)
    exposure = _exposure(weights, outstanding, lenders, liquidation=liquidation)
    risk = sp.evaluate(exposure, relatives, model.commodity_ids)
    called, defaulted, shortfall, ltv = _brute_force(exposure, relatives)
    np.testing.assert_allclose(risk.p_margin_call, called)
    np.testing.assert_allclose(risk.p_default, defaulted)
    np.testing.assert_allclose(risk.expected_shortfall, shortfall.mean(axis=1), rtol=1e-9)
    np.testing.assert_allclose(risk.ltv_percentiles, ltv, rtol=LTV_PERCENTILE_RTOL)
    assert shortfall.sum() > 0
    for key in exposure.lender_groups:
        mine = np.array([lender == key[0] for lender in lenders])
        per_path = np.sort(shortfall[mine].sum(axis=0))
        rank = sp.percentile_rank(99, per_path.size)
        np.testing.assert_allclose(risk.lender_shortfall[key], (per_path.mean(), per_path[rank], per_path[rank:].mean()))
    copper = (shortfall * exposure.attribution[:, 0:1]).sum(axis=0)
    assert risk.commodity_shortfall[("copper", "CNY")][0] == pytest.approx(copper.mean())


def test_loans_on_several_commodities_agree_with_the_brute_force_in_every_region_of_the_bounds():
    # Calm prices and LTVs around the thresholds: pairs ruled out by the lower bound, margin
    # calls seen now, at the horizon or at a commodity's low, and pairs valued step by step.
    model = _model(("copper", "nickel", "steel"), [0.02, 0.025, 0.015],
                   [[1, 0.5, 0.2], [0.5, 1, 0.4], [0.2, 0.4, 1]])
    relatives = sp.simulate(model, horizon_days=30, paths=3000, seed=9)
    rng = np.random.default_rng(4)
    weights = rng.uniform(1e5, 1e6, (80, 3)) * (rng.random((80, 3)) < 0.7)
    weights[:, 0] = np.where((weights > 0).sum(axis=1) < 2, 3e5, weights[:, 0])
    weights[:, 1] = np.where((weights > 0).sum(axis=1) < 2, 4e5, weights[:, 1])
    outstanding = weights.sum(axis=1) * np.linspace(0.55, 0.92, 80)
    liquidation = np.where(np.arange(80) % 4 == 0, 1.05, 0.9)      # some short at the horizon unbreached
    exposure = _exposure(weights, outstanding, ["bank-a" if i % 3 else "bank-b" for i in range(80)],
                         liquidation=liquidation)
    risk = sp.evaluate(exposure, relatives, model.commodity_ids)
    called, defaulted, shortfall, ltv = _brute_force(exposure, relatives)
    assert 0 < called.mean() < 1 and 0 < defaulted.mean() < 1 and shortfall.sum() > 0
    np.testing.assert_array_equal(risk.p_margin_call, called)
    np.testing.assert_array_equal(risk.p_default, defaulted)
    np.testing.assert_allclose(risk.expected_shortfall, shortfall.mean(axis=1), rtol=1e-9)
    np.testing.assert_allclose(risk.ltv_percentiles, ltv, rtol=LTV_PERCENTILE_RTOL)


def test_the_same_seed_gives_the_same_numbers_and_another_seed_others():
    model = _model(("a", "b"), [0.02, 0.01], [[1, 0.3], [0.3, 1]])
    exposure = _exposure([[1e6, 5e5], [2e6, 0.0]], [1.1e6, 1.5e6])
    first, again, other = (sp.evaluate(exposure, sp.simulate(model, horizon_days=30, paths=2000, seed=seed), ("a", "b"))
                           for seed in (7, 7, 8))
    for name in ("ltv_percentiles", "p_margin_call", "p_default", "expected_shortfall"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert first.lender_shortfall == again.lender_shortfall
    assert not np.array_equal(first.ltv_percentiles, other.ltv_percentiles)


def test_simulated_returns_have_the_models_volatility_and_correlation():
    model = _model(("a", "b"), [0.02, 0.01], [[1, -0.5], [-0.5, 1]])
    returns = np.diff(np.log(sp.simulate(model, horizon_days=5, paths=40_000, seed=1)), axis=2).reshape(2, -1)
    assert np.std(returns, axis=1) == pytest.approx([0.02, 0.01], rel=0.01)
    assert np.corrcoef(returns)[0, 1] == pytest.approx(-0.5, abs=0.01)


def test_the_model_is_the_ewma_of_daily_returns_weighing_recent_days_most():
    calm_then_wild = np.array([0.001, -0.001] * 20 + [0.05, -0.05] * 3)
    model = sp.estimate_model({"a": calm_then_wild, "b": calm_then_wild[::-1].copy()}, decay=0.94)
    weights = 0.94 ** np.arange(calm_then_wild.size - 1, -1, -1)
    assert model.volatility[0] == pytest.approx(math.sqrt((weights * calm_then_wild ** 2).sum() / weights.sum()))
    assert model.volatility[0] > 3 * model.volatility[1]
    assert model.correlation[0, 1] == pytest.approx(model.correlation[1, 0])
    assert np.all(np.linalg.eigvalsh(model.correlation) > 0)


def test_a_commodity_without_history_is_named_unless_a_fallback_volatility_is_given():
    returns = {"steel": np.array([0.01, -0.02, 0.015]), "shrimp": np.array([np.nan, np.nan, 0.01])}
    with pytest.raises(StressError, match=r"no price history for shrimp \(1 returns\)"):
        sp.estimate_model(returns)
    model = sp.estimate_model(returns, fallback_volatility=0.03, idle=["gold"])
    assert model.commodity_ids == ("gold", "shrimp", "steel")
    assert model.volatility[:2].tolist() == [0.0, 0.03]
    assert model.correlation[1, 2] == 0.0
