"""API keys and the audit log in the relational database."""
from __future__ import annotations

from sqlalchemy import Engine, and_, insert, select, update

from backend.adapters.db.access_tables import api_keys, audit_log
from backend.ports.access import ApiKeyRecord, AuditEntry


def _listed(warehouses: tuple[str, ...] | None) -> list[str] | None:
    return list(warehouses) if warehouses is not None else None


def _record(row) -> ApiKeyRecord:
    values = dict(row._mapping)
    if values["warehouse_ids"] is not None:
        values["warehouse_ids"] = tuple(values["warehouse_ids"])
    return ApiKeyRecord(**values)


class SqlApiKeys:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, record: ApiKeyRecord) -> None:
        with self.engine.begin() as db:
            db.execute(insert(api_keys).values(**{**record.__dict__, "warehouse_ids": _listed(record.warehouse_ids)}))

    def get(self, key_id: str) -> ApiKeyRecord | None:
        with self.engine.connect() as db:
            row = db.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return _record(row) if row else None

    def all(self) -> list[ApiKeyRecord]:
        with self.engine.connect() as db:
            return [_record(r) for r in db.execute(select(api_keys).order_by(api_keys.c.created_at_s))]

    def revoke(self, key_id: str, at_s: float) -> bool:
        with self.engine.begin() as db:
            done = db.execute(update(api_keys).where(and_(api_keys.c.id == key_id, api_keys.c.revoked_at_s.is_(None)))
                              .values(revoked_at_s=at_s))
        return done.rowcount == 1


class SqlAuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, entry: AuditEntry) -> None:
        with self.engine.begin() as db:
            db.execute(insert(audit_log).values(**entry.__dict__))

    def recent(self, limit: int, offset: int = 0) -> list[AuditEntry]:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
        with self.engine.connect() as db:
            return [AuditEntry(r.at_s, r.actor, r.role, r.method, r.path, r.status, r.client)
                    for r in db.execute(query)]
