"""Webhook endpoints, the outbox and the delivery log in the relational database.

`enqueue_bank_events` runs inside the transaction that stores the alerts (SqlAlerts.apply):
an alert (or an inspection task it opened) and its outbox rows commit together or not at all;
`enqueue_notices` does the same for any other notice inside its writer's transaction. The relay claims due rows
with a lease (several relays may run; a relay killed mid-send leaves a lease that expires),
sends them, and records every attempt.
"""
from __future__ import annotations

import uuid
from dataclasses import asdict
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from backend.adapters.db import tables as t
from backend.adapters.db.inbox_repo import active_silences
from backend.adapters.webhook_cloudevents import (
    alert_event_body,
    event_id,
    event_type,
    iso_time,
    notice_event_body,
    ping_event_body,
)
from backend.domain.alerts import Alert, AlertOpened, AlertResolved
from backend.domain.inspections import InspectionOpened, InspectionOverdue
from backend.domain.notices import BankNotice, inspection_notice
from backend.domain.silences import silencing
from backend.ports.webhooks import Attempt, DeliveryRecord, EndpointRecord, OutboxItem

E, O, D = t.webhook_endpoints, t.webhook_outbox, t.webhook_deliveries  # noqa: E741 (the three tables, briefly)


def _endpoint(row) -> EndpointRecord:
    return EndpointRecord(row.id, row.lender_id, row.url, row.secret, row.previous_secret,
                          row.previous_secret_until_s, tuple(row.event_types) if row.event_types is not None else None,
                          row.enabled, row.disabled_reason, row.disabled_at_s, row.created_at_s)


def alert_data(alert: Alert | Mapping[str, Any]) -> dict[str, Any]:
    """The alert as the bank reads it in the event's `data`."""
    get = alert.get if isinstance(alert, Mapping) else (lambda name: getattr(alert, name))
    return {"id": get("id"), "type": get("type"), "severity": get("severity"), "state": get("state"),
            "opened_at_s": get("opened_at_s"), "resolved_at_s": get("resolved_at_s"),
            "loan": get("loan"), "lot": get("lot"), "lender": get("lender"),
            "details": dict(get("details") or {})}


def _live_endpoints(db: Connection, lenders: Iterable[str]) -> dict[str, list[EndpointRecord]]:
    rows = db.execute(select(E).where(and_(E.c.lender_id.in_(sorted(set(lenders))), E.c.enabled,
                                           E.c.deleted_at_s.is_(None))))
    by_lender: dict[str, list[EndpointRecord]] = {}
    for row in rows:
        by_lender.setdefault(row.lender_id, []).append(_endpoint(row))
    return by_lender


def _outbox_row(endpoint: EndpointRecord, alert: Mapping[str, Any], change: str, at_s: float,
                reminder: int | None = None) -> dict:
    return {"event_id": event_id(alert["id"], change, reminder), "endpoint_id": endpoint.id,
            "lender_id": endpoint.lender, "alert_id": alert["id"], "event_type": event_type(alert["type"], change),
            "body": alert_event_body(alert, change, at_s, reminder), "created_at_s": at_s, "state": "pending",
            "attempts": 0, "next_attempt_at_s": at_s}


