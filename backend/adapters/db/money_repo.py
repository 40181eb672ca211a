"""Repayments, drawdowns, interest, closing and collateral requests in the relational database
(ports: backend.ports.money.MoneyStore and CollateralStore).

A write that moves a loan's outstanding amount is a conditional UPDATE on the amount it was
decided on (`outstanding = :before`): on SQLite and PostgreSQL alike, of two writers racing,
the second finds the row changed, updates nothing and raises Stale in a transaction that
then rolls back. Decisions (pending → confirmed/approved/rejected) are conditional the same
way on `state = 'pending'`. Bank notices are queued, and log entries appended, in the same
transaction.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from sqlalchemy import Connection, Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from backend.adapters.db import tables as t
from backend.adapters.db.evidence_repo import append_entries
from backend.adapters.db.registry_repo import _bump_version
from backend.adapters.webhook_store import enqueue_notices
from backend.domain.evidence import Entry
from backend.domain.money import InterestPosting
from backend.domain.notices import BankNotice
from backend.ports.money import CollateralRequest, Drawdown, RepaymentRecord, RequestKind, Stale
from backend.ports.registry import AlreadyPledged

R, L, C = t.repayments, t.loans, t.collateral_requests


def _repayment(row) -> RepaymentRecord:
    return RepaymentRecord(row.ref or f"rp-{row.id}", row.loan_id, row.amount, row.at_s, row.state, row.entered_by,
                           row.decided_by, row.decided_at_s, row.reason)


def _set_outstanding(db: Connection, loan_id: str, before: Decimal, after: Decimal, **values: object) -> None:
    done = db.execute(update(L).where(and_(L.c.id == loan_id, L.c.outstanding == before, L.c.closed_at_s.is_(None)))
                      .values(outstanding=after, **values))
    if done.rowcount != 1:
        raise Stale(f"loan {loan_id} changed meanwhile")
    _bump_version(db)


def _decide(db: Connection, table, key, state: str, by: str | None, at_s: float | None, reason: str | None) -> None:
    done = db.execute(update(table).where(and_(key, table.c.state == "pending"))
                      .values(state=state, decided_by=by, decided_at_s=at_s, reason=reason))
    if done.rowcount != 1:
        raise Stale("already decided")


class SqlMoney:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def repayments(self, loan_id: str) -> list[RepaymentRecord]:
        with self.engine.connect() as db:
            return [_repayment(r) for r in db.execute(select(R).where(R.c.loan_id == loan_id).order_by(R.c.id))]

    def repayment(self, repayment_id: str) -> RepaymentRecord | None:
        with self.engine.connect() as db:
            row = db.execute(select(R).where(R.c.ref == repayment_id)).first()
        return _repayment(row) if row else None

    def drawdowns(self, loan_id: str) -> list[Drawdown]:
        D = t.drawdowns
        with self.engine.connect() as db:
            rows = db.execute(select(D).where(D.c.loan_id == loan_id).order_by(D.c.at_s, D.c.id))
            return [Drawdown(r.id, r.loan_id, r.amount, r.by, r.at_s) for r in rows]

    def interest_postings(self, loan_id: str) -> list[InterestPosting]:
        P = t.interest_postings
        with self.engine.connect() as db:
            rows = db.execute(select(P).where(P.c.loan_id == loan_id).order_by(P.c.to_s))
            return [InterestPosting(r.loan_id, r.amount, r.days, r.from_s, r.to_s) for r in rows]

    def enter_repayment(self, record: RepaymentRecord, notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        with self.engine.begin() as db:
            db.execute(insert(R).values(self._row(record)))
            enqueue_notices(db, notices)
            append_entries(db, entries)

    def settle_repayment(self, record: RepaymentRecord, outstanding_before: Decimal,
                         outstanding_after: Decimal, notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        with self.engine.begin() as db:
            if db.scalar(select(func.count()).select_from(R).where(R.c.ref == record.id)):
                _decide(db, R, R.c.ref == record.id, "confirmed", record.decided_by, record.decided_at_s, None)
            else:
                db.execute(insert(R).values(self._row(record)))
            _set_outstanding(db, record.loan_id, outstanding_before, outstanding_after)
            enqueue_notices(db, notices)
            append_entries(db, entries)

    def reject_repayment(self, record: RepaymentRecord, notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        with self.engine.begin() as db:
            _decide(db, R, R.c.ref == record.id, "rejected", record.decided_by, record.decided_at_s, record.reason)
            enqueue_notices(db, notices)
            append_entries(db, entries)

    @staticmethod
    def _row(record: RepaymentRecord) -> dict:
        return {"ref": record.id, "loan_id": record.loan_id, "amount": record.amount, "at_s": record.at_s,
                "state": record.state, "entered_by": record.entered_by, "decided_by": record.decided_by,
                "decided_at_s": record.decided_at_s, "reason": record.reason}

    def draw(self, drawdown: Drawdown, outstanding_before: Decimal, outstanding_after: Decimal,
             notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        with self.engine.begin() as db:
            _set_outstanding(db, drawdown.loan_id, outstanding_before, outstanding_after)
            db.execute(insert(t.drawdowns).values(id=drawdown.id, loan_id=drawdown.loan_id, amount=drawdown.amount,
                                                  by=drawdown.by, at_s=drawdown.at_s))
            enqueue_notices(db, notices)
            append_entries(db, entries)

    def post_interest(self, posting: InterestPosting, outstanding_before: Decimal,
                      outstanding_after: Decimal, notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        with self.engine.begin() as db:
            try:
                db.execute(insert(t.interest_postings).values(
                    loan_id=posting.loan_id, amount=posting.amount, days=posting.days, from_s=posting.from_s,
                    to_s=posting.to_s))
            except IntegrityError as exc:  # another process posted these days first
                raise Stale(f"interest on {posting.loan_id} already posted") from exc
            _set_outstanding(db, posting.loan_id, outstanding_before, outstanding_after,
                             interest_accrued_to_s=posting.to_s)
            enqueue_notices(db, notices)
            append_entries(db, entries)

    def start_interest(self, loan_id: str, at_s: float) -> None:
        with self.engine.begin() as db:
            done = db.execute(update(L).where(and_(L.c.id == loan_id, L.c.interest_accrued_to_s.is_(None)))
                              .values(interest_accrued_to_s=at_s))
            if done.rowcount:
                _bump_version(db)

    def close(self, loan_id: str, by: str, at_s: float, outstanding_before: Decimal,
              notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        with self.engine.begin() as db:
            _set_outstanding(db, loan_id, outstanding_before, outstanding_before, closed_at_s=at_s, closed_by=by)
            db.execute(update(t.loan_lots).where(and_(t.loan_lots.c.loan_id == loan_id, t.loan_lots.c.active))
                       .values(active=False))
            enqueue_notices(db, notices)
            append_entries(db, entries)


def _request(row) -> CollateralRequest:
    return CollateralRequest(row.id, row.loan_id, row.kind, row.pledge_lot, row.release_lot, row.at_s,
                             row.requested_by, row.state, row.decided_by, row.decided_at_s, row.reason)


def _request_row(request: CollateralRequest) -> dict:
    return {"id": request.id, "loan_id": request.loan_id, "kind": request.kind, "pledge_lot": request.pledge_lot,
            "release_lot": request.release_lot, "at_s": request.at_s, "requested_by": request.requested_by,
            "state": request.state, "decided_by": request.decided_by, "decided_at_s": request.decided_at_s,
            "reason": request.reason}


class SqlCollateral:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def requests(self, loan_id: str, kind: RequestKind) -> list[CollateralRequest]:
        with self.engine.connect() as db:
            rows = db.execute(select(C).where(and_(C.c.loan_id == loan_id, C.c.kind == kind))
                              .order_by(C.c.at_s, C.c.id))
            return [_request(r) for r in rows]

    def request(self, request_id: str) -> CollateralRequest | None:
        with self.engine.connect() as db:
            row = db.execute(select(C).where(C.c.id == request_id)).first()
        return _request(row) if row else None

    def add_request(self, request: CollateralRequest, notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        with self.engine.begin() as db:
            db.execute(insert(C).values(_request_row(request)))
            enqueue_notices(db, notices)
            append_entries(db, entries)

    def reject_request(self, request: CollateralRequest, notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        with self.engine.begin() as db:
            _decide(db, C, C.c.id == request.id, "rejected", request.decided_by, request.decided_at_s,
                    request.reason)
            enqueue_notices(db, notices)
            append_entries(db, entries)

    def pledge(self, request: CollateralRequest, notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        with self.engine.begin() as db:
            if db.scalar(select(func.count()).select_from(C).where(C.c.id == request.id)):
                _decide(db, C, C.c.id == request.id, "approved", request.decided_by, request.decided_at_s, None)
            else:
                db.execute(insert(C).values(_request_row(request)))
            if request.release_lot is not None:
                self._release(db, request.loan_id, request.release_lot)
            position = db.scalar(select(func.count()).select_from(t.loan_lots)
                                 .where(t.loan_lots.c.loan_id == request.loan_id))
            try:
                db.execute(insert(t.loan_lots).values(loan_id=request.loan_id, lot_id=request.pledge_lot,
                                                      position=position, active=True))
            except IntegrityError as exc:  # the whole transaction rolls back
                raise AlreadyPledged(request.pledge_lot) from exc
            _bump_version(db)
            enqueue_notices(db, notices)
            append_entries(db, entries)

    @staticmethod
    def _release(db: Connection, loan_id: str, lot_id: str) -> None:
        done = db.execute(update(t.loan_lots).where(and_(t.loan_lots.c.loan_id == loan_id,
                                                         t.loan_lots.c.lot_id == lot_id, t.loan_lots.c.active))
                          .values(active=False))
        if done.rowcount != 1:
            raise Stale(f"lot {lot_id} no longer backs {loan_id}")
