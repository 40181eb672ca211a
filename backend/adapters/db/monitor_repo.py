"""What the monitor keeps in the relational database: alerts, loan standings, price marks
(ports: backend.ports.alerts.AlertStore, backend.ports.monitor.StandingStore,
backend.ports.prices.PriceMarkStore)."""
from __future__ import annotations

from typing import Callable, Collection, Mapping, Sequence

from sqlalchemy import ARRAY, Connection, Engine, String, and_, any_, bindparam, insert, or_, select, update

from backend.adapters.db import tables as t
from backend.adapters.db.evidence_repo import append_entries
from backend.adapters.db.lease_repo import check_fence
from backend.adapters.webhook_store import enqueue_bank_events
from backend.domain import evidence
from backend.domain.alerts import Alert, AlertOpened, AlertResolved
from backend.domain.ltv import LoanStanding
from backend.domain.observations import PriceTick
from backend.ports.alerts import AlertRecord
from backend.ports.monitor import HistoryPoint, LeaseFence, StandingRecord
from backend.ports.prices import FxMark


def _record(row) -> AlertRecord:
    return AlertRecord(row.id, row.type, row.subject, row.severity, row.state, row.opened_at_s,
                       row.acknowledged_at_s, row.acknowledged_by, row.ack_note, row.resolved_at_s,
                       row.resolved_by, row.loan_id, row.lot_id, row.lender_id, row.gateway_id,
                       row.details, tuple(row.matches or ()))


class SqlAlerts:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.on_outbox: Callable[[], None] = lambda: None  # new webhook rows: wake the relay

    def apply(self, events: Sequence[object], subjects: Mapping[str, str], fence: LeaseFence | None = None) -> None:
        """Store opened alerts and resolutions; `subjects` maps alert id -> condition subject.

        The banks' webhook outbox rows for these events are written in the same
        transaction: an alert is never stored without its notifications, nor the reverse.
        With a fence, the lease row is locked first: a takeover waits for this transaction,
        and a monitor whose lease was taken stores nothing (LeaseLost)."""
        with self.engine.begin() as db:
            if fence is not None:
                check_fence(db, fence)
            entries = []
            for event in events:
                if isinstance(event, AlertOpened):
                    db.execute(insert(t.alerts).values(_opened_row(event, subjects[event.alert.id])))
                    entries.append(evidence.alert_opened(event.alert))
                elif isinstance(event, AlertResolved):
                    db.execute(update(t.alerts).where(t.alerts.c.id == event.alert.id)
                               .values(state="resolved", resolved_at_s=event.alert.resolved_at_s))
                    entries.append(_worked(event.alert, "resolved", "system", event.alert.resolved_at_s or 0))
            queued = enqueue_bank_events(db, events)
            append_entries(db, entries)
        if queued:
            self.on_outbox()

    def active(self) -> list[AlertRecord]:
        with self.engine.connect() as db:
            rows = db.execute(select(t.alerts).where(t.alerts.c.state != "resolved"))
            return [_record(r) for r in rows]

    def resolved_by_people_since(self, since_s: float) -> list[AlertRecord]:
        with self.engine.connect() as db:
            rows = db.execute(select(t.alerts).where(and_(
                t.alerts.c.resolved_by.is_not(None), t.alerts.c.resolved_at_s >= since_s)))
            return [_record(r) for r in rows]

    def find(self, *, state: str | None = None, type_: str | None = None,
             lender: str | None = None, limit: int = 100, offset: int = 0) -> list[AlertRecord]:
        query = select(t.alerts)
        for column, value in ((t.alerts.c.state, state), (t.alerts.c.type, type_),
                              (t.alerts.c.lender_id, lender)):
            if value is not None:
                query = query.where(column == value)
        query = query.order_by(t.alerts.c.opened_at_s.desc(), t.alerts.c.id).limit(limit).offset(offset)
        with self.engine.connect() as db:
            return [_record(r) for r in db.execute(query)]

    def get(self, alert_id: str) -> AlertRecord | None:
        with self.engine.connect() as db:
            row = db.execute(select(t.alerts).where(t.alerts.c.id == alert_id)).first()
        return _record(row) if row else None

    def overlapping(self, lender: str, from_s: float, to_s: float) -> list[AlertRecord]:
        A = t.alerts
        query = select(A).where(and_(A.c.lender_id == lender, A.c.opened_at_s < to_s,
                                     or_(A.c.resolved_at_s.is_(None), A.c.resolved_at_s >= from_s)))
        with self.engine.connect() as db:
            return [_record(r) for r in db.execute(query.order_by(A.c.opened_at_s, A.c.id))]

    def acknowledge(self, alert_id: str, by: str, note: str | None, at_s: float) -> bool:
        """Open -> acknowledged (and logged, in the same transaction); False when the alert is not open."""
        with self.engine.begin() as db:
            done = db.execute(update(t.alerts).where(and_(t.alerts.c.id == alert_id,
                                                          t.alerts.c.state == "open"))
                              .values(state="acknowledged", acknowledged_at_s=at_s,
                                      acknowledged_by=by, ack_note=note))
            if done.rowcount == 1:
                _log_worked(db, alert_id, "acknowledged", by, at_s, note)
        return done.rowcount == 1

    def resolve(self, alert_id: str, by: str, at_s: float) -> bool:
        with self.engine.begin() as db:
            done = db.execute(update(t.alerts).where(and_(t.alerts.c.id == alert_id,
                                                          t.alerts.c.state != "resolved"))
                              .values(state="resolved", resolved_at_s=at_s, resolved_by=by))
            if done.rowcount == 1:
                _log_worked(db, alert_id, "resolved", by, at_s)
        return done.rowcount == 1


