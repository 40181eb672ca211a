"""Release requests, delivery orders and EPC claims in the relational database (port:
backend.ports.releases.ReleaseStore).

Races are settled by the database, on SQLite and PostgreSQL alike: issuing an order is a
conditional UPDATE of the loan on the release sequence and outstanding amount the decision
read (of two approvals racing, the second updates nothing and raises Stale in a transaction
that rolls back); an EPC claimed twice breaks a partial unique index (EpcsTaken). Decisions
are conditional on the state they leave. Notices and evidence entries share each transaction.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from backend.adapters.db import tables as t
from backend.adapters.db.evidence_repo import append_entries
from backend.adapters.db.registry_repo import _bump_version
from backend.adapters.webhook_store import enqueue_notices
from backend.domain.evidence import Entry
from backend.domain.notices import BankNotice
from backend.ports.releases import OPEN_STATES, DeliveryOrderRecord, EpcsTaken, ReleaseRequest, Stale

RQ, DO, CL = t.release_requests, t.delivery_orders, t.release_claims


def _request(row) -> ReleaseRequest:
    return ReleaseRequest(row.id, row.loan_id, row.lot_id, row.items,
                          frozenset(row.epcs) if row.epcs is not None else None, row.repayment_ref, row.at_s,
                          row.requested_by, row.state, row.decided_by, row.decided_at_s, row.reason,
                          row.delivery_order)


def _order(row) -> DeliveryOrderRecord:
    return DeliveryOrderRecord(row.id, row.request_id, row.loan_id, row.lot_id, row.warehouse_id,
                               frozenset(row.epcs), row.issued_by, row.issued_at_s, row.valid_until_s, row.state,
                               bytes(row.body), row.signature, row.key_id, row.acknowledged_by,
                               row.acknowledged_at_s, row.closed_at_s, frozenset(row.left_epcs or ()))


def _claim(db: Connection, lot_id: str, request_id: str, epcs: frozenset[str]) -> None:
    try:
        with db.begin_nested():              # a savepoint: the caller's transaction stays usable
            db.execute(insert(CL), [{"epc": epc, "lot_id": lot_id, "request_id": request_id, "active": True}
                                    for epc in sorted(epcs)])
    except IntegrityError as exc:
        raise EpcsTaken(f"an EPC of lot {lot_id} is on another pending request or open delivery order") from exc


def _unclaim(db: Connection, request_id: str) -> None:
    db.execute(update(CL).where(and_(CL.c.request_id == request_id, CL.c.active)).values(active=False))


def _log(db: Connection, notices: Sequence[BankNotice], entries: Sequence[Entry]) -> None:
    enqueue_notices(db, notices)
    append_entries(db, entries)


class SqlReleases:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def requests(self, loan_id: str) -> list[ReleaseRequest]:
        with self.engine.connect() as db:
            return [_request(r) for r in db.execute(select(RQ).where(RQ.c.loan_id == loan_id)
                                                    .order_by(RQ.c.at_s, RQ.c.id))]

    def request(self, request_id: str) -> ReleaseRequest | None:
        with self.engine.connect() as db:
            row = db.execute(select(RQ).where(RQ.c.id == request_id)).first()
        return _request(row) if row else None

    def add_request(self, request: ReleaseRequest, notices: Sequence[BankNotice], entries: Sequence[Entry]) -> None:
        with self.engine.begin() as db:
            db.execute(insert(RQ).values(
                id=request.id, loan_id=request.loan_id, lot_id=request.lot_id, items=request.items,
                epcs=sorted(request.epcs) if request.epcs is not None else None, repayment_ref=request.repayment,
                at_s=request.at_s, requested_by=request.requested_by, state=request.state))
            if request.epcs:
                _claim(db, request.lot_id, request.id, request.epcs)
            _log(db, notices, entries)

    def refuse(self, request: ReleaseRequest, notices: Sequence[BankNotice], entries: Sequence[Entry]) -> None:
        with self.engine.begin() as db:
            self._decide(db, request)
            _unclaim(db, request.id)
            _log(db, notices, entries)

    @staticmethod
    def _decide(db: Connection, request: ReleaseRequest) -> None:
        done = db.execute(update(RQ).where(and_(RQ.c.id == request.id, RQ.c.state == "pending")).values(
            state=request.state, decided_by=request.decided_by, decided_at_s=request.decided_at_s,
            reason=request.reason, delivery_order=request.delivery_order))
        if done.rowcount != 1:
            raise Stale(f"release request {request.id} was decided meanwhile")

    def release_seq(self, loan_id: str) -> int:
        with self.engine.connect() as db:
            return db.scalar(select(t.loans.c.release_seq).where(t.loans.c.id == loan_id)) or 0

    def claimed(self, lot_id: str) -> frozenset[str]:
        with self.engine.connect() as db:
            return frozenset(db.scalars(select(CL.c.epc).where(and_(CL.c.lot_id == lot_id, CL.c.active))))

    def issue(self, request: ReleaseRequest, order: DeliveryOrderRecord, seq_before: int,
              outstanding_before: Decimal, notices: Sequence[BankNotice], entries: Sequence[Entry]) -> None:
        with self.engine.begin() as db:
            moved = db.execute(update(t.loans).where(and_(
                t.loans.c.id == order.loan_id, t.loans.c.release_seq == seq_before,
                t.loans.c.outstanding == outstanding_before, t.loans.c.closed_at_s.is_(None)))
                .values(release_seq=seq_before + 1))
            if moved.rowcount != 1:
                raise Stale(f"loan {order.loan_id} changed meanwhile")
            self._decide(db, request)
            if not request.epcs:             # a count: its EPCs are claimed now (a named list was at request)
                _claim(db, order.lot_id, request.id, order.epcs)
            db.execute(insert(DO).values(
                id=order.id, request_id=order.request_id, loan_id=order.loan_id, lot_id=order.lot_id,
                warehouse_id=order.warehouse_id, epcs=sorted(order.epcs), issued_by=order.issued_by,
                issued_at_s=order.issued_at_s, valid_until_s=order.valid_until_s, state=order.state,
                body=order.body, signature=order.signature, key_id=order.key_id))
            _bump_version(db)                # the monitor's registry holds the open orders
            _log(db, notices, entries)

    def orders(self, lot_ids: Sequence[str] | None = None) -> list[DeliveryOrderRecord]:
        query = select(DO).order_by(DO.c.issued_at_s.desc(), DO.c.id)
        if lot_ids is not None:
            query = query.where(DO.c.lot_id.in_(list(lot_ids)))
        with self.engine.connect() as db:
            return [_order(r) for r in db.execute(query)]

    def order(self, order_id: str) -> DeliveryOrderRecord | None:
        with self.engine.connect() as db:
            row = db.execute(select(DO).where(DO.c.id == order_id)).first()
        return _order(row) if row else None

    def acknowledge(self, order: DeliveryOrderRecord, by: str, at_s: float, notices: Sequence[BankNotice],
                    entries: Sequence[Entry]) -> None:
        with self.engine.begin() as db:
            done = db.execute(update(DO).where(and_(DO.c.id == order.id, DO.c.state == "issued"))
                              .values(state="acknowledged", acknowledged_by=by, acknowledged_at_s=at_s))
            if done.rowcount != 1:
                raise Stale(f"delivery order {order.id} is not awaiting acknowledgement")
            _log(db, notices, entries)

    def close(self, order_id: str, outcome: str, left: frozenset[str], at_s: float,
              notices: Sequence[BankNotice], entries: Sequence[Entry]) -> bool:
        with self.engine.begin() as db:
            row = db.execute(select(DO).where(and_(DO.c.id == order_id, DO.c.state.in_(OPEN_STATES)))
                             .with_for_update()).first()
            if row is None:
                return False
            db.execute(update(DO).where(DO.c.id == order_id).values(state=outcome, closed_at_s=at_s,
                                                                    left_epcs=sorted(left)))
            _unclaim(db, row.request_id)
            if left:
                db.execute(insert(t.releases).values(
                    id=order_id, loan_id=row.loan_id, lot_id=row.lot_id, approved_by=row.issued_by,
                    repayment=Decimal(0), at_s=at_s, epcs=sorted(left)))
            _bump_version(db)
            _log(db, notices, entries)
        return True

