"""Leases on the monitor partitions, in the database every host shares (port:
backend.ports.monitor.PartitionLeases).

A lease row per partition, taken with a conditional UPDATE (free, expired, or already
ours): the database decides between two monitors taking the same partition, on PostgreSQL
and SQLite alike. Not advisory locks: they belong to one session, so a pooled connection
would have to stay checked out, a dropped session loses the lock while the process goes on
writing over its other connections, and SQLite has none. A row also shows who holds what,
and carries a token that fences the holder's writes and the cursors the next holder resumes
from. Expiry is judged by the hosts' clocks: skew only delays a takeover or makes one early,
and an early one is safe because the old holder's next alert write is refused.
"""
from __future__ import annotations

from sqlalchemy import Engine, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from backend.adapters.db.cluster_tables import monitor_leases, monitor_members
from backend.ports.monitor import HeldLease, LeaseFence, LeaseLost

L = monitor_leases.c


def check_fence(db: Connection, fence: LeaseFence) -> None:
    """In the caller's transaction: a no-op write to the lease row, which holds its lock
    (a takeover waits for the transaction) and tells whether the lease is still ours."""
    held = db.execute(update(monitor_leases).where(
        L.partition == fence.partition, L.owner == fence.owner, L.token == fence.token).values(token=L.token))
    if held.rowcount != 1:
        raise LeaseLost(f"partition {fence.partition} is no longer held by {fence.owner}")


class SqlPartitionLeases:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def heartbeat(self, owner: str, now_s: float, lease_s: float) -> int:
        m = monitor_members.c
        with self.engine.begin() as db:
            db.execute(delete(monitor_members).where(or_(m.owner == owner, m.expires_at_s < now_s)))
            db.execute(insert(monitor_members).values(owner=owner, expires_at_s=now_s + lease_s))
            return len(db.execute(select(m.owner)).all())

    def renew(self, owner: str, now_s: float, lease_s: float) -> list[LeaseFence]:
        with self.engine.begin() as db:
            db.execute(update(monitor_leases).where(L.owner == owner).values(expires_at_s=now_s + lease_s))
            rows = db.execute(select(L.partition, L.token).where(L.owner == owner).order_by(L.partition))
            return [LeaseFence(partition, owner, token) for partition, token in rows]

    def free(self, count: int, now_s: float) -> list[int]:
        with self.engine.begin() as db:
            known = {p for (p,) in db.execute(select(L.partition))}
            missing = [p for p in range(count) if p not in known]
            if missing:  # first start: a row per partition (a concurrent first start adds none twice)
                db.execute(self._insert(monitor_leases).on_conflict_do_nothing(), [
                    {"partition": p, "owner": None, "token": 0, "expires_at_s": 0.0, "taken_at_s": 0.0,
                     "cursors": {}} for p in missing])
            rows = db.execute(select(L.partition).where(L.partition < count, or_(
                L.owner.is_(None), L.expires_at_s < now_s)).order_by(L.partition))
            return [p for (p,) in rows]

    def take(self, partition: int, owner: str, now_s: float, lease_s: float) -> HeldLease | None:
        with self.engine.begin() as db:
            taken = db.execute(update(monitor_leases).where(
                L.partition == partition, or_(L.owner.is_(None), L.expires_at_s < now_s)).values(
                owner=owner, token=L.token + 1, expires_at_s=now_s + lease_s, taken_at_s=now_s))
            if taken.rowcount != 1:
                return None
            token, cursors = db.execute(select(L.token, L.cursors).where(L.partition == partition)).one()
        return HeldLease(LeaseFence(partition, owner, token), dict(cursors))

    def checkpoint(self, fence: LeaseFence, cursors: dict[str, int], expires_at_s: float) -> bool:
        with self.engine.begin() as db:
            done = db.execute(update(monitor_leases).where(
                L.partition == fence.partition, L.owner == fence.owner, L.token == fence.token).values(
                cursors=cursors, expires_at_s=expires_at_s))
        return done.rowcount == 1

    def release(self, fence: LeaseFence) -> None:
        with self.engine.begin() as db:
            db.execute(update(monitor_leases).where(
                L.partition == fence.partition, L.owner == fence.owner, L.token == fence.token).values(
                owner=None, expires_at_s=0.0))

    def leave(self, owner: str) -> None:
        with self.engine.begin() as db:
            db.execute(delete(monitor_members).where(monitor_members.c.owner == owner))
