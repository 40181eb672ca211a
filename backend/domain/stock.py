"""Observed stock of one lot, from two independent sources, fused conservatively.

RFID says *which* pledged items are present: a tag counts as present when any of the last
`read_window_rounds` inventory rounds read it, so a 97 % per-round read rate does not make
items vanish. The scale says *how much* is there: the median of the last readings, net of
tare, compared with the weight the present tags should weigh, within

    tolerance_kg = expected_kg × (scale_error_fraction + shrink_allowance_fraction)
                   + scale_resolution_kg

Fusion is conservative: the observed quantity is the lowest quantity any usable source
supports. A scale within tolerance agrees (noise does not move the value); below it, the
weight lowers the quantity. With no usable source the last observed value is held, and
the gaps are reported by the sensor and gateway rules, not here.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from backend.domain.config import MonitorConfig
from backend.domain.registry import Lot, Registry
from backend.domain.sensors import RfidTrack, ScaleTrack, rfid_usable, scale_usable

_QUANTITY_STEP = Decimal("0.001")


class LotView(NamedTuple):
    """Built for every lot at every step, hence a NamedTuple (immutable, cheap to build)."""

    lot_id: str
    pledged_items: int
    pledged_quantity: Decimal
    observed_items: int
    observed_quantity: Decimal
    rfid_ok: bool
    scale_ok: bool
    missing_epcs: frozenset[str]               # pledged, not read (empty when RFID unusable)
    foreign_epcs: frozenset[str]               # read here, registered to another lot
    weight_net_kg: float | None                # None when the scale is unusable
    expected_weight_kg: float                  # what the present tags (or the pledge) weigh
    tolerance_kg: float
    # Every item of the lot, released ones included, plus tolerance: a heavier reading is
    # the scale's fault (checked against the lot, not the tags read, so a missed read
    # cannot look like drift).
    max_weight_kg: float


def _scale_quantity(pledged_quantity: Decimal, pledged_kg: float, pledged_here_kg: float,
                    reference_kg: float, tolerance_kg: float) -> Decimal | None:
    """The pledged quantity the weight supports, or None when it agrees with the reference."""
    if pledged_here_kg >= reference_kg - tolerance_kg or pledged_kg <= 0:
        return None
    share = Decimal(repr(round(max(0.0, pledged_here_kg) / pledged_kg, 6)))
    return (pledged_quantity * share).quantize(_QUANTITY_STEP)


def _median(values: tuple[float, ...]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _rfid_sets(lot: Lot, pledged: frozenset[str],
               rfid: RfidTrack) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(own EPCs read, pledged present, foreign EPCs read) over the read window."""
    newest, *older = [r.epcs for r in rfid.rounds]
    seen = newest.union(*older)
    if seen == lot.epcs:                           # the usual case: everything, nothing else
        return lot.epcs, pledged, frozenset()
    own_seen = seen & lot.epcs
    return own_seen, pledged & own_seen, seen - lot.epcs


def assess_lot(lot: Lot, registry: Registry, rfid: RfidTrack, scale: ScaleTrack,
               held: LotView | None, now_s: float, config: MonitorConfig) -> LotView:
    pledged = registry.pledged_epcs[lot.id]
    pledged_quantity = registry.pledged_quantity[lot.id]
    rfid_ok = rfid_usable(rfid, now_s, config)
    scale_ok = scale_usable(scale, now_s, config)
    # Without RFID the pledge itself is the reference the scale is checked against.
    own_seen, present, foreign = (_rfid_sets(lot, pledged, rfid) if rfid_ok
                                  else (pledged, pledged, frozenset()))
    missing = pledged - present if len(present) < len(pledged) else frozenset()
    present_kg = lot.weight_kg(present)
    expected_kg = lot.weight_kg(own_seen)          # released items still here weigh too
    tolerance_kg = expected_kg * config.weight_tolerance_fraction + config.scale_resolution_kg
    observed_quantity = pledged_quantity if not missing else lot.quantity(present)
    observed_items = len(present)
    weight_net_kg = _median(scale.weights_kg) - lot.tare_kg if scale_ok else None
    if weight_net_kg is not None:
        pledged_here_kg = weight_net_kg - (expected_kg - present_kg)
        by_weight = _scale_quantity(pledged_quantity, lot.weight_kg(pledged), pledged_here_kg,
                                    present_kg, tolerance_kg)
        if by_weight is not None and by_weight < observed_quantity:
            observed_quantity = by_weight
            if not rfid_ok and pledged_quantity > 0:
                observed_items = int(len(pledged) * by_weight / pledged_quantity)
    if not rfid_ok and not scale_ok and held is not None:
        observed_quantity, observed_items = held.observed_quantity, held.observed_items
    return LotView(lot.id, len(pledged), pledged_quantity, observed_items, observed_quantity,
                   rfid_ok, scale_ok, missing, foreign, weight_net_kg, expected_kg,
                   tolerance_kg, lot.total_weight_kg * (1 + config.weight_tolerance_fraction)
                   + config.scale_resolution_kg)


@dataclass(frozen=True, slots=True)
class ValuedQuantity:
    """The quantity valuation uses. A fall is adopted only once it has lasted the
    confirmation window, exactly when its stock alert confirms, so a missed read can never
    flip a loan's status; a rise is adopted at once. Never above the pledge."""

    quantity: Decimal
    lower_since_s: float | None = None         # observed below `quantity` since then


def next_valued(previous: ValuedQuantity | None, view: LotView, now_s: float,
                window_s: float) -> ValuedQuantity:
    observed, pledged = view.observed_quantity, view.pledged_quantity
    previous = previous or ValuedQuantity(pledged)   # before any history, the pledge
    if observed >= previous.quantity:
        quantity = min(observed, pledged)
        if quantity is previous.quantity and previous.lower_since_s is None:
            return previous                    # unchanged: the same value, not rebuilt
        return ValuedQuantity(quantity)
    since_s = now_s if previous.lower_since_s is None else previous.lower_since_s
    if now_s - since_s >= window_s:
        return ValuedQuantity(min(observed, pledged))
    return ValuedQuantity(min(previous.quantity, pledged), since_s)
