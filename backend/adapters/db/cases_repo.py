"""The risk case base in SQL: cases, what episodes are made of, playbooks and their tasks
(ports: backend.ports.cases)."""
from __future__ import annotations

from decimal import Decimal
from typing import Iterable, Sequence

from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from backend.adapters.db import tables as t
from backend.domain.case_records import Case, CaseSubject
from backend.domain.cases import EpisodeAction, EpisodeAlert, Outcome
from backend.domain.playbooks import PlaybookStep, StandardCase, Task
from backend.ports.cases import PlaybookVersion

C, V, T, A = t.cases, t.playbook_versions, t.playbook_tasks, t.alerts


def _case_row(case: Case) -> dict:
    s, o = case.subject, case.outcome
    return {"id": case.id, "alert_id": case.alert_id, "lender_id": s.lender, "borrower_id": s.borrower,
            "loan_id": s.loan, "lot_id": s.lot, "warehouse_id": s.warehouse, "gateway_id": s.gateway,
            "commodity_id": s.commodity, "opened_at_s": case.opened_at_s, "closed_at_s": case.closed_at_s,
            "blind_s": case.blind_s, "outcome": o.kind, "note": o.note, "loss_amount": o.loss_amount,
            "loss_currency": o.loss_currency, "recorded_by": case.recorded_by, "alert_ids": list(case.alert_ids),
            "alert_types": list(case.alert_types), "features": dict(case.features), "summary": dict(case.summary)}


def _case(row) -> Case:
    subject = CaseSubject(row.lender_id, row.borrower_id, row.loan_id, row.lot_id, row.warehouse_id,
                          row.gateway_id, row.commodity_id)
    return Case(row.id, row.alert_id, subject, row.opened_at_s, row.closed_at_s, row.blind_s,
                Outcome(row.outcome, row.note, _cents(row.loss_amount), row.loss_currency), row.recorded_by,
                tuple(row.alert_ids), tuple(row.alert_types), dict(row.features), dict(row.summary))


def _cents(amount: Decimal | None) -> Decimal | None:
    """As entered (to the cent): PostgreSQL's NUMERIC gives back its scale's trailing zeros."""
    return None if amount is None else amount.quantize(Decimal("0.01"))