def enqueue_bank_events(db: Connection, events: Sequence[object]) -> int:
    """Outbox rows, in `db`'s transaction, for every alert opened or resolved and every
    inspection task opened or overdue that is addressed to a lender. Returns how many rows
    were written."""
    alerts = [(e.alert, "opened" if isinstance(e, AlertOpened) else "resolved") for e in events
              if isinstance(e, (AlertOpened, AlertResolved)) and e.alert.lender]
    matches = {e.alert.id: [match.as_json() for match in e.matches] for e in events if isinstance(e, AlertOpened)}
    notices = [n for e in events if isinstance(e, (InspectionOpened, InspectionOverdue))
               and (n := inspection_notice(e)) is not None]
    rows = []
    if alerts:
        endpoints = _live_endpoints(db, [alert.lender for alert, _ in alerts])
        facts = _loan_facts(db, {alert.loan for alert, _ in alerts if alert.loan})
        warehouses = _warehouses(db, {alert.lot for alert, _ in alerts if alert.lot})
        silences = active_silences(db, max(alert.opened_at_s for alert, _ in alerts))
        for alert, change in alerts:
            at_s = alert.opened_at_s if change == "opened" else alert.resolved_at_s
            silence = silencing(silences, alert.type, alert.gateway, alert.opened_at_s)
            data = {**alert_data(alert), "warehouse": warehouses.get(alert.lot or ""), "gateway": alert.gateway,
                    "silenced_by": silence.id if silence else None,  # sent all the same: marked
                    "loan_facts": facts.get(alert.loan or ""), "links": _links(alert),
                    **({"matches": matches[alert.id]} if change == "opened" else {})}
            successor = _successor(db, alert) if change == "resolved" else None
            if successor is not None:          # an escalation, not a cure
                change, data = "superseded", {**data, "superseded_by": successor}
            rows += [_outbox_row(endpoint, data, change, at_s) for endpoint in endpoints.get(alert.lender, ())
                     if endpoint.wants(alert.type)]
        if rows:
            db.execute(insert(O), rows)
    return len(rows) + enqueue_notices(db, notices)


def _money(value: Decimal | None) -> str | None:
    """An amount to the cent, as a decimal string."""
    return None if value is None else str(value.quantize(Decimal("0.01")))


def _ratio(value: Decimal | None) -> str | None:
    """A ratio as written, without the storage's trailing zeros."""
    return None if value is None else f"{value.normalize():f}"


def _loan_facts(db: Connection, loan_ids: set[str]) -> dict[str, dict[str, Any]]:
    """Where each loan stands, as a bank reconciles it: money as decimal strings in the loan's
    currency, the thresholds, and the cure deadline as RFC 3339 (from the last stored standing)."""
    if not loan_ids:
        return {}
    L, S = t.loans, t.loan_standings
    rows = db.execute(select(L, S.c.status, S.c.ltv, S.c.collateral_value, S.c.market_value, S.c.drawing_power,
                             S.c.cure_amount, S.c.cure_deadline_s, S.c.price_stale)
                      .outerjoin(S, S.c.loan_id == L.c.id).where(L.c.id.in_(sorted(loan_ids))))
    return {row.id: {
        "currency": row.currency, "outstanding": _money(row.outstanding), "status": row.status,
        "ltv": _ratio(row.ltv), "market_value": _money(row.market_value),
        "lending_value": _money(row.collateral_value), "drawing_power": _money(row.drawing_power),
        "target_ltv": _ratio(row.target_ltv),
        "thresholds": {"warning": _ratio(row.warning), "margin_call": _ratio(row.margin_call),
                       "liquidation": _ratio(row.liquidation)},
        "cure_amount": _money(row.cure_amount),
        "cure_deadline": None if row.cure_deadline_s is None else iso_time(row.cure_deadline_s),
        "price_stale": row.price_stale} for row in rows}


def _warehouses(db: Connection, lot_ids: set[str]) -> dict[str, str]:
    if not lot_ids:
        return {}
    rows = db.execute(select(t.lots.c.id, t.lots.c.warehouse_id).where(t.lots.c.id.in_(sorted(lot_ids))))
    return {row.id: row.warehouse_id for row in rows}


def _links(alert: Alert) -> dict[str, str]:
    """Paths under the PledgeWatch address the bank was given: the alert, its loan, its page."""
    links = {"alert": f"/api/v1/alerts/{alert.id}", "dashboard": f"/#/alerts/{alert.id}"}
    if alert.loan:
        links["loan"] = f"/api/v1/loans/{alert.loan}"
    return links


# A loan's LTV alerts, mildest first: one that ends while a graver one is open was superseded.
LTV_LADDER = ("ltv_warning", "margin_call", "liquidation")


