"""People working alerts: acknowledge (one or many), resolve, assign, comment.

Every change is logged and published to live dashboards. A lender acts only on the alerts
addressed to it, may acknowledge and comment, and may not resolve a loss: whether goods are
gone is for the collateral manager's staff to close, after they looked.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from backend.domain.case_records import Case
from backend.domain.cases import Outcome
from backend.domain.notices import alert_activity_notice
from backend.ports.alerts import AlertComment, AlertInboxStore, AlertRecord, AlertStore
from backend.ports.feed import BusEvent
from backend.ports.webhooks import NoticeOutbox
from backend.services import access
from backend.services.api_keys import Principal
from backend.services.cases import CaseBase, CaseExists
from backend.services.events import alert_event, log_alert

# Alerts that say goods may be gone: only staff may close them.
LOSS_TYPES = frozenset({"stock_shortfall", "unauthorized_removal", "weight_count_mismatch", "tag_conflict",
                        "collateral_unverified"})


class AlertNotFound(LookupError):
    """No such alert, or not one the caller may see."""


class AlertStateConflict(ValueError):
    """The alert is not in a state that allows this (e.g. acknowledging a resolved one)."""


class NotAllowed(PermissionError):
    """The caller sees the alert but may not do this to it."""


class AlertInbox:
    def __init__(self, *, alerts: AlertStore, inbox: AlertInboxStore,
                 publish: Callable[[Sequence[BusEvent]], None], clock: Callable[[], float],
                 notices: NoticeOutbox | None = None, cases: CaseBase | None = None) -> None:
        self.alerts, self.inbox, self.publish, self.clock = alerts, inbox, publish, clock
        self.notices = notices                 # the bank hears what people did to its alerts
        self.cases = cases                     # an outcome on closing makes the episode a case

    def find(self, caller: Principal, *, state: str | None = None, type_: str | None = None,
             limit: int = 100, offset: int = 0) -> list[AlertRecord]:
        """The alerts the caller may see, newest first."""
        return self.alerts.find(state=state, type_=type_, lender=access.alert_lender_filter(caller),
                                limit=limit, offset=offset)

    def visible(self, caller: Principal, alert_id: str) -> AlertRecord:
        record = self.alerts.get(alert_id)
        lender = access.alert_lender_filter(caller)
        if record is None or (lender is not None and record.lender != lender):
            raise AlertNotFound(f"no alert {alert_id!r}")
        return record

    def acknowledge(self, caller: Principal, alert_id: str, note: str | None) -> AlertRecord:
        self.visible(caller, alert_id)
        if not self.alerts.acknowledge(alert_id, caller.name, note, self.clock()):
            raise AlertStateConflict("only an open alert can be acknowledged")
        return self._changed("acknowledged", alert_id, caller, note=note)

    def acknowledge_many(self, caller: Principal, alert_ids: Sequence[str],
                         note: str | None) -> tuple[list[AlertRecord], dict[str, str]]:
        """Acknowledges each it can; the others with the reason, as one call does."""
        done, skipped = [], {}
        for alert_id in dict.fromkeys(alert_ids):  # each once, in the order given
            try:
                done.append(self.acknowledge(caller, alert_id, note))
            except (AlertNotFound, AlertStateConflict) as exc:
                skipped[alert_id] = str(exc)
        return done, skipped

    def resolve(self, caller: Principal, alert_id: str, outcome: Outcome | None = None) -> AlertRecord:
        """With an `outcome` (staff only), the alert's episode becomes a case."""
        record = self.visible(caller, alert_id)
        if not access.is_staff(caller) and record.type in LOSS_TYPES:
            raise NotAllowed(f"a {record.type} alert is closed by the collateral manager; acknowledge or comment")
        self._may_record(caller, outcome)
        if not self.alerts.resolve(alert_id, caller.name, self.clock()):
            raise AlertStateConflict("the alert is already resolved")
        resolved = self._changed("resolved", alert_id, caller)
        if outcome is not None and self.cases is not None:
            self.cases.record(resolved, outcome, caller.name, self.clock())
        return resolved

    def record_outcome(self, caller: Principal, alert_id: str, outcome: Outcome) -> Case:
        """The outcome of an alert the monitor (or a person, without one) already closed."""
        record = self.visible(caller, alert_id)
        self._may_record(caller, outcome)
        if record.state != "resolved":
            raise AlertStateConflict("the alert is still active: resolve it with its outcome")
        if self.cases is None:
            raise NotAllowed("this process keeps no case base")
        try:
            return self.cases.record(record, outcome, caller.name, self.clock())
        except CaseExists as exc:
            raise AlertStateConflict(str(exc)) from exc

    def _may_record(self, caller: Principal, outcome: Outcome | None) -> None:
        if outcome is not None and not access.is_staff(caller):
            raise NotAllowed("an outcome is recorded by the collateral manager's staff")

    def assign(self, caller: Principal, alert_id: str, assignee: str | None) -> AlertRecord:
        self.visible(caller, alert_id)
        if not access.is_staff(caller):
            raise NotAllowed("alerts are assigned by the collateral manager's staff")
        self.inbox.assign(alert_id, assignee, caller.name, self.clock())
        return self._changed("assigned", alert_id, caller)

    def comment(self, caller: Principal, alert_id: str, text: str) -> AlertComment:
        self.visible(caller, alert_id)
        comment = AlertComment(alert_id, caller.name, caller.role, text, self.clock())
        self.inbox.add_comment(comment)
        self._changed("commented", alert_id, caller, text=text, role=caller.role)
        return comment

    def comments(self, caller: Principal, alert_id: str) -> list[AlertComment]:
        self.visible(caller, alert_id)
        return self.inbox.comments(alert_id)

    def assignees(self, alert_ids: Sequence[str]) -> dict[str, str]:
        return self.inbox.assignees(alert_ids)

    def _changed(self, action: str, alert_id: str, caller: Principal, **told: Any) -> AlertRecord:
        """Log it, tell live dashboards and, but for an assignment (the manager's own
        business), the bank the alert is addressed to."""
        record = self.alerts.get(alert_id)
        log_alert(action, record, caller.name)
        self.publish([alert_event(action, record)])
        notice = alert_activity_notice(record, action, caller.name, self.clock(), **told) \
            if self.notices and action != "assigned" else None
        if notice is not None and self.notices is not None:
            self.notices.notify([notice])
        return record
