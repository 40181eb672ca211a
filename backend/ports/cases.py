"""Ports of the risk case base: closed cases, the alerts and actions an episode is made of,
and the playbooks (versioned) with the tasks they opened on alerts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

from backend.domain.case_records import Case
from backend.domain.cases import EpisodeAction, EpisodeAlert
from backend.domain.playbooks import PlaybookStep, StandardCase, Task


class CaseStore(Protocol):
    """Closed cases, one per closing alert."""

    def add(self, case: Case) -> bool:
        """False when the closing alert has a case already (nothing stored)."""

    def get(self, case_id: str) -> Case | None: ...

    def find(self, *, lender: str | None = None, outcome: str | None = None, limit: int = 100,
             offset: int = 0) -> list[Case]:
        """Newest closed first; `lender`: only the cases of that lender."""

    def for_matching(self, lender: str | None, limit: int) -> list[Case]:
        """The newest `limit` cases to compare a new alert with: with `lender`, that lender's only."""

    def prior_count(self, lot: str | None, borrower: str | None, before_s: float) -> int:
        """Cases closed before `before_s` on the lot or of the borrower."""


class EpisodeSource(Protocol):
    """What an episode is made of, read from the stored alerts and the money side."""

    def alerts_about(self, lots: Iterable[str], loans: Iterable[str], since_s: float) -> list[EpisodeAlert]:
        """Alerts on these lots or loans, and every alert about neither (gateway and price
        alerts), that were still open at `since_s` or opened after it."""

    def actions_about(self, lots: Iterable[str], loans: Iterable[str], from_s: float,
                      to_s: float) -> list[EpisodeAction]:
        """Releases, repayments, refused pledges and inspections in [from_s, to_s], oldest first."""


@dataclass(frozen=True)
class PlaybookVersion:
    case_id: str
    version: int
    steps: tuple[PlaybookStep, ...]
    created_by: str
    created_at_s: float


class PlaybookStore(Protocol):
    """Playbooks, every version kept, and the tasks they opened on alerts."""

    def seed(self, cases: Sequence[StandardCase], at_s: float) -> None:
        """Version 1 from the case files, for each case that has no version yet."""

    def current(self) -> dict[str, PlaybookVersion]:
        """Each case's newest version."""

    def versions(self, case_id: str) -> list[PlaybookVersion]:
        """Oldest first."""

    def add_version(self, case_id: str, steps: Sequence[PlaybookStep], by: str, at_s: float) -> PlaybookVersion: ...

    def open_tasks(self, tasks: Sequence[Task]) -> int:
        """Store tasks not stored yet (by alert and step); how many were new."""

    def tasks(self, alert_ids: Sequence[str]) -> list[Task]:
        """By alert, then step."""

    def cases_with_tasks(self, alert_ids: Sequence[str]) -> set[str]:
        """The standard cases whose playbooks already opened tasks on any of these alerts."""

    def undone(self) -> list[Task]:
        """Tasks not done, oldest deadline first."""

    def complete(self, alert_id: str, step: int, by: str, at_s: float) -> bool:
        """False when the task is done already."""

    def mark_escalated(self, task: Task, at_s: float) -> bool:
        """True for the one caller that marked it (several processes may try)."""
