"""Who and what the monitor watches: a frozen snapshot of the collateral registry.

Entities are plain values. A `Registry` is replaced, never mutated: the functions in
`pledges.py` return a new one. Money is `Decimal`; quantities are in the commodity's unit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType
from typing import Any, Callable, Literal, Mapping

from backend.domain.errors import RegistryError

SensorKind = Literal["scale", "rfid", "temperature"]
DayCount = Literal["ACT/360", "ACT/365"]


@dataclass(frozen=True, slots=True)
class Lender:
    id: str


@dataclass(frozen=True, slots=True)
class Borrower:
    id: str


@dataclass(frozen=True, slots=True)
class Warehouse:
    id: str
    gateway_id: str


@dataclass(frozen=True, slots=True)
class Gateway:
    id: str
    warehouse_id: str


@dataclass(frozen=True, slots=True)
class Sensor:
    id: str
    kind: SensorKind
    gateway_id: str
    lot_id: str


@dataclass(frozen=True, slots=True)
class UnverifiedSchedule:
    """Lending value of unverified collateral: full for `grace_s`, then falling linearly to 0
    at `zero_after_s` (both counted from when its witnesses failed)."""
    grace_s: int = 3600
    zero_after_s: int = 86_400

    def __post_init__(self) -> None:
        if not 0 <= self.grace_s < self.zero_after_s:
            raise ValueError("unverified: grace must be at least 0 and below zero_after")


@dataclass(frozen=True, slots=True)
class Commodity:
    id: str
    unit: str                                  # "t", "kg", "bag", ...
    perishable: bool = False
    temperature_max_c: float | None = None
    price_max_age_s: int = 86_400              # an older price is stale
    # Share of value lost per degree-minute above temperature_max_c (perishables only).
    quality_loss_per_degree_minute: Decimal = Decimal("0.0001")
    unverified: UnverifiedSchedule | None = None   # None: the monitor's default


@dataclass(frozen=True, slots=True)
class TaggedItem:
    epc: str
    quantity: Decimal                          # in the commodity's unit
    weight_kg: float


@dataclass(frozen=True)
class Lot:
    """Goods on one scale under one RFID reader (and, optionally, one temperature probe)."""

    id: str
    warehouse_id: str
    commodity_id: str
    items: tuple[TaggedItem, ...]
    scale_id: str
    reader_id: str
    probe_id: str | None = None
    tare_kg: float = 0.0

    @cached_property
    def items_by_epc(self) -> Mapping[str, TaggedItem]:
        return MappingProxyType({item.epc: item for item in self.items})

    @cached_property
    def epcs(self) -> frozenset[str]:
        return frozenset(self.items_by_epc)

    @cached_property
    def epc_order(self) -> tuple[str, ...]:
        """The lot's EPCs in item order: bit i of a round's `bits` is epc_order[i]."""
        return tuple(item.epc for item in self.items)

    @cached_property
    def epc_bits(self) -> Mapping[str, int]:
        return MappingProxyType({epc: 1 << n for n, epc in enumerate(self.epc_order)})

    def bits_of(self, epcs: frozenset[str]) -> int:
        """The lot's EPCs among `epcs`, as bits over `epc_order` (others are ignored)."""
        bits = self.epc_bits
        return sum(bits[epc] for epc in epcs if epc in bits)

    def weight_kg(self, epcs: frozenset[str]) -> float:
        """What the items with these EPCs weigh (EPCs of other lots are ignored)."""
        if epcs is self.epcs or epcs == self.epcs:
            return self.total_weight_kg
        items = self.items_by_epc
        return sum(items[epc].weight_kg for epc in epcs if epc in items)

    def quantity(self, epcs: frozenset[str]) -> Decimal:
        if epcs is self.epcs or epcs == self.epcs:
            return self.total_quantity
        items = self.items_by_epc
        return sum((items[epc].quantity for epc in epcs if epc in items), Decimal(0))

    @cached_property
    def total_weight_kg(self) -> float:
        return sum(item.weight_kg for item in self.items)

    @cached_property
    def total_quantity(self) -> Decimal:
        return sum((item.quantity for item in self.items), Decimal(0))