def _successor(db: Connection, alert: Alert) -> str | None:
    """The graver LTV alert open on the same loan that took over from `alert`, if any."""
    if alert.type not in LTV_LADDER or alert.loan is None:
        return None
    graver = LTV_LADDER[LTV_LADDER.index(alert.type) + 1:]
    A = t.alerts
    return db.execute(select(A.c.id).where(and_(A.c.loan_id == alert.loan, A.c.type.in_(graver),
                                                A.c.state != "resolved")).order_by(A.c.opened_at_s.desc())
                      .limit(1)).scalar()


def enqueue_notices(db: Connection, notices: Sequence[BankNotice]) -> int:
    """Outbox rows, in `db`'s transaction, for each notice and each live endpoint of its
    lender that wants its topic; a notice already queued (same id) is not queued again."""
    if not notices:
        return 0
    endpoints = _live_endpoints(db, [notice.lender for notice in notices])
    rows = _not_queued_yet(db, [_notice_row(endpoint, notice) for notice in notices
                                for endpoint in endpoints.get(notice.lender, ()) if endpoint.wants(notice.topic)])
    if rows:
        db.execute(insert(O), rows)
    return len(rows)


def _not_queued_yet(db: Connection, rows: list[dict]) -> list[dict]:
    """A notice's id is the same after a restart: never let a second announcement of it fail
    the transaction that stores it (or the alerts beside it)."""
    if not rows:
        return rows
    queued = {(row.endpoint_id, row.event_id) for row in db.execute(select(O.c.endpoint_id, O.c.event_id).where(
        O.c.event_id.in_(sorted({row["event_id"] for row in rows}))))}
    return [row for row in rows if (row["endpoint_id"], row["event_id"]) not in queued]


def _notice_row(endpoint: EndpointRecord, notice: BankNotice) -> dict:
    return {"event_id": notice.id, "endpoint_id": endpoint.id, "lender_id": endpoint.lender, "alert_id": None,
            "event_type": f"com.pledgewatch.{notice.topic}.{notice.change}", "body": notice_event_body(notice),
            "created_at_s": notice.at_s, "state": "pending", "attempts": 0, "next_attempt_at_s": notice.at_s}


