"""Keys gateways rotated to, in the relational database every backend process shares."""
from __future__ import annotations

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from backend.adapters.db import tables as t
from backend.ports.commands import RotatedKey


class SqlRotatedKeys:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, gateway: str, key_id: str, public_key_pem: str, at_s: float) -> bool:
        """Record a key (once: the same rotation reported twice changes nothing); True when new."""
        try:
            with self.engine.begin() as db:
                db.execute(insert(t.rotated_keys).values(
                    gateway_id=gateway, key_id=key_id, public_key_pem=public_key_pem,
                    registered_at_s=at_s))
        except IntegrityError:
            return False
        return True

    def all(self) -> list[RotatedKey]:
        """Oldest first."""
        with self.engine.connect() as db:
            rows = db.execute(select(t.rotated_keys).order_by(t.rotated_keys.c.registered_at_s))
            return [RotatedKey(r.gateway_id, r.key_id, r.public_key_pem) for r in rows]
