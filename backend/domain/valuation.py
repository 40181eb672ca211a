"""Collateral value: observed quantity × price × (1 − haircut) × quality factor, with FX.

Prices arrive as ticks. A tick far from the accepted price is held as an outlier until
further ticks confirm the new level, so one fat-fingered quote cannot call a margin.
A price older than its commodity's max age is stale: the valuation keeps using it and
says so, and staleness by itself never moves LTV.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

from backend.domain.config import MonitorConfig
from backend.domain.errors import DomainError
from backend.domain.observations import PriceTick
from backend.domain.registry import Commodity

KG_PER_UNIT: Mapping[str, Decimal] = {"t": Decimal(1000), "kg": Decimal(1)}
INFINITE_LTV = Decimal("Infinity")
_QUALITY_STEP = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class PriceMark:
    accepted: PriceTick | None = None
    suspect: PriceTick | None = None           # an outlier waiting for confirmation
    suspect_ticks: int = 0


def _far(price: Decimal, reference: Decimal, config: MonitorConfig) -> bool:
    return reference <= 0 or abs(price / reference - 1) > config.price_outlier_fraction


def mark_price(mark: PriceMark, tick: PriceTick, config: MonitorConfig) -> PriceMark:
    if mark.accepted is None or not _far(tick.price, mark.accepted.price, config):
        return PriceMark(tick)
    if mark.suspect is not None and not _far(tick.price, mark.suspect.price, config):
        if mark.suspect_ticks + 1 > config.price_outlier_confirm_ticks:
            return PriceMark(tick)             # the new level held: accept it
        return PriceMark(mark.accepted, tick, mark.suspect_ticks + 1)
    return PriceMark(mark.accepted, tick, 1)


def price_is_stale(mark: PriceMark, commodity: Commodity, now_s: float) -> bool:
    return mark.accepted is not None and now_s - mark.accepted.at_s > commodity.price_max_age_s


def unit_price(tick: PriceTick, commodity: Commodity, currency: str,
               fx_rates: Mapping[tuple[str, str], Decimal]) -> Decimal:
    """The price of one commodity unit in `currency`."""
    price = tick.price
    if tick.per_unit != commodity.unit:
        if tick.per_unit not in KG_PER_UNIT or commodity.unit not in KG_PER_UNIT:
            raise DomainError(f"cannot convert a price per {tick.per_unit} to {commodity.unit}")
        price = price * KG_PER_UNIT[commodity.unit] / KG_PER_UNIT[tick.per_unit]
    return price * fx_rate(tick.currency, currency, fx_rates)


def fx_rate(source: str, target: str, fx_rates: Mapping[tuple[str, str], Decimal]) -> Decimal:
    if source == target:
        return Decimal(1)
    if (source, target) in fx_rates:
        return fx_rates[(source, target)]
    if (target, source) in fx_rates:
        return 1 / fx_rates[(target, source)]
    raise DomainError(f"no FX rate from {source} to {target}")


def quality_factor(exposure_degree_min: float, commodity: Commodity) -> Decimal:
    """Share of value left after temperature exposure (1 for goods that do not spoil)."""
    if not commodity.perishable or exposure_degree_min <= 0:
        return Decimal(1)
    lost = Decimal(repr(exposure_degree_min)) * commodity.quality_loss_per_degree_minute
    return max(Decimal(0), 1 - lost).quantize(_QUALITY_STEP)


def lot_value(quantity: Decimal, price_per_unit: Decimal, haircut: Decimal,
              quality: Decimal) -> Decimal:
    return quantity * price_per_unit * (1 - haircut) * quality


def loan_to_value(outstanding: Decimal, collateral_value: Decimal) -> Decimal:
    if outstanding <= 0:
        return Decimal(0)
    if collateral_value <= 0:
        return INFINITE_LTV
    return outstanding / collateral_value


def drawing_power(target_ltv: Decimal, collateral_value: Decimal, outstanding: Decimal) -> Decimal:
    """How much more could be lent at the target LTV; never below zero."""
    return max(Decimal(0), target_ltv * collateral_value - outstanding)
