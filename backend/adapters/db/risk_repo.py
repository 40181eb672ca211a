"""The history of risk scores read from the alerts and inspections tables
(port: backend.ports.risk.RiskHistory)."""
from __future__ import annotations

from sqlalchemy import Engine, or_, select

from backend.adapters.db import tables as t
from backend.adapters.db.inspections_repo import inspection_of
from backend.domain.inspections import Inspection
from backend.domain.risk_scores import AlertEpisode


class SqlRiskHistory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def alert_episodes(self, *, since_s: float, lender: str | None) -> list[AlertEpisode]:
        a = t.alerts.c
        query = select(a.type, a.subject, a.opened_at_s, a.resolved_at_s, a.loan_id, a.lot_id, a.gateway_id).where(
            or_(a.opened_at_s >= since_s, a.resolved_at_s.is_(None), a.resolved_at_s >= since_s))
        if lender is not None:
            query = query.where(a.lender_id == lender)
        with self.engine.connect() as db:
            return [AlertEpisode(row.type, row.subject, row.opened_at_s, row.resolved_at_s, loan=row.loan_id,
                                 lot=row.lot_id, gateway=row.gateway_id) for row in db.execute(query.order_by(a.opened_at_s))]

    def inspections(self, *, since_s: float) -> list[Inspection]:
        query = select(t.inspections).where(t.inspections.c.at_s >= since_s).order_by(t.inspections.c.id)
        with self.engine.connect() as db:
            return [inspection_of(row) for row in db.execute(query)]
