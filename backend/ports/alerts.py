"""Ports of the alert inbox: how people act on the alerts the monitor raised."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence


@dataclass(frozen=True)
class AlertComment:
    alert_id: str
    author: str
    role: str
    text: str
    at_s: float


class AlertStore(Protocol):
    """The alerts the monitor raised, as people act on them (records: id, type, state, lender, ...)."""

    def get(self, alert_id: str) -> Any: ...

    def acknowledge(self, alert_id: str, by: str, note: str | None, at_s: float) -> bool: ...

    def resolve(self, alert_id: str, by: str, at_s: float) -> bool: ...


class AlertInboxStore(Protocol):
    """How people work alerts: assignments and comments (the alerts themselves are the monitor's)."""

    def assign(self, alert_id: str, assignee: str | None, by: str, at_s: float) -> None: ...

    def assignees(self, alert_ids: Sequence[str]) -> dict[str, str]: ...

    def add_comment(self, comment: AlertComment) -> None: ...

    def comments(self, alert_id: str) -> list[AlertComment]: ...
