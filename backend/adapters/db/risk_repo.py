"""The history of risk scores read from the alerts, inspections and cases tables
(port: backend.ports.risk.RiskHistory)."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, or_, select

from backend.adapters.db import tables as t
from backend.adapters.db.inspections_repo import inspection_of
from backend.domain.inspections import Inspection
from backend.domain.risk_scores import AlertEpisode, CaseOutcome


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

    def cases(self, *, since_s: float, lender: str | None) -> list[CaseOutcome]:
        c = t.cases.c
        query = select(c.outcome, c.opened_at_s, c.closed_at_s, c.lot_id, c.warehouse_id, c.gateway_id,
                       c.borrower_id, c.commodity_id, c.loss_amount, c.loss_currency, c.alert_types
                       ).where(c.closed_at_s >= since_s)
        if lender is not None:
            query = query.where(c.lender_id == lender)
        with self.engine.connect() as db:
            return [CaseOutcome(outcome=row.outcome, opened_at_s=row.opened_at_s, closed_at_s=row.closed_at_s,
                                lot=row.lot_id, warehouse=row.warehouse_id, gateway=row.gateway_id,
                                borrower=row.borrower_id, commodity=row.commodity_id, loss_amount=_cents(row.loss_amount),
                                loss_currency=row.loss_currency, alert_types=tuple(row.alert_types))
                    for row in db.execute(query.order_by(c.closed_at_s, c.id))]


def _cents(amount: Decimal | None) -> Decimal | None:
    """As entered (to the cent): PostgreSQL's NUMERIC gives back its scale's trailing zeros."""
    return None if amount is None else amount.quantize(Decimal("0.01"))
