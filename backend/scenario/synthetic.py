"""A synthetic collateral book of any size, for soak tests and the benchmark."""
from __future__ import annotations

from backend.scenario.model import Scenario


def synthetic_book(lots: int, duration: str, step: str = "1m", seed: int = 0,
                   items_per_lot: int = 40, lots_per_warehouse: int = 10) -> Scenario:
    """`lots` steel lots (every fifth one frozen shrimp), one loan per lot, no events."""
    warehouses = [{"id": f"wh-{n}", "gateway": f"gw-{n}"}
                  for n in range((lots + lots_per_warehouse - 1) // lots_per_warehouse)]
    lot_specs, loans = [], []
    for n in range(lots):
        frozen = n % 5 == 4
        lot_specs.append({"id": f"lot-{n}", "warehouse": f"wh-{n // lots_per_warehouse}",
                          "commodity": "frozen_shrimp" if frozen else "steel_coil",
                          "items": items_per_lot, "item_quantity": 1 if frozen else 12.5})
        value = items_per_lot * (60_000 * 0.8 if frozen else 12.5 * 4000 * 0.9)
        loans.append({"id": f"loan-{n}", "lender": f"bank-{n % 3}", "borrower": "acme",
                      "outstanding": round(value * 0.5), "currency": "CNY", "lots": [f"lot-{n}"],
                      "haircut": 0.2 if frozen else 0.1,
                      "thresholds": {"warning": 0.7, "margin_call": 0.8, "liquidation": 0.9}})
    return Scenario.model_validate({
        "name": f"synthetic-{lots}-lots", "seed": seed, "duration": duration, "step": step,
        "lenders": [{"id": f"bank-{n}"} for n in range(3)], "borrowers": [{"id": "acme"}],
        "warehouses": warehouses,
        "commodities": [{"id": "steel_coil", "unit": "t"},
                        {"id": "frozen_shrimp", "unit": "t", "perishable": True,
                         "temperature_max_c": -18}],
        "lots": lot_specs, "loans": loans,
        "prices": [{"commodity": "steel_coil", "currency": "CNY", "per": "t", "start": 4000},
                   {"commodity": "frozen_shrimp", "currency": "CNY", "per": "kg", "start": 60}]})
