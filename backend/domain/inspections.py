"""Inspections: a supervisor's physical count of a lot, and the tasks that ask for one.

Every lot that is collateral_unverified or has a critical alert open has an inspection task,
due `inspection_deadline_s` after the first such alert opened; an inspection recorded after
that closes it; past its deadline it is overdue. The monitor reports a task once when it
opens and once when it goes overdue.

A count that matches the pledge (every pledged item, the pledged quantity within the scale
tolerance, a perishable within its temperature limit) re-verifies the lot: its unverified
episode ends (a drifted scale is trusted again) and its value is restored. A short count is
a loss: `stock_shortfall` opens at once (a count is no noisy reading) and the lot is valued
at the counted quantity until a later count matches.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping, NamedTuple

from backend.domain.alerts import Alert, Condition
from backend.domain.config import MonitorConfig
from backend.domain.registry import Registry


@dataclass(frozen=True, slots=True)
class Inspection:
    lot_id: str
    items: int
    quantity: Decimal
    at_s: float
    temperature_c: float | None = None
    note: str = ""


class Task(NamedTuple):
    lot_id: str
    loan_id: str | None
    lender_id: str | None
    reasons: tuple[str, ...]                   # the critical alert types open on the lot
    opened_at_s: int
    deadline_s: int
    state: str                                 # "open", "overdue" or "done"


@dataclass(frozen=True, slots=True)
class InspectionRecorded:
    inspection: Inspection
    loan_id: str | None
    matches: bool
    reason: str                                # what the count found


@dataclass(frozen=True, slots=True)
class InspectionOpened:
    task: Task


@dataclass(frozen=True, slots=True)
class InspectionOverdue:
    task: Task


def shortfall(inspection: Inspection, registry: Registry, config: MonitorConfig) -> str | None:
    """Why the count does not match the pledge, or None."""
    lot = registry.lots[inspection.lot_id]
    pledged_items = len(registry.pledged_epcs[lot.id])
    pledged = registry.pledged_quantity[lot.id]
    tolerance = pledged * Decimal(repr(config.weight_tolerance_fraction))
    if inspection.items < pledged_items or inspection.quantity < pledged - tolerance:
        return (f"short: {inspection.items} of {pledged_items} items, "
                f"{inspection.quantity} of {pledged} counted")
    commodity = registry.commodities[lot.commodity_id]
    limit_c = commodity.temperature_max_c
    if commodity.perishable and limit_c is not None and inspection.temperature_c is not None \
            and inspection.temperature_c > limit_c:
        return f"found at {inspection.temperature_c} °C, above {limit_c} °C"
    return None


def short_condition(inspection: Inspection, registry: Registry, reason: str) -> Condition:
    lot_id = inspection.lot_id
    loan_id = registry.loan_of_lot.get(lot_id)
    return Condition("stock_shortfall", lot_id, loan=loan_id, lot=lot_id,
                     lender=registry.lender_of_lot(lot_id), gateway=registry.gateway_of_lot(lot_id),
                     details={"reason": f"inspection {reason}", "counted_items": inspection.items,
                              "counted_quantity": float(inspection.quantity),
                              "inspected_at_s": int(inspection.at_s)},
                     certain=True)


def tasks(active: Iterable[Alert], last_inspected: Mapping[str, Inspection], registry: Registry,
          now_s: float, config: MonitorConfig) -> list[Task]:
    by_lot: dict[str, list[Alert]] = {}
    for alert in active:
        if alert.lot is not None and alert.severity == "critical":
            by_lot.setdefault(alert.lot, []).append(alert)
    found = []
    for lot_id, lot_alerts in sorted(by_lot.items()):
        opened_s = min(a.opened_at_s for a in lot_alerts)
        deadline_s = opened_s + config.inspection_deadline_s
        inspected = last_inspected.get(lot_id)
        state = ("done" if inspected is not None and inspected.at_s >= opened_s
                 else "overdue" if now_s >= deadline_s else "open")
        found.append(Task(lot_id, registry.loan_of_lot.get(lot_id), registry.lender_of_lot(lot_id),
                          tuple(sorted({a.type for a in lot_alerts})), opened_s, deadline_s, state))
    return found