class SqlWebhooks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- endpoints ---------------------------------------------------------------------
    def enqueue_ping(self, endpoint_id: str, event_id: str, now_s: float) -> None:
        endpoint = self.get(endpoint_id)
        if endpoint is None:
            return
        with self.engine.begin() as db:
            db.execute(insert(O).values(event_id=event_id, endpoint_id=endpoint_id, lender_id=endpoint.lender,
                                        alert_id=None, event_type="com.pledgewatch.ping",
                                        body=ping_event_body(event_id, endpoint_id, endpoint.lender, now_s),
                                        created_at_s=now_s, state="pending", attempts=0,
                                        next_attempt_at_s=now_s))

    def requeue(self, endpoint_id: str, event_id: str, now_s: float) -> bool:
        with self.engine.begin() as db:
            moved = db.execute(update(O).where(and_(O.c.endpoint_id == endpoint_id, O.c.event_id == event_id))
                               .values(state="pending", next_attempt_at_s=now_s, lease_until_s=None,
                                       lease_owner=None, done_at_s=None))
            return moved.rowcount > 0

    def notify(self, notices: Sequence[BankNotice]) -> int:
        """Queue notices in a transaction of their own (a writer with its own transaction at
        hand calls `enqueue_notices` inside it instead). Returns the rows written."""
        with self.engine.begin() as db:
            return enqueue_notices(db, notices)

    def create(self, endpoint_id: str, lender: str, url: str, secret: str,
               event_types: Sequence[str] | None, now_s: float) -> EndpointRecord:
        with self.engine.begin() as db:
            db.execute(insert(E).values(id=endpoint_id, lender_id=lender, url=url, secret=secret,
                                        event_types=list(event_types) if event_types is not None else None,
                                        enabled=True, created_at_s=now_s))
        return self.get(endpoint_id)

    def get(self, endpoint_id: str) -> EndpointRecord | None:
        with self.engine.connect() as db:
            row = db.execute(select(E).where(and_(E.c.id == endpoint_id, E.c.deleted_at_s.is_(None)))).first()
        return _endpoint(row) if row else None

    def endpoints(self, lender: str | None = None) -> list[EndpointRecord]:
        query = select(E).where(E.c.deleted_at_s.is_(None)).order_by(E.c.created_at_s, E.c.id)
        if lender is not None:
            query = query.where(E.c.lender_id == lender)
        with self.engine.connect() as db:
            return [_endpoint(r) for r in db.execute(query)]

    def delete(self, endpoint_id: str, now_s: float) -> bool:
        with self.engine.begin() as db:
            done = db.execute(update(E).where(and_(E.c.id == endpoint_id, E.c.deleted_at_s.is_(None)))
                              .values(deleted_at_s=now_s, enabled=False))
            self._cancel_pending(db, endpoint_id, now_s)
        return done.rowcount == 1

    def rotate(self, endpoint_id: str, new_secret: str, now_s: float, overlap_s: float) -> bool:
        with self.engine.begin() as db:
            current = db.execute(select(E.c.secret).where(E.c.id == endpoint_id)).scalar_one_or_none()
            if current is None:
                return False
            db.execute(update(E).where(E.c.id == endpoint_id).values(
                secret=new_secret, previous_secret=current, previous_secret_until_s=now_s + overlap_s))
        return True

    def disable(self, endpoint_id: str, reason: str, now_s: float) -> None:
        with self.engine.begin() as db:
            db.execute(update(E).where(E.c.id == endpoint_id).values(
                enabled=False, disabled_reason=reason, disabled_at_s=now_s))
            self._cancel_pending(db, endpoint_id, now_s)

    @staticmethod
    def _cancel_pending(db: Connection, endpoint_id: str, now_s: float) -> None:
        db.execute(update(O).where(and_(O.c.endpoint_id == endpoint_id, O.c.state == "pending"))
                   .values(state="cancelled", done_at_s=now_s, lease_until_s=None))

    # -- the relay's side --------------------------------------------------------------
    def claim_due(self, now_s: float, lease_s: float, limit: int) -> list[OutboxItem]:
        """Lease up to `limit` due rows to this caller (safe with several relays, on any host).

        On PostgreSQL the rows are picked FOR UPDATE SKIP LOCKED: a relay passes over the
        rows another is leasing at that moment and takes the next ones, instead of waiting
        for them and then finding them leased. (SQLite has one writer at a time anyway.)"""
        owner = uuid.uuid4().hex
        due = and_(O.c.state == "pending", O.c.next_attempt_at_s <= now_s,
                   or_(O.c.lease_until_s.is_(None), O.c.lease_until_s < now_s))
        with self.engine.begin() as db:
            ids = db.execute(select(O.c.id).where(due).order_by(O.c.next_attempt_at_s, O.c.id)
                             .limit(limit).with_for_update(skip_locked=True)).scalars().all()
            if not ids:
                return []
            db.execute(update(O).where(and_(O.c.id.in_(ids), due))
                       .values(lease_until_s=now_s + lease_s, lease_owner=owner))
            rows = db.execute(select(O, E).join(E, E.c.id == O.c.endpoint_id).where(O.c.lease_owner == owner)
                              .order_by(O.c.next_attempt_at_s, O.c.id)).all()
        return [OutboxItem(r.id, r.event_id, r.event_type, r.body, r.attempts, r.created_at_s,
                           _endpoint(_EndpointRow(r))) for r in rows]

    def record_attempt(self, item: OutboxItem, attempt: Attempt, state: str,
                       next_attempt_at_s: float | None, now_s: float) -> None:
        """Log one attempt and move the row on (pending with a new due time, or done)."""
        with self.engine.begin() as db:
            db.execute(insert(D).values(outbox_id=item.id, endpoint_id=item.endpoint.id, event_id=item.event_id,
                                        attempt=item.attempts + 1, at_s=now_s,
                                        next_attempt_at_s=next_attempt_at_s, **asdict(attempt)))
            values = {"attempts": item.attempts + 1, "state": state, "lease_until_s": None, "lease_owner": None}
            if state == "pending":
                values["next_attempt_at_s"] = next_attempt_at_s
            else:
                values["done_at_s"] = now_s
            db.execute(update(O).where(and_(O.c.id == item.id, O.c.state == "pending")).values(**values))

    def deliveries(self, endpoint_id: str, limit: int = 100, offset: int = 0) -> list[DeliveryRecord]:
        query = (select(D).where(D.c.endpoint_id == endpoint_id).order_by(D.c.at_s.desc(), D.c.id.desc())
                 .limit(limit).offset(offset))
        with self.engine.connect() as db:
            return [DeliveryRecord(r.id, r.endpoint_id, r.event_id, r.attempt, r.at_s, r.outcome, r.status_code,
                                   r.error, r.duration_ms, r.next_attempt_at_s) for r in db.execute(query)]

    def outbox_states(self) -> dict[str, int]:
        with self.engine.connect() as db:
            return dict(db.execute(select(O.c.state, func.count()).group_by(O.c.state)).all())

    def next_due_s(self) -> float | None:
        with self.engine.connect() as db:
            return db.execute(select(func.min(O.c.next_attempt_at_s)).where(O.c.state == "pending")).scalar()

    # -- reminders of unacknowledged critical alerts -------------------------------------
    def enqueue_reminders(self, now_s: float, after_s: float) -> int:
        """A reminder event for each critical alert still open (nobody acknowledged it)
        `after_s` after it opened or after its last reminder. Returns rows written: 0 when
        another relay queued the same reminders first."""
        try:
            return self._enqueue_reminders(now_s, after_s)
        except IntegrityError:  # another relay's transaction wrote the same reminder rows
            return 0

    def _enqueue_reminders(self, now_s: float, after_s: float) -> int:
        A, R = t.alerts, t.alert_reminders
        query = (select(A, R.c.count.label("reminders"), R.c.last_at_s.label("reminded_at_s"))
                 .outerjoin(R, R.c.alert_id == A.c.id)
                 .where(and_(A.c.state == "open", A.c.severity == "critical", A.c.lender_id.is_not(None),
                             A.c.opened_at_s <= now_s - after_s,
                             or_(R.c.last_at_s.is_(None), R.c.last_at_s <= now_s - after_s))))
        written = 0
        with self.engine.begin() as db:
            rows = db.execute(query).all()
            endpoints = _live_endpoints(db, (r.lender_id for r in rows)) if rows else {}
            for row in rows:
                count = (row.reminders or 0) + 1
                if row.reminders is None:
                    db.execute(insert(R).values(alert_id=row.id, count=1, last_at_s=now_s))
                else:
                    db.execute(update(R).where(R.c.alert_id == row.id).values(count=count, last_at_s=now_s))
                data = alert_data({**row._mapping, "loan": row.loan_id, "lot": row.lot_id, "lender": row.lender_id})
                outbox = [_outbox_row(e, data, "reminder", now_s, count) for e in endpoints.get(row.lender_id, ())
                          if e.wants(row.type)]
                if outbox:
                    db.execute(insert(O), outbox)
                written += len(outbox)
        return written


class _EndpointRow:
    """The endpoint columns of an outbox ⨝ endpoint row, under the endpoint's own names."""

    def __init__(self, row) -> None:
        mapping = row._mapping
        self.id = mapping[E.c.id]
        self.lender_id = mapping[E.c.lender_id]
        for name in ("url", "secret", "previous_secret", "previous_secret_until_s", "event_types", "enabled",
                     "disabled_reason", "disabled_at_s", "created_at_s"):
            setattr(self, name, mapping[E.c[name]])