@dataclass(frozen=True, slots=True)
class Thresholds:
    warning: Decimal
    margin_call: Decimal
    liquidation: Decimal

    def __post_init__(self) -> None:
        if not Decimal(0) < self.warning < self.margin_call < self.liquidation:
            raise RegistryError(
                f"thresholds must rise: 0 < warning {self.warning} < margin_call "
                f"{self.margin_call} < liquidation {self.liquidation}")


@dataclass(frozen=True, slots=True)
class Interest:
    """A loan's interest: `rate` a year, accrued daily over the `day_count` year (backend.domain.money)."""
    rate: Decimal
    day_count: DayCount = "ACT/360"

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.rate < 1:
            raise RegistryError(f"interest rate must be at least 0 and below 1, got {self.rate}")
        if self.day_count not in ("ACT/360", "ACT/365"):
            raise RegistryError(f"day count must be ACT/360 or ACT/365, got {self.day_count!r}")


@dataclass(frozen=True, slots=True)
class Loan:
    id: str
    lender_id: str
    borrower_id: str
    outstanding: Decimal
    currency: str
    lot_ids: tuple[str, ...]
    haircut: Decimal
    thresholds: Thresholds
    target_ltv: Decimal                        # what a cure or a release must restore
    cure_period_s: int
    unverified: UnverifiedSchedule | None = None   # None: its commodities' or the default
    interest: Interest | None = None           # None: accrues nothing
    interest_accrued_to_s: float | None = None  # interest is posted up to here (None: not started)
    closed_at_s: float | None = None           # closed by its lender: its pledges are released

    @property
    def active(self) -> bool:
        """Owes money on an open loan: its LTV matters. A loan repaid to 0 still holds its
        pledges (nothing frees goods but a release or closing the loan)."""
        return self.outstanding > 0 and self.closed_at_s is None


@dataclass(frozen=True, slots=True)
class ReleaseOrder:
    """The lender lets `epcs` leave `lot_id` against `repayment`, paid at `at_s`."""

    id: str
    loan_id: str
    lot_id: str
    epcs: frozenset[str]
    approved_by: str
    repayment: Decimal
    at_s: int


@dataclass(frozen=True, slots=True)
class DeliveryOrder:
    """An open delivery order (issued or acknowledged): the warehouse may hand out `epcs` of
    `lot_id` from `issued_at_s` until `valid_until_s` (backend/domain/delivery.py)."""

    id: str
    loan_id: str
    lot_id: str
    epcs: frozenset[str]
    issued_at_s: float
    valid_until_s: float


