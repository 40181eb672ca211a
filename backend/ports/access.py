"""Ports of access: API keys made through the API (stored as salted hashes) and the audit
log of every change, with their records."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ApiKeyRecord:
    id: str
    name: str
    role: str
    lender_id: str | None
    key_hash: str
    created_at_s: float
    created_by: str
    revoked_at_s: float | None = None
    borrower_id: str | None = None             # a borrower key's borrower
    warehouse_ids: tuple[str, ...] | None = None   # a warehouse key's warehouses


@dataclass(frozen=True)
class AuditEntry:
    at_s: float
    actor: str | None
    role: str | None
    method: str
    path: str
    status: int
    client: str | None


class ApiKeyStore(Protocol):
    def add(self, record: ApiKeyRecord) -> None: ...

    def get(self, key_id: str) -> ApiKeyRecord | None: ...

    def all(self) -> list[ApiKeyRecord]:
        """Oldest first, revoked ones included."""

    def revoke(self, key_id: str, at_s: float) -> bool:
        """False when there is no such key, or it was revoked already."""


class AuditLog(Protocol):
    def append(self, entry: AuditEntry) -> None: ...

    def recent(self, limit: int, offset: int = 0) -> list[AuditEntry]:
        """Newest first."""
