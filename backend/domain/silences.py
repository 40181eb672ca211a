"""Silences: a supervisor quiets the alerts of a warehouse, a gateway or an alert type for a
while (maintenance, a known outage), with a reason and an end.

A silenced alert is still raised, stored and sent to the bank, marked as silenced: silencing
is the collateral manager's way to work the inbox, never a way to hide a loss from a lender.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

Scope = Literal["warehouse", "gateway", "type"]
MAX_SILENCE_S = 30 * 86_400                    # a silence longer than a month is a blind spot


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    scope: Scope
    value: str                                 # the warehouse, gateway or alert type
    gateway: str | None                        # a warehouse's gateway (its alerts name it)
    reason: str
    created_by: str
    created_at_s: float
    until_s: float

    def covers(self, alert_type: str, gateway: str | None, now_s: float) -> bool:
        if not self.created_at_s <= now_s < self.until_s:
            return False
        if self.scope == "type":
            return alert_type == self.value
        return gateway is not None and gateway == self.gateway


def silencing(silences: Iterable[Silence], alert_type: str, gateway: str | None, now_s: float) -> Silence | None:
    """The silence that covers an alert of this type on this gateway now, if any."""
    return next((s for s in silences if s.covers(alert_type, gateway, now_s)), None)
