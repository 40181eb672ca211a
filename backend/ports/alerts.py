"""Ports of alerts: the alerts the monitor raised (stored, then worked by people) and the
inbox where people work them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Sequence

from backend.domain.silences import Silence
from backend.ports.monitor import LeaseFence


@dataclass(frozen=True)
class AlertRecord:
    id: str
    type: str
    subject: str
    severity: str
    state: str
    opened_at_s: float
    acknowledged_at_s: float | None
    acknowledged_by: str | None
    ack_note: str | None
    resolved_at_s: float | None
    resolved_by: str | None
    loan: str | None
    lot: str | None
    lender: str | None
    gateway: str | None
    details: Mapping[str, Any]
    matches: Sequence[Mapping[str, Any]] = ()   # the cases like its episode when it opened (JSON-ready)


@dataclass(frozen=True)
class AlertComment:
    alert_id: str
    author: str
    role: str
    text: str
    at_s: float


class AlertStore(Protocol):
    """The alerts the monitor raised, as it opens and resolves them and as people act on them."""

    def apply(self, events: Sequence[object], subjects: Mapping[str, str], fence: LeaseFence | None = None) -> None:
        """Store the core's AlertOpened and AlertResolved events (with their webhook
        notifications, atomically); `subjects` maps alert id -> condition subject. With a
        `fence`: only while that lease is still held (else LeaseLost, nothing stored)."""

    def active(self) -> list[AlertRecord]:
        """Alerts not resolved (open or acknowledged)."""

    def resolved_by_people_since(self, since_s: float) -> list[AlertRecord]: ...

    def find(self, *, state: str | None = None, type_: str | None = None,
             lender: str | None = None, limit: int = 100, offset: int = 0) -> list[AlertRecord]:
        """Newest first."""

    def get(self, alert_id: str) -> AlertRecord | None: ...

    def overlapping(self, lender: str, from_s: float, to_s: float) -> list[AlertRecord]:
        """The lender's alerts alive at some time in [from_s, to_s): opened before `to_s`, not
        resolved before `from_s` (the daily report's day)."""

    def acknowledge(self, alert_id: str, by: str, note: str | None, at_s: float) -> bool:
        """Open -> acknowledged; False when the alert is not open."""

    def resolve(self, alert_id: str, by: str, at_s: float) -> bool:
        """False when the alert is already resolved."""


class AlertInboxStore(Protocol):
    """How people work alerts: assignments and comments (the alerts themselves are the monitor's)."""

    def assign(self, alert_id: str, assignee: str | None, by: str, at_s: float) -> None: ...

    def assignees(self, alert_ids: Sequence[str]) -> dict[str, str]: ...

    def add_comment(self, comment: AlertComment) -> None: ...

    def comments(self, alert_id: str) -> list[AlertComment]: ...


class SilenceStore(Protocol):
    """Silences people set (backend/domain/silences.py)."""

    def add(self, silence: Silence) -> None: ...

    def active(self, now_s: float) -> list[Silence]:
        """Those running at `now_s`, oldest first."""

    def end(self, silence_id: str, now_s: float) -> bool:
        """End a running silence now; False when there is none by that id."""
