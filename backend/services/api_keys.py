"""API keys: made once, shown once, stored only as a salted hash.

Keys made through the API look like `pw_<id>_<secret>`: the id finds the record, the
salted hash of the whole key proves it. Keys written in the config file (bootstrap admin,
demo keys) are any string; their hashes are checked one by one.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Callable, Sequence

from backend.ports.access import ApiKeyRecord, ApiKeyStore
from backend.settings import ApiKeyEntry

ROLES = ("admin", "supervisor", "lender", "borrower", "warehouse", "gateway")
_STORED_KEY = re.compile(r"^pw_([0-9a-f]{12})_[A-Za-z0-9_-]{20,}$")


@dataclass(frozen=True)
class Principal:
    name: str
    role: str  # admin | supervisor | lender | borrower | warehouse | gateway
    lender: str | None = None                  # a lender key's lender
    borrower: str | None = None                # a borrower key's borrower
    warehouses: tuple[str, ...] = ()           # a warehouse key's warehouses


def new_api_key() -> str:
    return "pw_" + secrets.token_urlsafe(32)


def hash_api_key(key: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.sha256(salt + key.encode()).hexdigest()
    return f"sha256${salt.hex()}${digest}"


def _matches(key: str, key_hash: str) -> bool:
    _, salt_hex, _ = key_hash.split("$")
    return hmac.compare_digest(hash_api_key(key, bytes.fromhex(salt_hex)), key_hash)


class ApiKeyring:
    def __init__(self, configured: Sequence[ApiKeyEntry], stored: ApiKeyStore,
                 clock: Callable[[], float]) -> None:
        self._configured, self._stored, self._clock = list(configured), stored, clock

    def authenticate(self, key: str) -> Principal | None:
        match = _STORED_KEY.match(key)
        if match:
            record = self._stored.get(match.group(1))
            if record is not None:
                if record.revoked_at_s is None and _matches(key, record.key_hash):
                    return Principal(record.name, record.role, record.lender_id, record.borrower_id,
                                     tuple(record.warehouse_ids or ()))
                return None
        for entry in self._configured:
            if _matches(key, entry.key_hash):
                return Principal(entry.name, entry.role, entry.lender, entry.borrower, tuple(entry.warehouses))
        return None

    def create(self, name: str, role: str, lender: str | None, created_by: str, borrower: str | None = None,
               warehouses: Sequence[str] = ()) -> tuple[ApiKeyRecord, str]:
        """A new key; the clear key is returned this once and never stored."""
        key_id = secrets.token_hex(6)
        key = f"pw_{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKeyRecord(key_id, name, role, lender, hash_api_key(key), self._clock(), created_by,
                              borrower_id=borrower, warehouse_ids=tuple(warehouses) or None)
        self._stored.add(record)
        return record, key

    def listed(self) -> list[ApiKeyRecord]:
        return self._stored.all()

    def revoke(self, key_id: str) -> bool:
        return self._stored.revoke(key_id, self._clock())

    def has_admin(self) -> bool:
        return any(e.role == "admin" for e in self._configured) or any(
            r.role == "admin" and r.revoked_at_s is None for r in self._stored.all())
