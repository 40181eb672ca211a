"""Standard risk cases and their response playbooks; a playbook's steps as tasks on an alert.

A standard case (seeds/risk_cases/*.yaml) is a known way collateral goes wrong: its pattern
(the features an episode of it shows, backend/domain/case_features.py), what to look for,
where it is documented, and an ordered playbook. When a new alert's episode matches a
standard case at or above the threshold, the case's current playbook becomes tasks on the
alert: each step with its owner role and a deadline counted from the alert's opening. A task
is open, done (by whom, when) or overdue; an overdue task is escalated once.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Mapping, Sequence

from backend.domain.case_features import WEIGHTS

OWNER_ROLES = ("supervisor", "lender", "inspector", "borrower")
MAX_STEPS = 20
MAX_DEADLINE_S = 30 * 86_400
TaskState = Literal["open", "done", "overdue"]


class PlaybookError(ValueError):
    """A playbook or pattern that cannot be used (the message says which step or feature)."""


@dataclass(frozen=True, slots=True)
class PlaybookStep:
    title: str
    owner_role: str                            # one of OWNER_ROLES
    deadline_s: int                            # after the alert opened
    description: str = ""


@dataclass(frozen=True, slots=True)
class StandardCase:
    id: str
    title: str
    summary: str
    pattern: Mapping[str, float]               # feature name -> value in (0, 1]
    indicators: tuple[str, ...]
    sources: tuple[str, ...]
    typical_outcome: str | None
    playbook: tuple[PlaybookStep, ...]


def check_pattern(pattern: Mapping[str, float]) -> None:
    if not pattern:
        raise PlaybookError("a pattern names at least one feature")
    for name, value in pattern.items():
        if name not in WEIGHTS:
            raise PlaybookError(f"unknown feature {name!r}; features: {', '.join(WEIGHTS)}")
        if not 0 < value <= 1:
            raise PlaybookError(f"feature {name!r}: {value} is not in (0, 1]")


def check_steps(steps: Sequence[PlaybookStep]) -> None:
    if not 1 <= len(steps) <= MAX_STEPS:
        raise PlaybookError(f"a playbook has 1 to {MAX_STEPS} steps, not {len(steps)}")
    for number, step in enumerate(steps, start=1):
        if not step.title.strip():
            raise PlaybookError(f"step {number}: a title is required")
        if step.owner_role not in OWNER_ROLES:
            raise PlaybookError(f"step {number}: owner_role {step.owner_role!r} is not one of {', '.join(OWNER_ROLES)}")
        if not 0 <= step.deadline_s <= MAX_DEADLINE_S:
            raise PlaybookError(f"step {number}: deadline {step.deadline_s} s is not within 0 to 30 days")


@dataclass(frozen=True, slots=True)
class Task:
    alert_id: str
    step: int                                  # 1-based, in playbook order
    case_id: str
    version: int                               # of the playbook it came from
    title: str
    owner_role: str
    description: str
    opened_at_s: float
    deadline_s: float                          # a moment
    lender: str | None
    loan: str | None
    lot: str | None
    done_at_s: float | None = None
    done_by: str | None = None
    escalated_at_s: float | None = None

    def state(self, now_s: float) -> TaskState:
        if self.done_at_s is not None:
            return "done"
        return "overdue" if now_s > self.deadline_s else "open"


def tasks_for(alert_id: str, opened_at_s: float, lender: str | None, loan: str | None, lot: str | None,
              case_id: str, version: int, steps: Sequence[PlaybookStep]) -> list[Task]:
    """The playbook's steps as tasks on an alert, deadlines counted from its opening."""
    return [Task(alert_id, number, case_id, version, step.title, step.owner_role, step.description,
                 opened_at_s, opened_at_s + step.deadline_s, lender, loan, lot)
            for number, step in enumerate(steps, start=1)]


def to_escalate(tasks: Sequence[Task], now_s: float) -> list[Task]:
    """Overdue tasks not yet escalated, each marked escalated now (escalation happens once)."""
    return [replace(task, escalated_at_s=now_s) for task in tasks
            if task.state(now_s) == "overdue" and task.escalated_at_s is None]


def may_complete(task: Task, role: str) -> bool:
    """Staff complete any step; a lender only the steps its role owns."""
    return role in ("admin", "supervisor") or (role == "lender" and task.owner_role == "lender")
