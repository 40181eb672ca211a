"""Small registries and samples for the domain tests."""
from __future__ import annotations

import random
from decimal import Decimal

from backend.domain import registry as reg
from backend.domain.observations import GatewayMessage, LotSample, PriceTick, RfidRound

ITEM_KG = 1000.0


def lot(lot_id: str = "lot-1", items: int = 20, warehouse: str = "wh-1") -> reg.Lot:
    tagged = tuple(reg.TaggedItem(f"{lot_id}-{n:04d}", Decimal(1), ITEM_KG) for n in range(items))
    return reg.Lot(lot_id, warehouse, "steel", tagged, f"{lot_id}-scale", f"{lot_id}-rfid",
                   f"{lot_id}-temp")


def thresholds(warning: str = "0.70", margin_call: str = "0.80",
               liquidation: str = "0.90") -> reg.Thresholds:
    return reg.Thresholds(Decimal(warning), Decimal(margin_call), Decimal(liquidation))


def loan(loan_id: str = "loan-1", lots: tuple[str, ...] = ("lot-1",), outstanding: int = 40_000,
         lender: str = "bank-a") -> reg.Loan:
    return reg.Loan(loan_id, lender, "acme", Decimal(outstanding), "CNY", lots, Decimal("0.10"),
                    thresholds(), Decimal("0.60"), 3600)


def registry(lots: list[reg.Lot] | None = None, loans: list[reg.Loan] | None = None,
             perishable: bool = False) -> reg.Registry:
    lots = lots if lots is not None else [lot()]
    loans = loans if loans is not None else [loan()]
    steel = reg.Commodity("steel", "t", perishable, -18.0 if perishable else None, 3600)
    return reg.Registry(
        lenders={"bank-a": reg.Lender("bank-a"), "bank-b": reg.Lender("bank-b")},
        borrowers={"acme": reg.Borrower("acme")},
        warehouses={"wh-1": reg.Warehouse("wh-1", "gw-1"), "wh-2": reg.Warehouse("wh-2", "gw-2")},
        gateways={"gw-1": reg.Gateway("gw-1", "wh-1"), "gw-2": reg.Gateway("gw-2", "wh-2")},
        commodities={"steel": steel}, lots={x.id: x for x in lots},
        loans={x.id: x for x in loans})


def noisy_sample(goods: reg.Lot, rng: random.Random, now_s: float, present: frozenset[str] | None = None,
                 weight_kg: float | None = None, read_rate: float = 0.97,
                 temperature_c: float = -22.0) -> LotSample:
    """What the lot's devices report under realistic noise."""
    present = goods.epcs if present is None else present
    read = frozenset(epc for epc in present if rng.random() < read_rate)
    true_kg = goods.weight_kg(present) if weight_kg is None else weight_kg
    return LotSample(goods.id, now_s, RfidRound(read, now_s),
                     round(true_kg * (1 + rng.gauss(0, 0.0005)), 1),
                     round(temperature_c + rng.gauss(0, 0.2), 2))


def message(gateway_id: str, now_s: float, *samples: LotSample, ok: bool = True) -> GatewayMessage:
    return GatewayMessage(gateway_id, now_s, now_s, ok, samples)


def tick(price: str | int, now_s: float, commodity: str = "steel") -> PriceTick:
    return PriceTick(commodity, Decimal(price), "CNY", "t", now_s)
