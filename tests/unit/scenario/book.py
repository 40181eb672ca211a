"""A small two-warehouse book the scenario tests add events to."""
from __future__ import annotations

import copy

import yaml

from backend.scenario.model import parse_scenario
from backend.scenario.runner import ScenarioResult, check, run_scenario

BASE = yaml.safe_load("""
name: test-book
seed: 7
duration: 3h
step: 1m
lenders:    [{id: bank-a}, {id: bank-b}]
borrowers:  [{id: acme}, {id: coldco}]
warehouses: [{id: wh-1, gateway: gw-1}, {id: wh-2, gateway: gw-2}]
commodities:
  - {id: steel_coil, unit: t}
  - {id: frozen_shrimp, unit: t, perishable: true, temperature_max_c: -18}
lots:
  - {id: lot-1, warehouse: wh-1, commodity: steel_coil, items: 40, item_quantity: 12.5}
  - {id: lot-2, warehouse: wh-2, commodity: frozen_shrimp, items: 50, item_quantity: 1}
loans:
  - {id: loan-1, lender: bank-a, borrower: acme, outstanding: 900000, currency: CNY,
     lots: [lot-1], haircut: 0.10, thresholds: {warning: 0.70, margin_call: 0.80, liquidation: 0.90},
     target_ltv: 0.60, cure_period: 2h}
  - {id: loan-2, lender: bank-b, borrower: coldco, outstanding: 1200000, currency: CNY,
     lots: [lot-2], haircut: 0.20, thresholds: {warning: 0.70, margin_call: 0.80, liquidation: 0.90}}
prices:
  - {commodity: steel_coil, currency: CNY, per: t, start: 4000}
  - {commodity: frozen_shrimp, currency: CNY, per: kg, start: 60}
""")


def run_book(events: list[dict] | None = None, **overrides) -> ScenarioResult:
    document = copy.deepcopy(BASE)
    document["events"] = events or []
    document.update(overrides)
    scenario, root = parse_scenario(yaml.safe_dump(document), "book.yaml")
    check(scenario, root, "book.yaml")
    return run_scenario(scenario)


def alerts_of(result: ScenarioResult) -> list[tuple[str, str, int, int | None]]:
    """(type, subject-ish, opened_at_s, resolved_at_s) for every alert raised."""
    return [(a.type, a.lot or a.loan or a.gateway or str(a.details.get("commodity")),
             a.opened_at_s, a.resolved_at_s) for a in result.alerts.values()]
