"""Turn a validated scenario into the domain's registry and the simulated devices."""
from __future__ import annotations

from decimal import Decimal

from backend.book.build import build_commodities, build_loan, item_weight_kg
from backend.book.model import LotSpec
from backend.book.naming import lot_sensors
from backend.domain import registry as reg
from backend.domain.config import MonitorConfig
from backend.scenario.devices import SampledReader, SimGateway, SimLot, WeighedLot, device_rng, gauss_noise
from backend.scenario.model import Scenario
from firmware_sim.models import Lot, ScaleModel, TemperatureModel


def lot_epc_prefix(index: int) -> str:
    return f"E2{index + 1:06X}"


def normal_temperature_c(spec: LotSpec, commodity: reg.Commodity) -> float:
    if spec.temperature_c is not None:
        return spec.temperature_c
    if commodity.temperature_max_c is not None:
        return commodity.temperature_max_c - 4.0
    return 20.0


def build_lot(spec: LotSpec, index: int, commodity: reg.Commodity,
              goods: Lot) -> reg.Lot:
    quantity = Decimal(str(spec.item_quantity))
    items = tuple(reg.TaggedItem(epc, quantity, item.weight_kg)
                  for epc, item in sorted(goods.items.items()))
    sensors = lot_sensors(spec.id, has_probe=True)     # every simulated lot has a probe
    return reg.Lot(spec.id, spec.warehouse, commodity.id, items, sensors.scale, sensors.rfid, sensors.probe)


def build_world(scenario: Scenario) -> tuple[reg.Registry, dict[str, SimLot], dict[str, SimGateway]]:
    """The registry with every loan still unpledged (the runner pledges at t=0) and devices."""
    commodities = build_commodities(scenario.commodities, scenario.prices)
    noise = scenario.noise
    lots, sim_lots = {}, {}
    for index, spec in enumerate(scenario.lots):
        commodity = commodities[spec.commodity]
        goods = WeighedLot.of_items(lot_epc_prefix(index), spec.items, item_weight_kg(spec, commodity.unit))
        lots[spec.id] = build_lot(spec, index, commodity, goods)
        normal_c = normal_temperature_c(spec, commodity)
        sim_lots[spec.id] = SimLot(
            spec.id, goods,
            _scale(goods, device_rng(scenario.seed, spec.id, "scale"), noise.scale_sigma),
            _probe(normal_c, device_rng(scenario.seed, spec.id, "probe"),
                   noise.temperature_sigma_c),
            SampledReader(goods, device_rng(scenario.seed, spec.id, "rfid"), noise.rfid_read_rate,
                          lots[spec.id].epc_order),
            normal_c)
    gateways = {w.gateway: SimGateway(w.gateway, [sim_lots[s.id] for s in scenario.lots
                                                  if s.warehouse == w.id])
                for w in scenario.warehouses}
    warehouses = {w.id: reg.Warehouse(w.id, w.gateway) for w in scenario.warehouses}
    registry = reg.Registry(
        lenders={x.id: reg.Lender(x.id) for x in scenario.lenders},
        borrowers={x.id: reg.Borrower(x.id) for x in scenario.borrowers},
        warehouses=warehouses,
        gateways={w.gateway: reg.Gateway(w.gateway, w.id) for w in scenario.warehouses},
        sensors=reg.derive_sensors(lots, warehouses), commodities=commodities, lots=lots,
        loans={spec.id: build_loan(spec) for spec in scenario.loans})
    return registry, sim_lots, gateways


def _scale(goods: Lot, rng, sigma: float) -> ScaleModel:
    return ScaleModel(goods, rng, sigma, noise=gauss_noise(rng, sigma))


def _probe(normal_c: float, rng, sigma_c: float) -> TemperatureModel:
    return TemperatureModel(normal_c, rng, sigma_c, noise=gauss_noise(rng, sigma_c))


def monitor_config(scenario: Scenario) -> MonitorConfig:
    """The monitor's tolerances match the scenario's instruments: its scale error is 4σ."""
    defaults = MonitorConfig()
    return MonitorConfig(reporting_period_s=scenario.step,
                         scale_error_fraction=max(defaults.scale_error_fraction,
                                                  4 * scenario.noise.scale_sigma))
