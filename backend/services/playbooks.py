"""Response playbooks: the standard cases' steps, edited by staff (every version kept), and
the tasks they opened on alerts, done by whoever owns them; an overdue task is escalated once,
to the lender (a `playbook` notice through the outbox) and to live dashboards."""
from __future__ import annotations

from typing import Callable, Sequence

from backend.domain.notices import playbook_notice
from backend.domain.playbooks import PlaybookStep, StandardCase, Task, check_steps, may_complete, to_escalate
from backend.ports.alerts import AlertRecord
from backend.ports.cases import PlaybookStore, PlaybookVersion
from backend.ports.feed import BusEvent
from backend.ports.webhooks import NoticeOutbox
from backend.services import access
from backend.services.api_keys import Principal


class UnknownCase(LookupError):
    """No standard case by that id."""


class TaskNotFound(LookupError):
    """The alert has no such task."""


class TaskDone(ValueError):
    """The task is done already."""


class NotYours(PermissionError):
    """The caller sees the task but may not do this to it."""


def task_event(kind: str, task: Task, now_s: float) -> BusEvent:
    return BusEvent(f"playbook.{kind}", task.lender, {
        "alert": task.alert_id, "case": task.case_id, "step": task.step, "title": task.title,
        "owner_role": task.owner_role, "deadline_s": task.deadline_s, "state": task.state(now_s),
        "done_by": task.done_by, "loan": task.loan, "lot": task.lot, "lender": task.lender})


class PlaybookService:
    def __init__(self, *, playbooks: PlaybookStore, standard: Sequence[StandardCase], clock: Callable[[], float],
                 publish: Callable[[Sequence[BusEvent]], None], notices: NoticeOutbox | None = None) -> None:
        self.playbooks, self.clock, self.publish, self.notices = playbooks, clock, publish, notices
        self.standard = {case.id: case for case in standard}

    def seed(self) -> None:
        """Version 1 of each standard case's playbook from its file, where there is none yet."""
        self.playbooks.seed(list(self.standard.values()), self.clock())

    def case(self, case_id: str) -> StandardCase:
        if case_id not in self.standard:
            raise UnknownCase(f"no standard case {case_id!r}")
        return self.standard[case_id]

    def versions(self, case_id: str) -> list[PlaybookVersion]:
        self.case(case_id)
        return self.playbooks.versions(case_id)

    def current(self) -> dict[str, PlaybookVersion]:
        return self.playbooks.current()

    def edit(self, caller: Principal, case_id: str, steps: Sequence[PlaybookStep]) -> PlaybookVersion:
        """A new version of the case's playbook (staff); tasks already opened keep theirs."""
        self.case(case_id)
        if not access.is_staff(caller):
            raise NotYours("playbooks are edited by the collateral manager's staff")
        check_steps(steps)
        return self.playbooks.add_version(case_id, steps, caller.name, self.clock())

    def tasks(self, alert_ids: Sequence[str]) -> list[Task]:
        return self.playbooks.tasks(alert_ids)

    def complete(self, caller: Principal, alert: AlertRecord, step: int) -> Task:
        """`alert` is one the caller may see (the inbox checked)."""
        task = next((t for t in self.playbooks.tasks([alert.id]) if t.step == step), None)
        if task is None:
            raise TaskNotFound(f"alert {alert.id} has no playbook step {step}")
        if not may_complete(task, caller.role):
            raise NotYours(f"step {step} is the {task.owner_role}'s; staff record it")
        if not self.playbooks.complete(alert.id, step, caller.name, self.clock()):
            raise TaskDone(f"step {step} is done already")
        done = next(t for t in self.playbooks.tasks([alert.id]) if t.step == step)
        self.publish([task_event("done", done, self.clock())])
        return done

    def escalate_overdue(self) -> int:
        """Tell the lender (and live dashboards) of each task gone overdue, once; how many."""
        now_s = self.clock()
        escalated = [task for task in to_escalate(self.playbooks.undone(), now_s)
                     if self.playbooks.mark_escalated(task, now_s)]
        notices = [n for task in escalated if (n := playbook_notice(task)) is not None]
        if notices and self.notices is not None:
            self.notices.notify(notices)
        if escalated:
            self.publish([task_event("overdue", task, now_s) for task in escalated])
        return len(escalated)