class SqlCases:
    """Cases (CaseStore) and the episodes they are made of (EpisodeSource)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, case: Case) -> bool:
        try:
            with self.engine.begin() as db:
                db.execute(insert(C).values(_case_row(case)))
        except IntegrityError:          # the alert has its case already (another request was first)
            return False
        return True

    def get(self, case_id: str) -> Case | None:
        with self.engine.connect() as db:
            row = db.execute(select(C).where(C.c.id == case_id)).first()
        return _case(row) if row else None

    def find(self, *, lender: str | None = None, outcome: str | None = None, limit: int = 100,
             offset: int = 0) -> list[Case]:
        query = select(C)
        if lender is not None:
            query = query.where(C.c.lender_id == lender)
        if outcome is not None:
            query = query.where(C.c.outcome == outcome)
        query = query.order_by(C.c.closed_at_s.desc(), C.c.id).limit(limit).offset(offset)
        with self.engine.connect() as db:
            return [_case(row) for row in db.execute(query)]

    def for_matching(self, lender: str | None, limit: int) -> list[Case]:
        return self.find(lender=lender, limit=limit) if limit else []

    def prior_count(self, lot: str | None, borrower: str | None, before_s: float) -> int:
        about = [column == value for column, value in ((C.c.lot_id, lot), (C.c.borrower_id, borrower)) if value]
        if not about:
            return 0
        with self.engine.connect() as db:
            return db.execute(select(func.count()).select_from(C).where(
                and_(C.c.closed_at_s < before_s, or_(*about)))).scalar_one()

    def alerts_about(self, lots: Iterable[str], loans: Iterable[str], since_s: float) -> list[EpisodeAlert]:
        about = or_(A.c.lot_id.in_(sorted(set(lots))), A.c.loan_id.in_(sorted(set(loans))),
                    and_(A.c.lot_id.is_(None), A.c.loan_id.is_(None)))
        live = or_(A.c.resolved_at_s.is_(None), A.c.resolved_at_s >= since_s)
        with self.engine.connect() as db:
            rows = db.execute(select(A).where(and_(about, live)).order_by(A.c.opened_at_s, A.c.id))
            return [EpisodeAlert(r.id, r.type, r.opened_at_s, r.resolved_at_s, r.lot_id, r.loan_id, r.gateway_id,
                                 r.lender_id, r.details or {}) for r in rows]

    def actions_about(self, lots: Iterable[str], loans: Iterable[str], from_s: float,
                      to_s: float) -> list[EpisodeAction]:
        lots, loans = sorted(set(lots)), sorted(set(loans))
        R, P, I, Q = t.releases, t.repayments, t.inspections, t.collateral_requests  # noqa: E741
        with self.engine.connect() as db:
            actions = [EpisodeAction(r.at_s, "release", "approved", r.loan_id, r.lot_id) for r in db.execute(
                select(R).where(R.c.lot_id.in_(lots), R.c.at_s.between(from_s, to_s)))]
            actions += [EpisodeAction(r.at_s, "repayment", "recorded", r.loan_id) for r in db.execute(
                select(P).where(P.c.loan_id.in_(loans), P.c.state == "confirmed", P.c.at_s.between(from_s, to_s)))]
            actions += [EpisodeAction(r.decided_at_s or r.at_s, "pledge", "refused", r.loan_id, r.pledge_lot, r.reason)
                        for r in db.execute(select(Q).where(Q.c.pledge_lot.in_(lots), Q.c.state == "rejected",
                                                            Q.c.at_s.between(from_s, to_s)))]
            actions += [self._inspection(db, r) for r in db.execute(
                select(I).where(I.c.lot_id.in_(lots), I.c.at_s.between(from_s, to_s)))]
        return sorted(actions, key=lambda a: (a.at_s, a.type))

    @staticmethod
    def _inspection(db, row) -> EpisodeAction:
        """A count of every tagged item of the lot is a count that matches; less is short."""
        items = db.execute(select(func.count()).select_from(t.lot_items)
                           .where(t.lot_items.c.lot_id == row.lot_id)).scalar_one()
        finding = "count matches" if row.items >= items else f"short: {row.items} of {items} items"
        return EpisodeAction(row.at_s, "inspection", "recorded", None, row.lot_id, finding)


def _steps_json(steps: Sequence[PlaybookStep]) -> list[dict]:
    return [{"title": s.title, "owner_role": s.owner_role, "deadline_s": s.deadline_s,
             "description": s.description} for s in steps]


def _version(row) -> PlaybookVersion:
    return PlaybookVersion(row.case_id, row.version, tuple(PlaybookStep(**step) for step in row.steps),
                           row.created_by, row.created_at_s)


def _task_row(task: Task) -> dict:
    return {"alert_id": task.alert_id, "step": task.step, "case_id": task.case_id, "version": task.version,
            "title": task.title, "owner_role": task.owner_role, "description": task.description,
            "opened_at_s": task.opened_at_s, "deadline_s": task.deadline_s, "lender_id": task.lender,
            "loan_id": task.loan, "lot_id": task.lot, "done_at_s": task.done_at_s, "done_by": task.done_by,
            "escalated_at_s": task.escalated_at_s}


def _task(row) -> Task:
    return Task(row.alert_id, row.step, row.case_id, row.version, row.title, row.owner_role, row.description,
                row.opened_at_s, row.deadline_s, row.lender_id, row.loan_id, row.lot_id, row.done_at_s,
                row.done_by, row.escalated_at_s)


class SqlPlaybooks:
    """Playbook versions and tasks (port: backend.ports.cases.PlaybookStore)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def seed(self, cases: Sequence[StandardCase], at_s: float) -> None:
        with self.engine.connect() as db:
            seeded = set(db.execute(select(V.c.case_id).distinct()).scalars())
        for case in cases:
            if case.id not in seeded:
                self._insert(case.id, 1, case.playbook, "seed", at_s)

    def _insert(self, case_id: str, version: int, steps: Sequence[PlaybookStep], by: str, at_s: float) -> bool:
        try:
            with self.engine.begin() as db:
                db.execute(insert(V).values(case_id=case_id, version=version, steps=_steps_json(steps),
                                            created_by=by, created_at_s=at_s))
        except IntegrityError:          # another process wrote this version first
            return False
        return True

    def current(self) -> dict[str, PlaybookVersion]:
        newest = select(V.c.case_id, func.max(V.c.version).label("version")).group_by(V.c.case_id).subquery()
        query = select(V).join(newest, and_(V.c.case_id == newest.c.case_id, V.c.version == newest.c.version))
        with self.engine.connect() as db:
            return {row.case_id: _version(row) for row in db.execute(query)}

    def versions(self, case_id: str) -> list[PlaybookVersion]:
        with self.engine.connect() as db:
            return [_version(row) for row in db.execute(select(V).where(V.c.case_id == case_id).order_by(V.c.version))]

    def add_version(self, case_id: str, steps: Sequence[PlaybookStep], by: str, at_s: float) -> PlaybookVersion:
        while True:                     # the next number, even when two editors save at once
            with self.engine.connect() as db:
                last = db.execute(select(func.max(V.c.version)).where(V.c.case_id == case_id)).scalar_one()
            if self._insert(case_id, (last or 0) + 1, steps, by, at_s):
                return PlaybookVersion(case_id, (last or 0) + 1, tuple(steps), by, at_s)

    def open_tasks(self, tasks: Sequence[Task]) -> int:
        opened = 0
        for task in tasks:
            try:
                with self.engine.begin() as db:
                    db.execute(insert(T).values(_task_row(task)))
                opened += 1
            except IntegrityError:      # opened already (a restart, another monitor)
                continue
        return opened

    def tasks(self, alert_ids: Sequence[str]) -> list[Task]:
        if not alert_ids:
            return []
        with self.engine.connect() as db:
            rows = db.execute(select(T).where(T.c.alert_id.in_(list(alert_ids))).order_by(T.c.alert_id, T.c.step))
            return [_task(row) for row in rows]

    def cases_with_tasks(self, alert_ids: Sequence[str]) -> set[str]:
        if not alert_ids:
            return set()
        with self.engine.connect() as db:
            return set(db.execute(select(T.c.case_id).where(T.c.alert_id.in_(list(alert_ids))).distinct()).scalars())

    def undone(self) -> list[Task]:
        with self.engine.connect() as db:
            rows = db.execute(select(T).where(T.c.done_at_s.is_(None)).order_by(T.c.deadline_s, T.c.alert_id, T.c.step))
            return [_task(row) for row in rows]

    def complete(self, alert_id: str, step: int, by: str, at_s: float) -> bool:
        with self.engine.begin() as db:
            return db.execute(update(T).where(and_(T.c.alert_id == alert_id, T.c.step == step, T.c.done_at_s.is_(None)))
                              .values(done_at_s=at_s, done_by=by)).rowcount == 1

    def mark_escalated(self, task: Task, at_s: float) -> bool:
        with self.engine.begin() as db:
            return db.execute(update(T).where(and_(T.c.alert_id == task.alert_id, T.c.step == task.step,
                                                   T.c.escalated_at_s.is_(None)))
                              .values(escalated_at_s=at_s)).rowcount == 1
