"""Vectorised revaluation: every loan's collateral value and LTV at new prices, in numpy.

The monitor's Decimal valuation (`valuation.py`, `monitor._collateral_value`) is the
authority. This module answers the same question for the whole book at once, fast
enough to run on every price tick (a preview, a what-if, a benchmark): it gives the same
LTVs as the Decimal path to within float rounding (tested).

Pure: values in, arrays out. The book is flattened once into positions (one per pledged
lot); a revaluation is then a gather, a multiply and a `bincount` per tick.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

import numpy as np

from backend.domain import valuation
from backend.domain.observations import PriceTick
from backend.domain.registry import Registry

ZONES = ("normal", "warning", "margin_call", "liquidation")


@dataclass(frozen=True)
class BookArrays:
    """The book as flat arrays. `position_*` hold one entry per (loan, pledged lot)."""

    loan_ids: tuple[str, ...]
    commodity_ids: tuple[str, ...]
    currencies: tuple[str, ...]                # loan currencies
    outstanding: np.ndarray                    # per loan, in the loan's currency
    thresholds: np.ndarray                     # per loan: warning, margin_call, liquidation
    position_loan: np.ndarray                  # index into loan_ids
    position_price: np.ndarray                 # index into the flattened (commodity, currency) grid
    position_units: np.ndarray                 # quantity × (1 − haircut) × quality, in commodity units


def book_arrays(registry: Registry, quantities: Mapping[str, Decimal],
                quality: Mapping[str, Decimal] | None = None) -> BookArrays:
    """Flatten the active loans. `quantities` is the valued quantity per lot (the monitor's
    `state.valued[lot].quantity`, or the pledged quantity); `quality` defaults to 1."""
    quality = quality or {}
    loans = [loan for loan in registry.loans.values() if loan.active]
    commodity_ids = tuple(sorted(registry.commodities))
    currencies = tuple(sorted({loan.currency for loan in loans}))
    c_index = {c: i for i, c in enumerate(commodity_ids)}
    ccy_index = {c: i for i, c in enumerate(currencies)}
    loan_of, price_of, units = [], [], []
    for loan_index, loan in enumerate(loans):
        for lot_id in loan.lot_ids:
            commodity = registry.lots[lot_id].commodity_id
            loan_of.append(loan_index)
            price_of.append(c_index[commodity] * len(currencies) + ccy_index[loan.currency])
            units.append(float(quantities.get(lot_id, Decimal(0)) * (1 - loan.haircut)
                               * quality.get(lot_id, Decimal(1))))
    return BookArrays(
        tuple(loan.id for loan in loans), commodity_ids, currencies,
        np.array([float(loan.outstanding) for loan in loans], dtype=np.float64),
        np.array([[float(t) for t in (loan.thresholds.warning, loan.thresholds.margin_call,
                                      loan.thresholds.liquidation)] for loan in loans],
                 dtype=np.float64).reshape(len(loans), 3),
        np.array(loan_of, dtype=np.int64), np.array(price_of, dtype=np.int64),
        np.array(units, dtype=np.float64))


def price_grid(book: BookArrays, registry: Registry, ticks: Mapping[str, PriceTick],
               fx_rates: Mapping[tuple[str, str], Decimal]) -> np.ndarray:
    """Price of one commodity unit in each loan currency, flattened (commodity, currency);
    NaN where a commodity has no price. Conversions are the core's own (`unit_price`)."""
    grid = np.full(len(book.commodity_ids) * len(book.currencies), np.nan)
    for c, commodity_id in enumerate(book.commodity_ids):
        tick = ticks.get(commodity_id)
        if tick is None:
            continue
        for k, currency in enumerate(book.currencies):
            price = valuation.unit_price(tick, registry.commodities[commodity_id], currency, fx_rates)
            grid[c * len(book.currencies) + k] = float(price)
    return grid


def collateral_values(book: BookArrays, grid: np.ndarray) -> np.ndarray:
    """Per loan, rounded to cents like the core; NaN when any of its lots has no price."""
    values = np.bincount(book.position_loan, weights=book.position_units * grid[book.position_price],
                         minlength=len(book.loan_ids))
    return np.round(values, 2)


def loan_to_values(book: BookArrays, values: np.ndarray) -> np.ndarray:
    """outstanding / value: 0 when nothing is owed, +inf when the collateral is worth nothing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ltv = book.outstanding / values
    ltv = np.where(values <= 0, np.inf, ltv)
    ltv = np.where(book.outstanding <= 0, 0.0, ltv)
    return np.where(np.isnan(values), np.nan, ltv)


def zones(book: BookArrays, ltv: np.ndarray) -> np.ndarray:
    """0 normal, 1 warning, 2 margin_call, 3 liquidation (thresholds only: no hysteresis,
    no cure clock: the LTV state machine stays the authority); -1 where unpriced."""
    zone = (ltv[:, None] >= book.thresholds).sum(axis=1)
    return np.where(np.isnan(ltv), -1, zone)


def revalue(book: BookArrays, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Collateral values and LTVs of every loan in the book at the prices in `grid`."""
    values = collateral_values(book, grid)
    return values, loan_to_values(book, values)
