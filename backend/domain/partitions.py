"""The book split into partitions, each watched by one monitor (docs/scaling.md).

A loan and its lots go together: the partition is a stable hash of the loan id (of the lot
id for a lot backing no loan). A gateway's own conditions (offline, tampering, clock skew)
belong to the partition of the gateway's id: every partition with a lot behind a gateway
tracks that gateway, but only one raises its alerts. Market-wide conditions (a stale or
suspect price) belong to partition 0, which judges them against the whole book.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Mapping

from backend.domain.alerts import Condition
from backend.domain.registry import Registry

MARKET = 0  # the partition that raises market-wide alerts


def partition_of(key: str, count: int) -> int:
    """The same in every process and run (unlike hash(), which is salted per process)."""
    return zlib.crc32(key.encode()) % count


def owner_key(loan: str | None, lot: str | None, gateway: str | None,
              loan_of_lot: Mapping[str, str]) -> str | None:
    """What an alert's partition is decided by: its loan, else its lot's loan or the lot,
    else its gateway; None for a market-wide one."""
    if loan:
        return loan
    if lot:
        return loan_of_lot.get(lot, lot)
    return gateway


@dataclass(frozen=True, slots=True)
class Partition:
    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"partition {self.index} of {self.count}")

    def has(self, key: str) -> bool:
        return partition_of(key, self.count) == self.index

    def owns_alert(self, loan: str | None, lot: str | None, gateway: str | None,
                   loan_of_lot: Mapping[str, str]) -> bool:
        key = owner_key(loan, lot, gateway, loan_of_lot)
        return self.index == MARKET if key is None else self.has(key)

    def owns(self, condition: Condition, loan_of_lot: Mapping[str, str]) -> bool:
        return self.owns_alert(condition.loan, condition.lot, condition.gateway, loan_of_lot)


def sub_registry(registry: Registry, partition: Partition) -> Registry:
    """The partition's loans, their lots and the lots of no loan that hash here, with the
    warehouses and gateways behind them and the gateways that hash here; every commodity,
    lender and borrower. Partition 0 sees which commodities the whole book pledges, and to
    which lenders: it raises the market-wide alerts."""
    loan_of_lot = registry.loan_of_lot
    loans = {loan_id: loan for loan_id, loan in registry.loans.items() if partition.has(loan_id)}
    lots = {lot_id: lot for lot_id, lot in registry.lots.items()
            if (loan_of_lot[lot_id] in loans if lot_id in loan_of_lot else partition.has(lot_id))}
    own_gateways = {g for g in registry.gateways if partition.has(g)}
    warehouse_ids = {lot.warehouse_id for lot in lots.values()}
    warehouse_ids |= {w.id for w in registry.warehouses.values() if w.gateway_id in own_gateways}
    warehouses = {w: registry.warehouses[w] for w in warehouse_ids}
    gateway_ids = own_gateways | {w.gateway_id for w in warehouses.values()}
    sub = Registry(
        lenders=registry.lenders, borrowers=registry.borrowers, warehouses=warehouses,
        gateways={g: registry.gateways[g] for g in gateway_ids if g in registry.gateways},
        # its lots' sensors, and those behind its own gateways: what tells the gateway is alive
        sensors={s: sensor for s, sensor in registry.sensors.items()
                 if sensor.lot_id in lots or sensor.gateway_id in own_gateways},
        commodities=registry.commodities, lots=lots, loans=loans,
        releases=tuple(r for r in registry.releases if r.loan_id in loans),
        repayments=tuple(r for r in registry.repayments if r.loan_id in loans),
        delivery_orders=tuple(d for d in registry.delivery_orders if d.loan_id in loans))
    if partition.index == MARKET:  # cached properties: filled in, as the whole book has them
        sub.__dict__["pledged_commodities"] = registry.pledged_commodities
        sub.__dict__["lenders_of_commodity"] = registry.lenders_of_commodity
    return sub
