"""A collateral book file (the scenario format, without events) as registry entities.

Naming conventions shared by the registry and the simulated gateways live here:
the sensor ids of a lot and the EPCs of its simulated tags.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from decimal import Decimal

from backend.domain import registry as reg
from backend.scenario.model import LotSpec, Scenario
from backend.scenario.world import build_commodities, build_loan, item_weight_kg


@dataclass(frozen=True)
class LotSensors:
    scale: str
    rfid: str
    probe: str | None


def lot_sensors(lot_id: str, has_probe: bool) -> LotSensors:
    return LotSensors(f"{lot_id}-scale", f"{lot_id}-rfid", f"{lot_id}-temp" if has_probe else None)


def epc_prefix(lot_id: str) -> str:
    """Hex prefix of the simulated tags of a lot (uppercase, as firmware_sim.models.Lot takes it)."""
    return hashlib.sha256(lot_id.encode()).hexdigest()[:8].upper()


def simulated_epcs(lot_id: str, count: int) -> list[str]:
    """The EPCs firmware_sim gives a lot's items, lowercase as they travel on the wire."""
    prefix = epc_prefix(lot_id)
    return [f"{prefix}{n:0{24 - len(prefix)}X}".lower() for n in range(count)]


def has_probe(spec: LotSpec, commodity: reg.Commodity) -> bool:
    return commodity.perishable or spec.temperature_c is not None


@dataclass(frozen=True)
class PriceMark:
    commodity_id: str
    price: Decimal
    currency: str
    per_unit: str


def registry_from_book(book: Scenario) -> reg.Registry:
    """Every entity of the book, loans pledged with their lots as written."""
    commodities = build_commodities(book)
    lots = {}
    for spec in book.lots:
        commodity = commodities[spec.commodity]
        sensors = lot_sensors(spec.id, has_probe(spec, commodity))
        weight_kg = item_weight_kg(spec, commodity.unit)
        quantity = Decimal(str(spec.item_quantity))
        items = tuple(reg.TaggedItem(epc, quantity, weight_kg) for epc in simulated_epcs(spec.id, spec.items))
        lots[spec.id] = reg.Lot(spec.id, spec.warehouse, spec.commodity, items, sensors.scale,
                                sensors.rfid, sensors.probe)
    loans = {spec.id: replace(build_loan(spec), lot_ids=tuple(spec.lots)) for spec in book.loans}
    warehouses = {w.id: reg.Warehouse(w.id, w.gateway) for w in book.warehouses}
    return reg.Registry(
        lenders={x.id: reg.Lender(x.id) for x in book.lenders},
        borrowers={x.id: reg.Borrower(x.id) for x in book.borrowers},
        warehouses=warehouses,
        gateways={w.gateway_id: reg.Gateway(w.gateway_id, w.id) for w in warehouses.values()},
        sensors=reg.derive_sensors(lots, warehouses),
        commodities=commodities, lots=lots, loans=loans)


def opening_prices(book: Scenario) -> list[PriceMark]:
    return [PriceMark(p.commodity, Decimal(str(p.start)), p.currency, p.per) for p in book.prices]
