"""The vectorised revaluation gives the LTVs of the core's Decimal valuation."""
from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from backend.book.build import registry_from_book
from backend.book.model import load_book
from backend.domain import monitor as core
from backend.domain import revaluation, valuation
from backend.domain.config import MonitorConfig
from backend.domain.observations import PriceTick

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "bench"))
from bench_revaluation import FX, synthetic_registry  # noqa: E402

BOOK = ROOT / "seeds" / "demo.yaml"


def _decimal_value(registry, quantities, ticks, fx, loan) -> Decimal:
    """The core's formula, lot by lot, in Decimal (see monitor._collateral_value)."""
    total = Decimal(0)
    for lot_id in loan.lot_ids:
        commodity = registry.commodities[registry.lots[lot_id].commodity_id]
        price = valuation.unit_price(ticks[commodity.id], commodity, loan.currency, fx)
        total += valuation.lot_value(quantities[lot_id], price, loan.haircut, Decimal(1))
    return total.quantize(Decimal("0.01"))


def test_same_values_and_ltvs_as_the_decimal_valuation_on_a_random_book():
    registry, quantities = synthetic_registry(2_000, seed=5)
    ticks = {"steel_coil": PriceTick("steel_coil", Decimal("3987.5"), "CNY", "t", 0),
             "copper_cathode": PriceTick("copper_cathode", Decimal("68.12325"), "CNY", "kg", 0),
             "aluminium": PriceTick("aluminium", Decimal("2301.1"), "USD", "t", 0),
             "nickel": PriceTick("nickel", Decimal("15999.99"), "USD", "t", 0),
             "soybeans": PriceTick("soybeans", Decimal("4200"), "CNY", "t", 0)}
    book = revaluation.book_arrays(registry, quantities)
    values, ltv = revaluation.revalue(book, revaluation.price_grid(book, registry, ticks, FX))
    loans = [registry.loans[loan_id] for loan_id in book.loan_ids]
    expected_values = [_decimal_value(registry, quantities, ticks, FX, loan) for loan in loans]
    expected_ltv = np.array([float(valuation.loan_to_value(loan.outstanding, value))
                             for loan, value in zip(loans, expected_values)])
    # Float and Decimal may round a half cent differently: one cent at most, and the LTV
    # moves by no more than that cent does.
    assert np.max(np.abs(values - np.array([float(v) for v in expected_values]))) <= 0.0100001
    assert np.all(np.abs(ltv / expected_ltv - 1) <= 0.011 / values + 1e-12)


def test_same_ltvs_and_zones_as_the_monitor_step_on_the_demo_book():
    registry = registry_from_book(load_book(BOOK))
    ticks = [PriceTick("steel_coil", Decimal("2700"), "CNY", "t", 100.0),
             PriceTick("copper_cathode", Decimal("60000"), "CNY", "t", 100.0),
             PriceTick("frozen_shrimp", Decimal("52000"), "CNY", "t", 100.0)]
    result = core.step(core.MonitorState(), registry, [], core.Market(tuple(ticks)), 100.0, MonitorConfig())
    state = result.state
    book = revaluation.book_arrays(registry, {lot: v.quantity for lot, v in state.valued.items()})
    _, ltv = revaluation.revalue(book, revaluation.price_grid(
        book, registry, {t.commodity_id: t for t in ticks}, {}))
    for index, loan_id in enumerate(book.loan_ids):
        assert ltv[index] == pytest.approx(float(state.loan_views[loan_id].ltv), rel=1e-12)
    zone_names = [revaluation.ZONES[z] for z in revaluation.zones(book, ltv)]
    assert zone_names == [state.loan_views[loan_id].status for loan_id in book.loan_ids]
    assert "margin_call" in zone_names  # the test means something: a crash moved a loan


def test_an_unpriced_commodity_leaves_its_loans_unvalued_and_nothing_owed_is_zero():
    registry = registry_from_book(load_book(BOOK))
    quantities = dict(registry.pledged_quantity)
    book = revaluation.book_arrays(registry, quantities)
    grid = revaluation.price_grid(book, registry, {"steel_coil": PriceTick("steel_coil", Decimal(4000), "CNY", "t", 0)}, {})
    _, ltv = revaluation.revalue(book, grid)
    by_loan = dict(zip(book.loan_ids, ltv))
    assert np.isnan(by_loan["loan-river-1"]) and np.isnan(by_loan["loan-delta-1"])
    assert by_loan["loan-acme-1"] == pytest.approx(1_000_000 / 1_800_000)
    zero_book = revaluation.book_arrays(registry, {lot: Decimal(0) for lot in quantities})
    _, ltv = revaluation.revalue(zero_book, revaluation.price_grid(
        zero_book, registry, {"steel_coil": PriceTick("steel_coil", Decimal(4000), "CNY", "t", 0)}, {}))
    assert np.isinf(dict(zip(zero_book.loan_ids, ltv))["loan-acme-1"])
