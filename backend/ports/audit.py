"""Port of the audit log: every mutating API call, answered or refused."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class AuditEntry:
    at_s: float
    actor: str | None
    role: str | None
    method: str
    path: str
    status: int
    client: str | None


class AuditLog(Protocol):
    def append(self, entry: AuditEntry) -> None: ...

    def recent(self, limit: int, offset: int = 0) -> list[AuditEntry]:
        """Newest first."""
