"""What a book builds: the registry's entities and the opening prices."""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Sequence

from backend.book.model import Book, CommoditySpec, LoanSpec, LotSpec, PriceSpec, UnverifiedSpec
from backend.book.naming import lot_sensors, simulated_epcs
from backend.domain import registry as reg
from backend.domain.valuation import KG_PER_UNIT


@dataclass(frozen=True)
class PriceMark:
    commodity_id: str
    price: Decimal
    currency: str
    per_unit: str


def registry_from_book(book: Book) -> reg.Registry:
    """Every entity of the book, loans pledged with their lots as written."""
    commodities = build_commodities(book.commodities, book.prices)
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


def opening_prices(book: Book) -> list[PriceMark]:
    return [PriceMark(p.commodity, Decimal(str(p.start)), p.currency, p.per) for p in book.prices]


def has_probe(spec: LotSpec, commodity: reg.Commodity) -> bool:
    return commodity.perishable or spec.temperature_c is not None


def item_weight_kg(spec: LotSpec, unit: str) -> float:
    if spec.item_weight_kg is not None:
        return spec.item_weight_kg
    return float(spec.item_quantity * KG_PER_UNIT[unit])


def build_commodities(commodities: Sequence[CommoditySpec], prices: Sequence[PriceSpec]) -> dict[str, reg.Commodity]:
    max_age_s = {p.commodity: p.max_age for p in prices}
    return {c.id: reg.Commodity(c.id, c.unit, c.perishable, c.temperature_max_c,
                                max_age_s.get(c.id, 86_400), unverified=_schedule(c.unverified))
            for c in commodities}


def build_loan(spec: LoanSpec) -> reg.Loan:
    """The loan with no lot pledged yet."""
    thresholds = reg.Thresholds(spec.thresholds.warning, spec.thresholds.margin_call,
                                spec.thresholds.liquidation)
    target = spec.target_ltv if spec.target_ltv is not None else thresholds.warning - Decimal("0.10")
    return reg.Loan(spec.id, spec.lender, spec.borrower, spec.outstanding, spec.currency,
                    (), spec.haircut, thresholds, target, spec.cure_period,
                    _schedule(spec.unverified),
                    reg.Interest(spec.interest.rate, spec.interest.day_count) if spec.interest else None)


def _schedule(spec: UnverifiedSpec | None) -> reg.UnverifiedSchedule | None:
    return None if spec is None else reg.UnverifiedSchedule(spec.grace, spec.zero_after)
