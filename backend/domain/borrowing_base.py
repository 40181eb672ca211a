"""A loan's borrowing base lot by lot, as the monitor last valued it: what a certificate
states and what a substitution weighs. Pure: the monitor's state and the registry in, values out.

A lot is *eligible* when goods could be lent against it now: verified, priced at a fresh
price, no critical alert open on it (the same test as for goods leaving it).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

from backend.domain import money, valuation
from backend.domain.monitor import MonitorState, observed_present, release_refusal, value_per_item
from backend.domain.registry import Loan, Registry

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class LotValue:
    lot_id: str
    commodity_id: str
    quantity: Decimal | None                   # what was valued (None: not valued yet)
    unit_price: Decimal | None                 # in the loan's currency (None: unpriced)
    market_value: Decimal                      # quantity × price
    lending_value: Decimal                     # after haircut, quality and the unverified schedule
    eligible: bool
    reason: str | None                         # why not eligible


def lot_values(state: MonitorState, registry: Registry, loan_id: str, now_s: float) -> tuple[LotValue, ...]:
    """Each lot of the loan as the monitor's last step valued it (0 where it did not)."""
    loan = registry.loans[loan_id]
    held = state.valuation_inputs.get(loan_id)
    inputs = held[1] if held is not None and held[0].lot_ids == loan.lot_ids else None
    lines = []
    for n, lot_id in enumerate(loan.lot_ids):
        commodity_id = registry.lots[lot_id].commodity_id
        refusal = release_refusal(state, registry, lot_id, now_s)
        if inputs is None:
            lines.append(LotValue(lot_id, commodity_id, None, None, Decimal(0), Decimal(0), False,
                                  refusal or "not valued yet"))
            continue
        quantity, price, commodity, exposure, share = inputs[n]
        market = lending = Decimal(0)
        if price is not None:
            market = quantity * price
            lending = valuation.lot_value(quantity, price, loan.haircut, valuation.quality_factor(exposure, commodity))
            lending = lending if share is None else lending * share
        lines.append(LotValue(lot_id, commodity_id, quantity, price, market.quantize(CENT), lending.quantize(CENT),
                              refusal is None, refusal))
    return tuple(lines)


def incoming_value(state: MonitorState, registry: Registry, lot_id: str, loan: Loan, now_s: float,
                   fx_rates: Mapping[tuple[str, str], Decimal] | None = None) -> tuple[str | None, Decimal]:
    """(why the lot cannot back the loan now, or None; its lending value for the loan): its
    items observed present, at a fresh price, verified, no critical alert open on it."""
    refusal = release_refusal(state, registry, lot_id, now_s)
    if refusal is not None:
        return refusal, Decimal(0)
    present = observed_present(state, registry, lot_id)
    if not present:
        return "none of its items is observed present", Decimal(0)
    per_item = value_per_item(state, registry, lot_id, loan, fx_rates)
    return None, (per_item * len(present)).quantize(CENT)


def substitution_refusal(state: MonitorState, registry: Registry, loan_id: str, release_lot: str, pledge_lot: str,
                         now_s: float, fx_rates: Mapping[tuple[str, str], Decimal] | None = None) -> str | None:
    """Why swapping `release_lot` for `pledge_lot` may not go now (None: it may): the loan
    must be valued, the incoming lot fit to back it, and LTV after at or below the target.
    The lot going out counts at its lending value in the loan now; the one coming in at its
    items observed present, at a fresh price."""
    view = state.loan_views.get(loan_id)
    if view is None or view.collateral_value is None:
        return "the loan has no valuation yet; try again once its goods are priced"
    loan = registry.loans[loan_id]
    refusal, value_in = incoming_value(state, registry, pledge_lot, loan, now_s, fx_rates)
    if refusal is not None:
        return f"lot {pledge_lot}: {refusal}"
    lines = {line.lot_id: line for line in lot_values(state, registry, loan_id, now_s)}
    value_out = lines[release_lot].lending_value if release_lot in lines else view.collateral_value
    decision = money.substitution_decision(loan, view.collateral_value, value_out, value_in)
    return None if decision.approved else decision.reason