def _worked(alert: Alert, change: str, by: str, at_s: float, note: str | None = None) -> evidence.Entry:
    subjects = evidence.alert_subjects(alert.id, alert.loan, alert.lot, alert.lender, alert.gateway)
    return evidence.alert_worked(change, subjects, by, int(at_s), note)


def _log_worked(db: Connection, alert_id: str, change: str, by: str, at_s: float, note: str | None = None) -> None:
    row = db.execute(select(t.alerts).where(t.alerts.c.id == alert_id)).one()
    subjects = evidence.alert_subjects(row.id, row.loan_id, row.lot_id, row.lender_id, row.gateway_id)
    append_entries(db, [evidence.alert_worked(change, subjects, by, int(at_s), note)])


def _opened_row(event: AlertOpened, subject: str) -> dict:
    alert = event.alert
    return {"id": alert.id, "type": alert.type, "subject": subject, "severity": alert.severity,
            "state": "open", "opened_at_s": alert.opened_at_s, "loan_id": alert.loan,
            "lot_id": alert.lot, "lender_id": alert.lender, "gateway_id": alert.gateway,
            "details": dict(alert.details), "matches": [match.as_json() for match in event.matches]}


_IDS_PER_QUERY = 2000


class SqlStandings:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, records: Sequence[StandingRecord]) -> None:
        with self.engine.begin() as db:
            db.execute(t.loan_standings.delete().where(
                t.loan_standings.c.loan_id.in_([r.loan_id for r in records])))
            if records:
                db.execute(insert(t.loan_standings), [r.__dict__ for r in records])

    def all(self) -> dict[str, StandingRecord]:
        with self.engine.connect() as db:
            return {r.loan_id: StandingRecord(**r._mapping) for r in db.execute(select(t.loan_standings))}

    def of_loans(self, loan_ids: Collection[str]) -> dict[str, StandingRecord]:
        ids, found = list(loan_ids), {}
        with self.engine.connect() as db:
            if db.dialect.name == "postgresql":  # one array parameter: 5,000 bound ids cost more than the read
                query = select(t.loan_standings).where(t.loan_standings.c.loan_id == any_(bindparam(
                    "ids", type_=ARRAY(String))))
                rows = db.execute(query, {"ids": ids})
                return {r.loan_id: StandingRecord(**r._mapping) for r in rows}
            for start in range(0, len(ids), _IDS_PER_QUERY):  # in slices: SQLite caps a statement's parameters
                query = select(t.loan_standings).where(
                    t.loan_standings.c.loan_id.in_(ids[start:start + _IDS_PER_QUERY]))
                found.update((r.loan_id, StandingRecord(**r._mapping)) for r in db.execute(query))
        return found

    def append_history(self, points: Sequence[HistoryPoint]) -> None:
        if points:
            with self.engine.begin() as db:
                db.execute(insert(t.loan_history), [p.__dict__ for p in points])

    def history(self, loan_id: str, from_s: float, to_s: float, limit: int) -> list[HistoryPoint]:
        query = (select(t.loan_history).where(and_(
            t.loan_history.c.loan_id == loan_id, t.loan_history.c.at_s >= from_s,
            t.loan_history.c.at_s < to_s)).order_by(t.loan_history.c.at_s).limit(limit))
        with self.engine.connect() as db:
            return [HistoryPoint(r.loan_id, r.at_s, r.status, r.ltv, r.collateral_value,
                                 r.observed_quantity, r.pledged_quantity) for r in db.execute(query)]

    def standings(self) -> dict[str, LoanStanding]:
        """What the LTV state machine needs to carry on after a restart."""
        return {loan_id: LoanStanding(r.status, r.updated_at_s, r.cure_deadline_s)
                for loan_id, r in self.all().items()}