@dataclass(frozen=True, slots=True)
class Repayment:
    loan_id: str
    amount: Decimal
    at_s: int


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Registry:
    """One consistent snapshot; mappings are keyed by id."""

    lenders: Mapping[str, Lender] = field(default_factory=dict)
    borrowers: Mapping[str, Borrower] = field(default_factory=dict)
    warehouses: Mapping[str, Warehouse] = field(default_factory=dict)
    gateways: Mapping[str, Gateway] = field(default_factory=dict)
    sensors: Mapping[str, Sensor] = field(default_factory=dict)
    commodities: Mapping[str, Commodity] = field(default_factory=dict)
    lots: Mapping[str, Lot] = field(default_factory=dict)
    loans: Mapping[str, Loan] = field(default_factory=dict)
    releases: tuple[ReleaseOrder, ...] = ()
    repayments: tuple[Repayment, ...] = ()
    delivery_orders: tuple[DeliveryOrder, ...] = ()   # the open ones

    def __post_init__(self) -> None:
        for name in ("lenders", "borrowers", "warehouses", "gateways", "sensors",
                     "commodities", "lots", "loans"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @cached_property
    def loan_of_lot(self) -> Mapping[str, str]:
        """Lot id → the id of the loan it backs: a pledge holds until its goods are released,
        whatever the loan's outstanding amount."""
        return MappingProxyType({lot_id: loan.id for loan in self.loans.values()
                                 for lot_id in loan.lot_ids})

    @cached_property
    def loan_ids(self) -> tuple[str, ...]:
        """Every loan's id, in id order (listings page through them)."""
        return tuple(sorted(self.loans))

    @cached_property
    def loan_ids_of_lender(self) -> Mapping[str, tuple[str, ...]]:
        """Lender id → its loans' ids in id order: a bank's listing reads its own, not the book."""
        return _ids_by(self.loan_ids, lambda loan_id: self.loans[loan_id].lender_id)

    @cached_property
    def loan_ids_of_borrower(self) -> Mapping[str, tuple[str, ...]]:
        return _ids_by(self.loan_ids, lambda loan_id: self.loans[loan_id].borrower_id)

    @cached_property
    def pledged_commodities(self) -> frozenset[str]:
        """Commodities of the lots that back loans: each needs a price."""
        return frozenset(self.lots[lot_id].commodity_id for lot_id in self.loan_of_lot)

    @cached_property
    def lenders_of_commodity(self) -> Mapping[str, tuple[str, ...]]:
        """Commodity id → the lenders whose loans it backs, sorted."""
        lenders: dict[str, set[str]] = {}
        for lot_id, loan_id in self.loan_of_lot.items():
            lenders.setdefault(self.lots[lot_id].commodity_id, set()).add(self.loans[loan_id].lender_id)
        return MappingProxyType({c: tuple(sorted(ids)) for c, ids in lenders.items()})

    @cached_property
    def lot_of_epc(self) -> Mapping[str, str]:
        return MappingProxyType({epc: lot.id for lot in self.lots.values() for epc in lot.epcs})

    @cached_property
    def released_epcs(self) -> Mapping[str, frozenset[str]]:
        """Lot id → EPCs released from it (allowed to leave)."""
        released: dict[str, set[str]] = {}
        for order in self.releases:
            released.setdefault(order.lot_id, set()).update(order.epcs)
        return MappingProxyType({lot_id: frozenset(epcs) for lot_id, epcs in released.items()})

    @cached_property
    def pledged_epcs(self) -> Mapping[str, frozenset[str]]:
        """Lot id → EPCs still pledged: the lot's items minus the released ones (the lot's
        own `epcs` when none were released, so the monitor's identity checks hit)."""
        released = self.released_epcs
        return MappingProxyType({lot.id: lot.epcs - released[lot.id] if lot.id in released
                                 else lot.epcs for lot in self.lots.values()})

    @cached_property
    def pledged_bits(self) -> Mapping[str, int]:
        """Lot id → its pledged EPCs as bits over the lot's `epc_order`."""
        return MappingProxyType({lot_id: self.lots[lot_id].bits_of(epcs)
                                 for lot_id, epcs in self.pledged_epcs.items()})

    @cached_property
    def pledged_quantity(self) -> Mapping[str, Decimal]:
        return MappingProxyType({lot_id: self.lots[lot_id].quantity(epcs)
                                 for lot_id, epcs in self.pledged_epcs.items()})

    @cached_property
    def lot_gateways(self) -> Mapping[str, str]:
        """Lot id → the id of the gateway that reports it."""
        return MappingProxyType({lot.id: self.warehouses[lot.warehouse_id].gateway_id
                                 for lot in self.lots.values()})

    def gateway_of_lot(self, lot_id: str) -> str:
        return self.warehouses[self.lots[lot_id].warehouse_id].gateway_id

    def lender_of_lot(self, lot_id: str) -> str | None:
        loan_id = self.loan_of_lot.get(lot_id)
        return self.loans[loan_id].lender_id if loan_id else None


def derive_sensors(lots: Mapping[str, Lot], warehouses: Mapping[str, Warehouse]) -> dict[str, Sensor]:
    """The sensors implied by the lots: each lot's scale, reader and (optional) probe."""
    sensors = {}
    for lot in lots.values():
        gateway_id = warehouses[lot.warehouse_id].gateway_id
        witnesses: tuple[tuple[str | None, SensorKind], ...] = (
            (lot.scale_id, "scale"), (lot.reader_id, "rfid"), (lot.probe_id, "temperature"))
        for sensor_id, kind in witnesses:
            if sensor_id is not None:
                sensors[sensor_id] = Sensor(sensor_id, kind, gateway_id, lot.id)
    return sensors


def _ids_by(ordered_ids: tuple[str, ...], key: Callable[[str], str]) -> Mapping[str, tuple[str, ...]]:
    groups: dict[str, list[str]] = {}
    for item_id in ordered_ids:
        groups.setdefault(key(item_id), []).append(item_id)
    return MappingProxyType({owner: tuple(ids) for owner, ids in groups.items()})
