"""Port of risk scores: the history they are computed from (backend.domain.risk_scores)."""
from __future__ import annotations

from typing import Protocol

from backend.domain.inspections import Inspection
from backend.domain.risk_scores import AlertEpisode, CaseOutcome


class RiskHistory(Protocol):
    """Stored alerts, inspections and cases, read for scoring."""

    def alert_episodes(self, *, since_s: float, lender: str | None) -> list[AlertEpisode]:
        """Alerts opened since `since_s`, still open, or resolved since then (a blind episode
        that began earlier); with `lender`, only the alerts on that lender's loans and lots."""

    def inspections(self, *, since_s: float) -> list[Inspection]:
        """Inspections recorded since `since_s`, in the order recorded."""

    def cases(self, *, since_s: float, lender: str | None) -> list[CaseOutcome]:
        """Cases closed since `since_s`; with `lender`, only that lender's cases."""
