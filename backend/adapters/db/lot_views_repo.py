"""The monitor's lot views in the relational database (port: backend.ports.lot_views.LotViewStore).

Rows are upserted (INSERT ... ON CONFLICT DO UPDATE, on PostgreSQL and SQLite alike) in one
transaction with the source's tick, so a reader sees a tick's views whole or not at all;
a partition's writes are fenced by its lease as its alerts are (lease_repo.check_fence).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Collection, Sequence

from sqlalchemy import Connection, Engine, Table, and_, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from backend.adapters.db.lease_repo import check_fence
from backend.adapters.db.lot_view_tables import lot_view_prices, lot_view_sources, lot_views
from backend.domain.lot_views import LotReleaseView, StoredLotView
from backend.domain.observations import PriceTick
from backend.ports.monitor import LeaseFence

V, P, S = lot_views.c, lot_view_prices.c, lot_view_sources.c
_IDS_PER_STATEMENT = 2000  # SQLite caps a statement's parameters


class SqlLotViews:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def save(self, source: str, checked_s: float | None, views: Sequence[LotReleaseView], *,
             gone: Collection[str] = (), prices: Sequence[PriceTick] = (), fence: LeaseFence | None = None,
             fresh: bool = False) -> None:
        with self.engine.begin() as db:
            if fence is not None:
                check_fence(db, fence)
            if fresh:
                db.execute(delete(lot_views).where(V.source == source))
                db.execute(delete(lot_view_prices).where(P.source == source))
                db.execute(delete(lot_view_sources).where(S.source == source))
            gone = list(gone)
            for start in range(0, len(gone), _IDS_PER_STATEMENT):
                db.execute(delete(lot_views).where(and_(V.source == source,
                                                        V.lot_id.in_(gone[start:start + _IDS_PER_STATEMENT]))))
            self._upsert(db, lot_views, ("lot_id", "source"), [_row(source, view) for view in views])
            self._upsert(db, lot_view_prices, ("source", "commodity_id"), [
                {"source": source, "commodity_id": tick.commodity_id, "price": tick.price,
                 "currency": tick.currency, "per_unit": tick.per_unit, "at_s": tick.at_s} for tick in prices])
            if checked_s is not None:
                self._upsert(db, lot_view_sources, ("source",), [{"source": source, "checked_s": checked_s}])

    def _upsert(self, db: Connection, table: Table, key: tuple[str, ...], rows: list[dict]) -> None:
        if not rows:
            return
        statement = self._insert(table)
        db.execute(statement.on_conflict_do_update(
            index_elements=list(key),
            set_={name: statement.excluded[name] for name in rows[0] if name not in key}), rows)

    def of_lot(self, lot_id: str, commodity_id: str) -> list[StoredLotView]:
        query = (select(lot_views, S.checked_s, P.price, P.currency, P.per_unit, P.at_s.label("price_at_s"))
                 .join(lot_view_sources, S.source == V.source)
                 .outerjoin(lot_view_prices, and_(P.source == V.source, P.commodity_id == commodity_id))
                 .where(V.lot_id == lot_id))
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [StoredLotView(_view(row), row.source, row.checked_s,
                              None if row.price is None else PriceTick(commodity_id, row.price, row.currency,
                                                                       row.per_unit, row.price_at_s))
                for row in rows]


def _row(source: str, view: LotReleaseView) -> dict:
    return {"lot_id": view.lot_id, "source": source, "loan_id": view.loan_id, "pledge_digest": view.pledge_digest,
            "unverified": view.unverified, "critical": view.critical, "rfid_ok": view.rfid_ok,
            "scale_ok": view.scale_ok, "observed_items": view.observed_items,
            "observed_quantity": str(view.observed_quantity), "weight_net_kg": view.weight_net_kg,
            "expected_weight_kg": view.expected_weight_kg, "missing": view.missing, "quality": str(view.quality),
            "as_of_s": view.as_of_s}


def _view(row) -> LotReleaseView:
    return LotReleaseView(row.lot_id, row.loan_id, row.pledge_digest, row.unverified, row.critical, row.rfid_ok,
                          row.scale_ok, row.observed_items, Decimal(row.observed_quantity), row.weight_net_kg,
                          row.expected_weight_kg, bytes(row.missing), Decimal(row.quality), row.as_of_s)