class SqlPriceMarks:
    """Price and FX marks: the history, in order of arrival (the monitor reads by id)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, tick: PriceTick, source: str) -> int:
        with self.engine.begin() as db:
            return db.execute(insert(t.price_marks).values(
                commodity_id=tick.commodity_id, price=tick.price, currency=tick.currency,
                per_unit=tick.per_unit, at_s=tick.at_s, source=source)).inserted_primary_key[0]

    def after(self, mark_id: int) -> list[tuple[int, PriceTick]]:
        with self.engine.connect() as db:
            rows = db.execute(select(t.price_marks).where(t.price_marks.c.id > mark_id)
                              .order_by(t.price_marks.c.id))
            return [(r.id, _tick(r)) for r in rows]

    def latest(self, commodity_id: str) -> PriceTick | None:
        """The newest mark of a commodity by quote time (not necessarily accepted by the core)."""
        with self.engine.connect() as db:
            row = db.execute(select(t.price_marks).where(t.price_marks.c.commodity_id == commodity_id)
                             .order_by(t.price_marks.c.at_s.desc(), t.price_marks.c.id.desc())
                             .limit(1)).first()
        return _tick(row) if row else None

    def history(self, commodity_id: str, from_s: float, to_s: float,
                limit: int) -> list[tuple[PriceTick, str]]:
        query = (select(t.price_marks).where(and_(
            t.price_marks.c.commodity_id == commodity_id, t.price_marks.c.at_s >= from_s,
            t.price_marks.c.at_s < to_s)).order_by(t.price_marks.c.at_s, t.price_marks.c.id)
            .limit(limit))
        with self.engine.connect() as db:
            return [(_tick(r), r.source) for r in db.execute(query)]

    def closes(self, commodity_id: str, instants: Sequence[float]) -> list[PriceTick | None]:
        marks = t.price_marks
        newest = (select(marks).where(marks.c.commodity_id == commodity_id, marks.c.at_s < bindparam("before"))
                  .order_by(marks.c.at_s.desc(), marks.c.id.desc()).limit(1))
        with self.engine.connect() as db:  # one indexed look-up per instant
            rows = [db.execute(newest, {"before": at_s}).first() for at_s in instants]
        return [_tick(row) if row else None for row in rows]

    def add_fx(self, mark: FxMark, source: str) -> int:
        with self.engine.begin() as db:
            return db.execute(insert(t.fx_marks).values(
                base_ccy=mark.base, quote_ccy=mark.quote, rate=mark.rate, at_s=mark.at_s,
                source=source)).inserted_primary_key[0]

    def fx_after(self, mark_id: int) -> list[tuple[int, FxMark]]:
        with self.engine.connect() as db:
            rows = db.execute(select(t.fx_marks).where(t.fx_marks.c.id > mark_id).order_by(t.fx_marks.c.id))
            return [(r.id, FxMark(r.base_ccy, r.quote_ccy, r.rate, r.at_s)) for r in rows]

    def latest_fx(self, base: str, quote: str) -> FxMark | None:
        with self.engine.connect() as db:
            row = db.execute(select(t.fx_marks).where(and_(
                t.fx_marks.c.base_ccy == base, t.fx_marks.c.quote_ccy == quote))
                .order_by(t.fx_marks.c.at_s.desc(), t.fx_marks.c.id.desc()).limit(1)).first()
        return FxMark(row.base_ccy, row.quote_ccy, row.rate, row.at_s) if row else None


def _tick(row) -> PriceTick:
    return PriceTick(row.commodity_id, row.price, row.currency, row.per_unit, row.at_s)
