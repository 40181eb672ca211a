"""Cross-reference checks: every id a scenario mentions must be declared, once."""
from __future__ import annotations

from typing import Iterator

from backend.domain.valuation import KG_PER_UNIT
from backend.scenario.model import Scenario
from backend.scenario.world import lot_epc_prefix

Problem = tuple[tuple, str]                    # (location in the file, message)


def _duplicates(scenario: Scenario) -> Iterator[Problem]:
    for section in ("lenders", "borrowers", "warehouses", "commodities", "lots", "loans"):
        seen: set[str] = set()
        for index, entry in enumerate(getattr(scenario, section)):
            if entry.id in seen:
                yield (section, index, "id"), f"duplicate id {entry.id!r}"
            seen.add(entry.id)
    gateways: set[str] = set()
    for index, warehouse in enumerate(scenario.warehouses):
        if warehouse.gateway in gateways:
            yield ("warehouses", index, "gateway"), f"gateway {warehouse.gateway!r} serves two warehouses"
        gateways.add(warehouse.gateway)


def _unknown(kind: str, value: str, known: set[str], loc: tuple) -> Iterator[Problem]:
    if value not in known:
        yield loc, f"unknown {kind} {value!r}"


def _registry_refs(scenario: Scenario) -> Iterator[Problem]:
    ids = _ids(scenario)
    for i, lot in enumerate(scenario.lots):
        yield from _unknown("warehouse", lot.warehouse, ids["warehouse"], ("lots", i, "warehouse"))
        yield from _unknown("commodity", lot.commodity, ids["commodity"], ("lots", i, "commodity"))
    for i, loan in enumerate(scenario.loans):
        yield from _unknown("lender", loan.lender, ids["lender"], ("loans", i, "lender"))
        yield from _unknown("borrower", loan.borrower, ids["borrower"], ("loans", i, "borrower"))
        for j, lot_id in enumerate(loan.lots):
            yield from _unknown("lot", lot_id, ids["lot"], ("loans", i, "lots", j))
    for i, price in enumerate(scenario.prices):
        yield from _unknown("commodity", price.commodity, ids["commodity"],
                            ("prices", i, "commodity"))


def _ids(scenario: Scenario) -> dict[str, set[str]]:
    return {"lender": {x.id for x in scenario.lenders},
            "borrower": {x.id for x in scenario.borrowers},
            "warehouse": {x.id for x in scenario.warehouses},
            "gateway": {x.gateway for x in scenario.warehouses},
            "commodity": {x.id for x in scenario.commodities},
            "lot": {x.id for x in scenario.lots}, "loan": {x.id for x in scenario.loans}}


def _event_refs(scenario: Scenario) -> Iterator[Problem]:
    ids = _ids(scenario)
    field_kind = {"lot": "lot", "loan": "loan", "gateway": "gateway", "warehouse": "warehouse",
                  "commodity": "commodity", "approved_by": "lender", "release_lot": "lot", "pledge_lot": "lot"}
    for i, event in enumerate(scenario.events):
        for field, kind in field_kind.items():
            value = getattr(event, field, None)
            if value is not None:
                yield from _unknown(kind, value, ids[kind], ("events", i, field))
        if event.at > scenario.duration:
            yield ("events", i, "at"), f"at {event.at}s is after the scenario's end"
        if getattr(event, "sensor", None) == "rfid" and event.mode == "drift":
            yield ("events", i, "mode"), "an RFID reader cannot drift (use stuck or dead)"
        yield from _epc_refs(scenario, i, event)
        if event.type == "clone_tags":
            lots_there = [lot for lot in scenario.lots if lot.warehouse == event.warehouse]
            if not lots_there:
                yield ("events", i, "warehouse"), f"warehouse {event.warehouse!r} has no reader (no lot)"


def _epc_refs(scenario: Scenario, index: int, event) -> Iterator[Problem]:
    """EPCs an event names must be the lot's own (`<prefix><item number>`, backend/scenario/world.py)."""
    named = getattr(event, "epcs", None)
    lots = [n for n, lot in enumerate(scenario.lots) if lot.id == getattr(event, "lot", None)]
    if not named or not lots:
        return
    prefix, count = lot_epc_prefix(lots[0]), scenario.lots[lots[0]].items
    own = {f"{prefix}{n:0{24 - len(prefix)}X}" for n in range(count)}
    for j, epc in enumerate(named):
        if epc not in own:
            yield ("events", index, "epcs", j), f"{epc!r} is not an EPC of lot {event.lot!r}"


def _valuation_refs(scenario: Scenario) -> Iterator[Problem]:
    """Every pledged commodity needs a price the loan's currency and unit can use."""
    commodities = {c.id: c for c in scenario.commodities}
    lots = {lot.id: lot for lot in scenario.lots}
    fx = {(x.from_, x.to) for x in scenario.fx} | {(x.to, x.from_) for x in scenario.fx}
    for i, price in enumerate(scenario.prices):
        unit = commodities[price.commodity].unit
        if price.per != unit and not (price.per in KG_PER_UNIT and unit in KG_PER_UNIT):
            yield ("prices", i, "per"), f"cannot convert a price per {price.per} to {unit}"
    priced = {p.commodity: p.currency for p in scenario.prices}
    for i, loan in enumerate(scenario.loans):
        for lot_id in loan.lots:
            currency = priced.get(lots[lot_id].commodity)
            if currency is not None and currency != loan.currency \
                    and (currency, loan.currency) not in fx:
                yield ("loans", i, "currency"), (
                    f"no fx rate from {currency} to {loan.currency} (add an fx entry)")


def _loan_terms(scenario: Scenario) -> Iterator[Problem]:
    for i, loan in enumerate(scenario.loans):
        t = loan.thresholds
        if not t.warning < t.margin_call < t.liquidation:
            yield ("loans", i, "thresholds"), "thresholds must rise: warning < margin_call < liquidation"
        if loan.target_ltv is not None and loan.target_ltv > t.warning:
            yield ("loans", i, "target_ltv"), "target_ltv must not exceed the warning threshold"
    for i, commodity in enumerate(scenario.commodities):
        if commodity.perishable and commodity.temperature_max_c is None:
            yield ("commodities", i, "temperature_max_c"), "a perishable commodity needs temperature_max_c"
    for i, lot in enumerate(scenario.lots):
        if lot.item_weight_kg is None and _commodity_unit(scenario, lot.commodity) not in KG_PER_UNIT:
            yield ("lots", i, "item_weight_kg"), "required when the commodity's unit is not t or kg"
    if scenario.step <= 0:
        yield ("step",), "step must be positive"


def _commodity_unit(scenario: Scenario, commodity_id: str) -> str | None:
    return next((c.unit for c in scenario.commodities if c.id == commodity_id), None)


def problems(scenario: Scenario) -> Iterator[Problem]:
    """Every inconsistency, in file order of concern; the runner reports the first."""
    for check in (_duplicates, _registry_refs, _event_refs, _valuation_refs, _loan_terms):
        found = list(check(scenario))
        yield from found
        if found:
            return
