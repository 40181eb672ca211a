"""The alert inbox in SQL: assignments, comments and silences (ports in backend.ports.alerts)."""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import Connection, Engine, and_, delete, insert, select, update

from backend.adapters.db import tables as t
from backend.adapters.db.evidence_repo import append_entries
from backend.domain import evidence
from backend.domain.evidence_book import alert_commented
from backend.domain.silences import Silence
from backend.ports.alerts import AlertComment


class SqlAlertInbox:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def assign(self, alert_id: str, assignee: str | None, by: str, at_s: float) -> None:
        """`assignee` None: nobody works it any more."""
        with self.engine.begin() as db:
            db.execute(delete(t.alert_assignments).where(t.alert_assignments.c.alert_id == alert_id))
            if assignee is not None:
                db.execute(insert(t.alert_assignments).values(alert_id=alert_id, assignee=assignee,
                                                              assigned_by=by, at_s=at_s))

    def assignees(self, alert_ids: Sequence[str]) -> dict[str, str]:
        if not alert_ids:
            return {}
        query = select(t.alert_assignments.c.alert_id, t.alert_assignments.c.assignee).where(
            t.alert_assignments.c.alert_id.in_(list(alert_ids)))
        with self.engine.connect() as db:
            return {row.alert_id: row.assignee for row in db.execute(query)}

    def add_comment(self, comment: AlertComment) -> None:
        """Stored and logged (alert.commented, naming the alert's subjects) in one transaction."""
        with self.engine.begin() as db:
            db.execute(insert(t.alert_comments).values(
                alert_id=comment.alert_id, author=comment.author, role=comment.role, text=comment.text,
                at_s=comment.at_s))
            row = db.execute(select(t.alerts).where(t.alerts.c.id == comment.alert_id)).one()
            subjects = evidence.alert_subjects(row.id, row.loan_id, row.lot_id, row.lender_id, row.gateway_id)
            append_entries(db, [alert_commented(subjects, comment.author, comment.text, comment.at_s)])

    def comments(self, alert_id: str) -> list[AlertComment]:
        query = (select(t.alert_comments).where(t.alert_comments.c.alert_id == alert_id)
                 .order_by(t.alert_comments.c.id))
        with self.engine.connect() as db:
            return [AlertComment(r.alert_id, r.author, r.role, r.text, r.at_s) for r in db.execute(query)]


def _silence(row) -> Silence:
    return Silence(row.id, row.scope, row.value, row.gateway, row.reason, row.created_by, row.created_at_s,
                   row.until_s)


def active_silences(db: Connection, now_s: float) -> list[Silence]:
    """In `db`'s transaction (the webhook outbox marks silenced alerts with them)."""
    S = t.alert_silences
    return [_silence(row) for row in db.execute(select(S).where(and_(S.c.created_at_s <= now_s, S.c.until_s > now_s))
                                                .order_by(S.c.created_at_s))]


class SqlSilences:
    """Silences in SQL (port: backend.ports.alerts.SilenceStore)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, silence: Silence) -> None:
        with self.engine.begin() as db:
            db.execute(insert(t.alert_silences).values(
                id=silence.id, scope=silence.scope, value=silence.value, gateway=silence.gateway,
                reason=silence.reason, created_by=silence.created_by, created_at_s=silence.created_at_s,
                until_s=silence.until_s))

    def active(self, now_s: float) -> list[Silence]:
        with self.engine.connect() as db:
            return active_silences(db, now_s)

    def end(self, silence_id: str, now_s: float) -> bool:
        """Ends it now (kept, for the record); False when there is no such silence running."""
        S = t.alert_silences
        with self.engine.begin() as db:
            return db.execute(update(S).where(and_(S.c.id == silence_id, S.c.until_s > now_s))
                              .values(until_s=now_s)).rowcount > 0
