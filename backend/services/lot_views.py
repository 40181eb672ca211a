"""Releases guarded, and lots shown, on the lot views the monitor stores: for a process with
no monitor of the whole book (an API-only process; every host of partitioned monitors).

The monitor's side is MonitorService._store_views; what makes a stored view usable at `now`
is backend/domain/lot_views.py. A release is refused when the lot has no view, one judged
under another loan or another pledge, or one older than `max_age_s` (the monitor is dead or
lagging), and otherwise for what the monitor's own guard refuses; it frees only EPCs the view
saw present, each valued at the view's price and quality.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Callable, Mapping

from backend.domain import lot_views as views
from backend.domain.lot_views import ObservedLot
from backend.ports.lot_views import LotViewStore
from backend.services.registry import Conflict, RegistryService


class StoredLotViews:
    def __init__(self, *, registry: RegistryService, store: LotViewStore,
                 fx_rates: Callable[[], Mapping[tuple[str, str], Decimal]], clock: Callable[[], float],
                 max_age_s: float) -> None:
        self.registry, self.store, self.fx_rates = registry, store, fx_rates
        self.clock, self.max_age_s = clock, max_age_s

    def release_guard(self, lot_id: str) -> tuple[str | None, frozenset[str]]:
        """Why no goods may leave the lot now (or None), and its EPCs observed present."""
        registry = self.registry.snapshot()
        pledged = registry.pledged_epcs[lot_id]
        order = views.pledge_order(pledged)
        now_s = self.clock()
        stored, refusal = views.usable_view(self.store.of_lot(lot_id, registry.lots[lot_id].commodity_id), registry,
                                            lot_id, now_s, self.max_age_s, views.pledge_digest(order))
        if stored is None:
            return refusal, frozenset()
        return views.stored_refusal(stored, registry, lot_id, now_s), views.stored_present(stored, pledged, order)

    def value_per_item(self, lot_id: str, loan_id: str) -> Decimal:
        """What one item of the lot adds to the loan's collateral value (Conflict when no view
        of the lot is usable: an item valued at 0 would let any number of them leave)."""
        registry = self.registry.snapshot()
        stored, refusal = views.usable_view(self.store.of_lot(lot_id, registry.lots[lot_id].commodity_id), registry,
                                            lot_id, self.clock(), self.max_age_s)
        if stored is None:
            raise Conflict(refusal or f"no view of lot {lot_id}")
        return views.stored_value_per_item(stored, registry, lot_id, registry.loans[loan_id], self.fx_rates())

    def lot_view(self, lot_id: str) -> ObservedLot | None:
        """What the monitor observes of the lot now; None when no view of it is usable."""
        registry = self.registry.snapshot()
        order = views.pledge_order(registry.pledged_epcs[lot_id])
        stored, _ = views.usable_view(self.store.of_lot(lot_id, registry.lots[lot_id].commodity_id), registry,
                                      lot_id, self.clock(), self.max_age_s, views.pledge_digest(order))
        return None if stored is None else views.observed_lot(stored, order)
