"""The alert inbox in SQL (port: backend.ports.alerts.AlertInboxStore)."""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import Engine, delete, insert, select

from backend.adapters.db import tables as t
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
        with self.engine.begin() as db:
            db.execute(insert(t.alert_comments).values(
                alert_id=comment.alert_id, author=comment.author, role=comment.role, text=comment.text,
                at_s=comment.at_s))

    def comments(self, alert_id: str) -> list[AlertComment]:
        query = (select(t.alert_comments).where(t.alert_comments.c.alert_id == alert_id)
                 .order_by(t.alert_comments.c.id))
        with self.engine.connect() as db:
            return [AlertComment(r.alert_id, r.author, r.role, r.text, r.at_s) for r in db.execute(query)]
