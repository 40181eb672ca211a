"""Port of the monitor's stored lot views (backend/domain/lot_views.py): the monitor writes
them, a process without the monitor guards releases and shows lots on them."""
from __future__ import annotations

from typing import Collection, Protocol, Sequence

from backend.domain.lot_views import LotReleaseView, StoredLotView
from backend.domain.observations import PriceTick
from backend.ports.monitor import LeaseFence


class LotViewStore(Protocol):
    def save(self, source: str, checked_s: float | None, views: Sequence[LotReleaseView], *,
             gone: Collection[str] = (), prices: Sequence[PriceTick] = (), fence: LeaseFence | None = None,
             fresh: bool = False) -> None:
        """In one transaction: the source's changed `views`, the lots it judges no more
        (`gone`), its changed accepted `prices`, and its tick at `checked_s` (every view of
        the source holds as of then; None: not yet, some views are still to be stored).
        `fresh`: the source's first save in this process (a start, a partition taken over):
        its earlier views, and its tick, are dropped first. With a fence, nothing is written
        once the partition's lease moved on (LeaseLost)."""

    def of_lot(self, lot_id: str, commodity_id: str) -> list[StoredLotView]:
        """The lot's views, one per source that stored one, each with its source's last tick
        and its accepted price of `commodity_id` (None: the source has none)."""
