"""Recorded inspections (physical counts), in the order they were recorded
(port: backend.ports.monitor.InspectionStore); each count is logged as it is stored."""
from __future__ import annotations

from sqlalchemy import Engine, func, insert, select

from backend.adapters.db import tables as t
from backend.adapters.db.evidence_repo import append_entries
from backend.domain.evidence_book import inspection_recorded
from backend.domain.inspections import Inspection


def inspection_of(row) -> Inspection:
    return Inspection(row.lot_id, row.items, row.quantity, row.at_s, row.temperature_c, row.note)


class SqlInspections:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, inspection: Inspection, recorded_by: str) -> int:
        """Stored and logged (inspection.recorded) in one transaction."""
        with self.engine.begin() as db:
            inspection_id = db.execute(insert(t.inspections).values(
                lot_id=inspection.lot_id, items=inspection.items, quantity=inspection.quantity,
                temperature_c=inspection.temperature_c, note=inspection.note,
                recorded_by=recorded_by, at_s=inspection.at_s)).inserted_primary_key[0]
            append_entries(db, [inspection_recorded(inspection, inspection_id, recorded_by)])
        return inspection_id

    def last_id(self) -> int:
        with self.engine.connect() as db:
            return db.scalar(select(func.max(t.inspections.c.id))) or 0

    def after(self, cursor: int) -> list[tuple[int, Inspection]]:
        query = select(t.inspections).where(t.inspections.c.id > cursor).order_by(t.inspections.c.id)
        with self.engine.connect() as db:
            return [(row.id, inspection_of(row)) for row in db.execute(query)]

    def last_by_lot(self) -> dict[str, Inspection]:
        with self.engine.connect() as db:
            rows = db.execute(select(t.inspections).order_by(t.inspections.c.id))
            return {row.lot_id: inspection_of(row) for row in rows}

    def recorded_between(self, from_s: float, to_s: float) -> list[Inspection]:
        counts = t.inspections
        query = select(counts).where(counts.c.at_s >= from_s, counts.c.at_s < to_s).order_by(counts.c.at_s,
                                                                                            counts.c.id)
        with self.engine.connect() as db:
            return [inspection_of(row) for row in db.execute(query)]
