"""Delivery orders against what the reader sees: which exits they excuse, and when they close.

An approved release issues a delivery order (DO) naming the exact EPCs that may leave one lot,
open from its issue until `valid_until_s`. While it is open:

- an EPC on it that the lot's reader no longer sees has left under it: it is *excused* (not
  missing, not expected on the scale); one still seen stays pledged and valued;
- any other pledged EPC that leaves is missing as ever, whatever the count: taking other
  items in place of the DO's is unauthorized removal.

It closes *fulfilled* when none of its EPCs is seen any more: they are released, no longer
pledged. It closes *expired* (unfulfilled) at `valid_until_s` with some still seen: those that
left are released, the others are pledged again, and their leaving afterwards is unauthorized.
While the reader is unusable nothing is excused (which EPCs left cannot be told): the scale
and the witness rules report the gap as they always do.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Callable, Iterable, Mapping

from backend.domain.config import MonitorConfig
from backend.domain.registry import DeliveryOrder, Registry, ReleaseOrder
from backend.domain.sensors import RfidTrack, rfid_usable

FULFILLED, EXPIRED = "fulfilled", "expired"


@dataclass(frozen=True, slots=True)
class DeliveryClosed:
    """A monitor event: the order closed; `left` are released, `remaining` pledged again."""
    order: DeliveryOrder
    outcome: str                               # fulfilled | expired
    left: frozenset[str]
    remaining: frozenset[str]
    at_s: float


@dataclass(frozen=True, slots=True)
class Settlement:
    excused: Mapping[str, frozenset[str]]      # lot id -> EPCs that left under an order
    closed: tuple[DeliveryClosed, ...]


def seen_epcs(rfid: RfidTrack, now_s: float, config: MonitorConfig) -> frozenset[str] | None:
    """Every EPC the lot's reader read over its read window; None while it is unusable."""
    if not rfid_usable(rfid, now_s, config):
        return None
    return frozenset().union(*(r.epcs for r in rfid.rounds))


def settle(orders: Iterable[DeliveryOrder], seen: Callable[[str], frozenset[str] | None],
           now_s: float) -> Settlement:
    """What the open `orders` excuse now, and which of them close (`seen(lot_id)`: the EPCs
    its reader reads, None while it is unusable)."""
    excused: dict[str, frozenset[str]] = {}
    closed = []
    for order in orders:
        here = seen(order.lot_id)
        left = frozenset() if here is None else order.epcs - here
        if left:
            excused[order.lot_id] = excused.get(order.lot_id, frozenset()) | left
        if left == order.epcs:
            closed.append(DeliveryClosed(order, FULFILLED, left, frozenset(), now_s))
        elif now_s >= order.valid_until_s:
            closed.append(DeliveryClosed(order, EXPIRED, left, order.epcs - left, now_s))
    return Settlement(excused, tuple(closed))


def _excusing(lot_id: str, epcs: frozenset[str], registry: Registry) -> ReleaseOrder:
    loan_id = registry.loan_of_lot.get(lot_id, "")
    return ReleaseOrder(f"delivery:{lot_id}", loan_id, lot_id, epcs, "delivery order", Decimal(0), 0)


def monitored(registry: Registry, excused: Mapping[str, frozenset[str]]) -> Registry:
    """The registry the monitor judges: EPCs that left under an open order count as released."""
    if not excused:
        return registry
    extra = tuple(_excusing(lot_id, epcs, registry) for lot_id, epcs in sorted(excused.items()))
    return replace(registry, releases=registry.releases + extra)


def close(registry: Registry, closed: DeliveryClosed, released_by: str) -> Registry:
    """The registry after an order closed: the order gone, the EPCs that left released."""
    order = closed.order
    orders = tuple(o for o in registry.delivery_orders if o.id != order.id)
    releases = registry.releases
    if closed.left:
        releases += (ReleaseOrder(order.id, order.loan_id, order.lot_id, closed.left, released_by,
                                  Decimal(0), int(closed.at_s)),)
    return replace(registry, delivery_orders=orders, releases=releases)


def claimed(registry: Registry, lot_id: str) -> frozenset[str]:
    """EPCs of the lot already on an open order: no second order may name them."""
    return frozenset().union(*(o.epcs for o in registry.delivery_orders if o.lot_id == lot_id))


def reserved_value(registry: Registry, loan_id: str, value_per_item: Callable[[str], Decimal]) -> Decimal:
    """The collateral value the loan's open orders take away: each of their items at its lot's
    value per item, until they close (an item that left may be counted by the valuation as
    gone already: a decision made on this errs on the safe side for that short while)."""
    return sum((value_per_item(o.lot_id) * len(o.epcs) for o in registry.delivery_orders if o.loan_id == loan_id),
               Decimal(0))
