"""Pledged vs observed: which stock conditions a lot shows right now.

| seen                                                  | condition                 |
|-------------------------------------------------------|---------------------------|
| pledged tags not read (RFID usable)                   | unauthorized_removal      |
| every tag read, but the weight is below what they weigh | weight_count_mismatch   |
| weight above what every item of the lot can weigh     | sensor_fault (over-read)  |
| RFID unusable, weight below the pledge                | stock_shortfall           |
| neither RFID nor scale usable, gateway delivering     | monitoring_blind          |
| pledged EPCs of one lot read under another lot's reader | tag_conflict            |
| perishable above its temperature limit                | temperature_excursion     |

Released items are no longer pledged: when they leave, nothing is missing. Every
condition here is confirmed by the alert book before it becomes an alert.
"""
from __future__ import annotations

from backend.domain.alerts import Condition
from backend.domain.registry import Lot, Registry
from backend.domain.stock import LotView

MAX_EPCS_SHOWN = 100                           # an alert names at most this many tags


def _lot_condition(kind: str, lot: Lot, registry: Registry, **details: object) -> Condition:
    loan_id = registry.loan_of_lot.get(lot.id)
    return Condition(kind, lot.id, loan=loan_id, lot=lot.id,
                     lender=registry.lender_of_lot(lot.id),
                     gateway=registry.gateway_of_lot(lot.id), details=details)


def stock_conditions(lot: Lot, view: LotView, registry: Registry,
                     gateway_healthy: bool) -> list[Condition]:
    if not gateway_healthy:
        return []                                  # the gateway rules explain the gap
    conditions = []
    weight_kg = view.weight_net_kg
    if view.missing_epcs:                      # the evidence: which tags, and what the scale says
        scale = {} if weight_kg is None else {"weight_kg": round(weight_kg, 1),
                                              "expected_kg": round(view.expected_weight_kg, 1)}
        conditions.append(_lot_condition("unauthorized_removal", lot, registry,
                                         missing_items=len(view.missing_epcs),
                                         missing_epcs=sorted(view.missing_epcs)[:MAX_EPCS_SHOWN], **scale))
    if weight_kg is not None:
        low = weight_kg < view.expected_weight_kg - view.tolerance_kg
        high = weight_kg > view.max_weight_kg
        measured = {"weight_kg": round(weight_kg, 1),
                    "expected_kg": round(view.expected_weight_kg, 1)} if low or high else {}
        if low and view.rfid_ok:
            conditions.append(_lot_condition("weight_count_mismatch", lot, registry, **measured))
        elif low:
            conditions.append(_lot_condition("stock_shortfall", lot, registry, **measured))
        elif high:
            conditions.append(Condition("sensor_fault", lot.scale_id, loan=registry.loan_of_lot.get(lot.id),
                                        lot=lot.id, lender=registry.lender_of_lot(lot.id),
                                        gateway=registry.gateway_of_lot(lot.id),
                                        details={"sensor": "scale", "mode": "over-read",
                                                 **measured}))
    if not view.rfid_ok and not view.scale_ok:
        conditions.append(_lot_condition("monitoring_blind", lot, registry))
    return conditions


def tag_conflicts(lot: Lot, view: LotView, registry: Registry) -> list[Condition]:
    """Pledged EPCs of other lots that this lot's reader reads, in this warehouse or another:
    cloned tags (or goods moved under another pledge)."""
    by_owner: dict[str, int] = {}
    for epc in view.foreign_epcs:
        owner_id = registry.lot_of_epc.get(epc)
        if owner_id is not None and epc in registry.pledged_epcs[owner_id] \
                and owner_id in registry.loan_of_lot:
            by_owner[owner_id] = by_owner.get(owner_id, 0) + 1
    return [_lot_condition("tag_conflict", registry.lots[owner_id], registry,
                           seen_at_warehouse=lot.warehouse_id, epcs=count)
            for owner_id, count in sorted(by_owner.items())]


def temperature_condition(lot: Lot, registry: Registry, temperature_c: float | None,
                          probe_ok: bool) -> list[Condition]:
    commodity = registry.commodities[lot.commodity_id]
    limit_c = commodity.temperature_max_c
    if not (commodity.perishable and probe_ok and limit_c is not None
            and temperature_c is not None and temperature_c > limit_c):
        return []
    return [_lot_condition("temperature_excursion", lot, registry,
                           temperature_c=temperature_c, limit_c=limit_c)]
