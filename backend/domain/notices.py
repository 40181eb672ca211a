"""What a lender is told about its collateral besides alerts: an inspection task opened or
overdue, and (as the closed loop grows) pledges, release steps, delivery orders, repayments.

A notice is delivered to the lender's webhooks through the same outbox, signing and retries
as alerts (CloudEvent type `com.pledgewatch.<topic>.<change>`). An endpoint subscribes to a
topic by naming it in `event_types`. Its id is the CloudEvent id and webhook-id: the same
happening always has the same id, so announcing it twice (a restart) sends it once.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from backend.domain.alerts import ALERT_TYPES
from backend.domain.inspections import InspectionOpened, InspectionOverdue
from backend.domain.playbooks import Task
from backend.domain.registry import Loan

# Topics an endpoint may subscribe to besides the alert types; each service that notifies
# banks adds its own here (and documents its events in docs/webhooks.md).
NOTICE_TOPICS = ("inspection", "checkpoint",
                 "repayment", "pledge", "loan",  # the money side of the closed loop (money_notice)
                 "playbook",                      # a playbook task gone overdue (playbook_notice)
                 "release", "delivery_order",     # releases: requests, decisions, delivery orders
                 "report")                        # the daily collateral report (daily_report_notice)


@dataclass(frozen=True, slots=True)
class BankNotice:
    id: str                                    # deterministic per happening
    lender: str
    topic: str                                 # one of NOTICE_TOPICS, or an alert type
    change: str                                # e.g. "opened", "approved"
    subject: str                               # the loan, else the lot
    at_s: float                                # when it happened
    data: Mapping[str, Any]                    # JSON-ready: money as decimal strings

    def __post_init__(self) -> None:
        if self.topic not in NOTICE_TOPICS and self.topic not in ALERT_TYPES:
            raise ValueError(f"unknown notice topic {self.topic!r}")

    @property
    def source(self) -> str:
        """The CloudEvent source: /pledgewatch/alerts for what people did to an alert."""
        return "/pledgewatch/alerts" if self.topic in ALERT_TYPES else f"/pledgewatch/{self.topic}s"


def inspection_notice(event: InspectionOpened | InspectionOverdue) -> BankNotice | None:
    """The lender's notice of a task opened or gone overdue (None: no lender to tell)."""
    task = event.task
    if task.lender_id is None:
        return None
    change = "opened" if isinstance(event, InspectionOpened) else "overdue"
    data = {"lot": task.lot_id, "loan": task.loan_id, "lender": task.lender_id, "reasons": list(task.reasons),
            "opened_at_s": task.opened_at_s, "deadline_s": task.deadline_s, "state": task.state}
    return BankNotice(f"inspection-{task.lot_id}-{task.opened_at_s}.{change}", task.lender_id, "inspection",
                      change, task.loan_id or task.lot_id,
                      task.opened_at_s if change == "opened" else task.deadline_s, data)


def alert_activity_notice(alert: Any, change: str, by: str, at_s: float, **extra: Any) -> BankNotice | None:
    """A person acknowledged, commented on or resolved an alert addressed to a lender: the
    lender hears it (`com.pledgewatch.<alert type>.<change>`). A resolution has the id the
    monitor's own resolution would have: a bank hears one `resolved` per alert."""
    if alert.lender is None:
        return None
    event_id = f"{alert.id}.{change}" if change == "resolved" else f"{alert.id}.{change}.{int(at_s * 1000)}"
    data = {"id": alert.id, "type": alert.type, "severity": alert.severity, "loan": alert.loan, "lot": alert.lot,
            "lender": alert.lender, "by": by, "at_s": at_s, **extra}
    return BankNotice(event_id, alert.lender, alert.type, change, alert.loan or alert.lot or alert.id, at_s, data)


def money_notice(loan: Loan, topic: str, change: str, key: str, at_s: float, **data: Any) -> BankNotice:
    """A repayment, pledge or loan change, told to the loan's lender. `key` names the happening
    (a repayment's id, a request's id, ...): with `change` it makes the notice's id.
    Amounts go in `data` as Decimal strings."""
    return BankNotice(f"{topic}-{loan.id}-{key}.{change}", loan.lender_id, topic, change, loan.id, at_s,
                      {"loan": loan.id, "lender": loan.lender_id, "borrower": loan.borrower_id, "at_s": at_s,
                       **{name: str(value) if isinstance(value, Decimal) else value for name, value in data.items()}})


def playbook_notice(task: Task) -> BankNotice | None:
    """A step of the response playbook on the lender's alert is overdue (None: no lender to tell)."""
    if task.lender is None:
        return None
    data = {"alert": task.alert_id, "case": task.case_id, "version": task.version, "step": task.step,
            "title": task.title, "owner_role": task.owner_role, "deadline_s": task.deadline_s,
            "lender": task.lender, "loan": task.loan, "lot": task.lot, "state": "overdue"}
    return BankNotice(f"playbook-{task.alert_id}-{task.step}.overdue", task.lender, "playbook", "overdue",
                      task.loan or task.lot or task.alert_id, task.deadline_s, data)


def daily_report_notice(lender: str, date: str, generated_at_s: float, *, locale: str, loans: int,
                        html_sha256: str, pdf_sha256: str) -> BankNotice:
    """The lender's daily report is ready: where to fetch it (relative to the PledgeWatch address
    the bank was given) and the SHA-256 of each form, not the report itself. One per lender and day."""
    path = f"/api/v1/reports/daily?date={date}"
    data = {"lender": lender, "date": date, "generated_at_s": generated_at_s, "locale": locale, "loans": loans,
            "links": {"pdf": f"{path}&format=pdf", "html": f"{path}&format=html"},
            "pdf_sha256": pdf_sha256, "html_sha256": html_sha256}
    return BankNotice(f"report-{lender}-{date}.daily", lender, "report", "daily", f"report-{date}", generated_at_s,
                      data)
