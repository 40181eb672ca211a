"""Delivery orders after their issue: who may read them, the warehouse's acknowledgement, and
their closing as the monitor reports it (fulfilled: every EPC left; expired: some still there).

Every state change records who made it (a key's name, or "monitor"), tells the loan's lender
(CloudEvents `com.pledgewatch.delivery_order.<change>`) and is appended to the evidence log.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

from backend.domain import delivery
from backend.domain.evidence import Entry
from backend.ports.documents import DocumentSigner
from backend.ports.releases import DeliveryOrderRecord, ReleaseStore, Stale
from backend.services import access
from backend.services.api_keys import Principal
from backend.services.registry import Conflict, NotFound, RegistryService
from backend.services.releases import order_notice

MONITOR = "monitor"  # who closes an order: the monitor, from what the reader saw


class DeliveryOrderService:
    def __init__(self, *, registry: RegistryService, store: ReleaseStore, signer: DocumentSigner,
                 clock: Callable[[], float]) -> None:
        self.registry, self.store, self.signer, self.clock = registry, store, signer, clock

    def public_key(self) -> tuple[str, str]:
        """(the document key's id, its public key PEM)."""
        return self.signer.key_id, self.signer.public_key_pem()

    def visible(self, caller: Principal) -> list[DeliveryOrderRecord]:
        """The orders the caller may see, newest first (a warehouse: its warehouses')."""
        registry = self.registry.snapshot()
        lots = None if access.is_staff(caller) else [
            lot_id for lot_id in registry.lots if access.sees_lot(caller, registry, lot_id)]
        return [o for o in self.store.orders(lots)
                if access.sees_delivery_order(caller, registry, o.loan_id, o.warehouse_id)]

    def get(self, caller: Principal, order_id: str) -> DeliveryOrderRecord:
        order = self.store.order(order_id)
        if order is None or not access.sees_delivery_order(caller, self.registry.snapshot(), order.loan_id,
                                                           order.warehouse_id):
            raise NotFound(f"no delivery order {order_id!r}")
        return order

    def acknowledge(self, caller: Principal, order_id: str) -> DeliveryOrderRecord:
        """The warehouse keeper (or an admin, recorded as the admin) confirms it will hand the goods out."""
        order = self.get(caller, order_id)
        if caller.role not in ("warehouse", "admin"):
            raise NotFound(f"no delivery order {order_id!r} for you to acknowledge")
        now_s = self.clock()
        if order.state != "issued":
            raise Conflict(f"the delivery order is already {order.state}")
        if now_s >= order.valid_until_s:
            raise Conflict("the delivery order has expired")
        loan = self.registry.snapshot().loans[order.loan_id]
        entry = _entry("delivery_order.acknowledged", order, now_s, by=caller.name)
        try:
            self.store.acknowledge(order, caller.name, now_s, [order_notice(
                loan, replace(order, state="acknowledged"), "acknowledged", now_s, by=caller.name)], [entry])
        except Stale as exc:
            raise Conflict("the delivery order changed meanwhile") from exc
        return self.get(caller, order_id)

    def closed(self, events: Sequence[object]) -> None:
        """Store the orders the monitor closed (pass as a listener of its events); an order
        closed already (a second monitor, a restart) is left as it is."""
        for event in events:
            if isinstance(event, delivery.DeliveryClosed):
                self._close(event)

    def _close(self, event: delivery.DeliveryClosed) -> None:
        order, loan = event.order, self.registry.snapshot().loans.get(event.order.loan_id)
        if loan is None:
            return
        stored = self.store.order(order.id)
        if stored is None:
            return
        if event.outcome == delivery.FULFILLED:
            entry = _entry("delivery_order.fulfilled", stored, event.at_s, by=MONITOR, epcs=sorted(event.left))
        else:
            entry = _entry("delivery_order.expired", stored, event.at_s, by=MONITOR, left=sorted(event.left),
                           remaining=sorted(event.remaining))
        notice = order_notice(loan, replace(stored, state=event.outcome), event.outcome, event.at_s, by=MONITOR, left=sorted(event.left),
                               remaining=sorted(event.remaining))
        self.store.close(order.id, event.outcome, event.left, event.at_s, [notice], [entry])


def _entry(kind: str, order: DeliveryOrderRecord, at_s: float, **payload: object) -> Entry:
    return Entry(kind, int(at_s), {"loan": order.loan_id, "lot": order.lot_id, "release": order.request_id},
                 {"order": order.id, **payload})
