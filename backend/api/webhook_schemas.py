"""What a bank's endpoint receives, published as JSON Schemas in the OpenAPI `webhooks`
section (docs/webhooks.md says the same in prose). The bodies are written by the webhook
adapters; tests/integration/webhooks validates every event sent against these schemas."""
from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

MONEY = r"^-?\d+\.\d{2}$"
RATIO = r"^\d+(\.\d+)?$"


class CloudEvent(BaseModel):
    """CloudEvents 1.0 JSON, under Standard Webhooks headers (webhook-id = `id`)."""
    model_config = ConfigDict(extra="forbid")
    specversion: Literal["1.0"]
    id: str = Field(description="the same on every retry and redelivery: de-duplicate on it")
    source: str
    type: str
    subject: str = Field(description="the loan, else the lot, else what the event is about")
    time: str = Field(description="RFC 3339, UTC, when it happened")
    datacontenttype: Literal["application/json"]


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    warning: str | None = Field(pattern=RATIO)
    margin_call: str | None = Field(pattern=RATIO)
    liquidation: str | None = Field(pattern=RATIO)


class LoanFacts(BaseModel):
    """Where the loan stands as the event is sent: money to the cent in `currency`."""
    model_config = ConfigDict(extra="forbid")
    currency: str = Field(min_length=3, max_length=3)
    outstanding: str | None = Field(pattern=MONEY)
    status: str | None
    ltv: str | None = Field(pattern=RATIO)
    market_value: str | None = Field(pattern=MONEY, description="valued quantity × price, before haircut")
    lending_value: str | None = Field(pattern=MONEY, description="after haircut, quality and the unverified schedule")
    drawing_power: str | None = Field(pattern=MONEY)
    target_ltv: str | None = Field(pattern=RATIO)
    thresholds: Thresholds
    cure_amount: str | None = Field(pattern=MONEY)
    cure_deadline: str | None = Field(description="RFC 3339")
    price_stale: bool | None


class AlertLinks(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alert: str
    dashboard: str
    loan: str | None = None


class MatchedFeature(BaseModel):
    model_config = ConfigDict(extra="forbid")
    feature: str
    share: float = Field(description="this feature's part of the score")


class CaseMatch(BaseModel):
    """A standard risk case, or one of the bank's own closed cases, like this alert's episode."""
    model_config = ConfigDict(extra="forbid")
    kind: Literal["standard", "case"]
    id: str
    title: str
    score: float = Field(ge=0, le=1, description="weighted cosine similarity of the episodes' features")
    outcome: str | None = Field(description="a closed case's outcome; a standard case's typical one")
    matched: list[MatchedFeature] = Field(description="the features both show, largest share first")
    missing: list[str] = Field(description="the case's features this episode does not show")


class AlertData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    type: str
    severity: Literal["info", "warning", "critical"]
    state: str
    opened_at_s: int
    resolved_at_s: int | None
    loan: str | None
    lot: str | None
    lender: str
    details: dict[str, Any] = Field(description="the evidence the monitor attached")
    warehouse: str | None = Field(None, description="where the lot is")
    gateway: str | None = Field(None, description="the gateway that watches it")
    silenced_by: str | None = Field(None, description="a silence the manager set covered it (sent all the same)")
    change: Literal["opened", "resolved", "superseded", "reminder"]
    reminder: int | None = Field(None, description="how many reminders of this unacknowledged alert")
    superseded_by: str | None = Field(None, description="the graver LTV alert that took over")
    loan_facts: LoanFacts | None = None
    links: AlertLinks | None = None
    matches: list[CaseMatch] | None = Field(None, description="on `opened`: the cases most like the alert's "
                                                              "episode, best first (docs/risk-cases.md)")


class AlertEvent(CloudEvent):
    """An alert opened, resolved by the monitor, superseded by a graver one, or a reminder."""
    source: Literal["/pledgewatch/alerts"]
    type: str = Field(pattern=r"^com\.pledgewatch\.[a-z_]+\.(opened|resolved|superseded|reminder)$")
    data: AlertData


class ActivityData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    type: str
    severity: Literal["info", "warning", "critical"]
    loan: str | None
    lot: str | None
    lender: str
    by: str = Field(description="who did it")
    at_s: float
    change: Literal["acknowledged", "commented", "resolved"]
    note: str | None = None
    text: str | None = None
    role: str | None = None


class AlertActivityEvent(CloudEvent):
    """A person acknowledged, commented on or resolved an alert addressed to the bank."""
    source: Literal["/pledgewatch/alerts"]
    type: str = Field(pattern=r"^com\.pledgewatch\.[a-z_]+\.(acknowledged|commented|resolved)$")
    data: ActivityData


class InspectionData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lot: str
    loan: str | None
    lender: str
    reasons: list[str] = Field(description="the critical alert types open on the lot")
    opened_at_s: int
    deadline_s: int
    state: Literal["open", "overdue", "done"]
    change: Literal["opened", "overdue"]


class InspectionEvent(CloudEvent):
    """An inspection task on the bank's collateral opened, or went past its deadline uncounted."""
    source: Literal["/pledgewatch/inspections"]
    type: Literal["com.pledgewatch.inspection.opened", "com.pledgewatch.inspection.overdue"]
    data: InspectionData


class CheckpointData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    origin: str = Field(description="the log's name: the checkpoint's first line and its key's name")
    size: int = Field(description="entries in the log the checkpoint signs")
    root_hash: str = Field(description="base64 RFC 9162 root of those entries")
    note: str = Field(description="the C2SP tlog-checkpoint signed note: keep it; cosign it once it is "
                                  "proven consistent with the last one you kept")
    log_vkey: str = Field(description="the log's verifier key (<name>+<key id>+<base64 key>)")
    change: Literal["signed"]


class CheckpointEvent(CloudEvent):
    """The evidence log signed a checkpoint (every few minutes and after a critical alert): witness it."""
    source: Literal["/pledgewatch/checkpoints"]
    type: Literal["com.pledgewatch.checkpoint.signed"]
    data: CheckpointData


class PingData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: str
    lender: str


class PingEvent(CloudEvent):
    """The test event `POST /webhooks/{id}/ping` queues."""
    source: Literal["/pledgewatch/webhooks"]
    type: Literal["com.pledgewatch.ping"]
    data: PingData


class MoneyData(BaseModel):
    """What every repayment, pledge and loan notice says (backend.domain.notices.money_notice)."""
    model_config = ConfigDict(extra="forbid")
    loan: str
    lender: str
    borrower: str
    at_s: float
    change: str


class RepaymentData(MoneyData):
    repayment: str
    amount: str = Field(pattern=MONEY)
    state: Literal["pending", "confirmed", "rejected"]
    entered_by: str | None = None
    decided_by: str | None
    outstanding: str | None = Field(None, pattern=MONEY, description="after a confirmed repayment")
    reason: str | None = Field(None, description="a rejection's")


class RepaymentEvent(CloudEvent):
    """A repayment entered (pending: it changes nothing yet), confirmed by the lender, or rejected."""
    source: Literal["/pledgewatch/repayments"]
    type: Literal["com.pledgewatch.repayment.pending", "com.pledgewatch.repayment.confirmed",
                  "com.pledgewatch.repayment.rejected"]
    data: RepaymentData


class PledgeData(MoneyData):
    request: str
    kind: Literal["pledge", "substitution"]
    pledge_lot: str
    release_lot: str | None
    requested_by: str
    decided_by: str | None
    reason: str | None


class PledgeEvent(CloudEvent):
    """A top-up or substitution of the bank's collateral asked, carried out or rejected."""
    source: Literal["/pledgewatch/pledges"]
    type: str = Field(pattern=r"^com\.pledgewatch\.pledge\.(requested|approved|rejected|substitution_requested|"
                              r"substituted|substitution_rejected)$")
    data: PledgeData


class LoanData(MoneyData):
    amount: str | None = Field(None, pattern=MONEY)
    outstanding: str | None = Field(None, pattern=MONEY, description="after the drawdown or interest")
    by: str | None = None
    drawdown: str | None = None
    days: int | None = None
    from_s: float | None = None
    to_s: float | None = None
    rate: str | None = Field(None, pattern=RATIO)
    day_count: Literal["ACT/360", "ACT/365"] | None = None
    released_lots: list[str] | None = Field(None, description="a closed loan's lots, now free")


class LoanEvent(CloudEvent):
    """A drawdown, interest posted to the outstanding amount, or the loan closed (its lots released)."""
    source: Literal["/pledgewatch/loans"]
    type: Literal["com.pledgewatch.loan.drawdown", "com.pledgewatch.loan.interest_posted",
                  "com.pledgewatch.loan.closed"]
    data: LoanData


class PlaybookData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alert: str
    case: str = Field(description="the standard risk case whose playbook opened the task")
    version: int
    step: int
    title: str
    owner_role: Literal["supervisor", "lender", "inspector", "borrower"]
    deadline_s: float
    lender: str
    loan: str | None
    lot: str | None
    state: Literal["overdue"]
    change: Literal["overdue"]


class PlaybookEvent(CloudEvent):
    """A step of the response playbook on one of the bank's alerts went past its deadline undone."""
    source: Literal["/pledgewatch/playbooks"]
    type: Literal["com.pledgewatch.playbook.overdue"]
    data: PlaybookData


class ReleaseData(MoneyData):
    request: str
    lot: str
    items: int = Field(description="how many items (named or counted)")
    epcs: list[str] | None = Field(description="the EPCs the request named (None: a count)")
    repayment: str | None = Field(description="the repayment it was asked against")
    requested_by: str
    decided_by: str | None = Field(description="the lender's key, or an admin's")
    delivery_order: str | None = Field(description="the order an approval issued")
    max_items: int | None = Field(None, description="how many could leave at approval")
    reason: str | None = Field(None, description="a refusal's")


class ReleaseEvent(CloudEvent):
    """A release asked for (pending the lender), approved (a delivery order issued) or refused."""
    source: Literal["/pledgewatch/releases"]
    type: Literal["com.pledgewatch.release.requested", "com.pledgewatch.release.approved",
                  "com.pledgewatch.release.refused"]
    data: ReleaseData


class DeliveryOrderData(MoneyData):
    delivery_order: str
    request: str
    lot: str
    warehouse: str
    epcs: list[str] = Field(description="the exact items it lets out")
    valid_until_s: float
    state: Literal["issued", "acknowledged", "fulfilled", "expired"]
    by: str = Field(description="who acted: the approver, the warehouse's key, or `monitor`")
    left: list[str] | None = Field(None, description="at closing: the EPCs that left (now released)")
    remaining: list[str] | None = Field(None, description="at expiry: the EPCs still there (pledged again)")


class DeliveryOrderEvent(CloudEvent):
    """A delivery order issued, acknowledged by the warehouse, fulfilled (every item left) or
    expired (unfulfilled: the items still there are pledged again)."""
    source: Literal["/pledgewatch/delivery_orders"]
    type: Literal["com.pledgewatch.delivery_order.issued", "com.pledgewatch.delivery_order.acknowledged",
                  "com.pledgewatch.delivery_order.fulfilled", "com.pledgewatch.delivery_order.expired"]
    data: DeliveryOrderData


class ReportLinks(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pdf: str = Field(description="GET it with the lender's API key (relative to the PledgeWatch address)")
    html: str


class ReportData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lender: str
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="the day, in the lender's time zone")
    generated_at_s: float = Field(description="the moment the report's book figures are of")
    locale: Literal["en", "zh-CN"]
    loans: int
    links: ReportLinks
    pdf_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="of the PDF the link serves, byte for byte")
    html_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    change: Literal["daily"]


class ReportEvent(CloudEvent):
    """The lender's daily collateral report is made: fetch it from `data.links` and check its SHA-256."""
    source: Literal["/pledgewatch/reports"]
    type: Literal["com.pledgewatch.report.daily"]
    data: ReportData


EVENTS: dict[str, type[CloudEvent]] = {"alert": AlertEvent, "alert-activity": AlertActivityEvent,
                                       "inspection": InspectionEvent, "checkpoint": CheckpointEvent,
                                       "ping": PingEvent, "repayment": RepaymentEvent, "pledge": PledgeEvent,
                                       "loan": LoanEvent, "playbook": PlaybookEvent, "release": ReleaseEvent,
                                       "delivery_order": DeliveryOrderEvent, "report": ReportEvent}


def document(app: FastAPI) -> None:
    """Each event shape as an OpenAPI webhook (what PledgeWatch POSTs to a bank's URL)."""
    for name, model in EVENTS.items():
        def receive(body: Any) -> None:
            """(documentation only: FastAPI reads the signature)"""
        receive.__annotations__ = {"body": model, "return": None}  # the event's model, as the body
        receive.__doc__ = model.__doc__
        app.webhooks.post(name, summary=(model.__doc__ or name).splitlines()[0],
                          operation_id=f"webhook_{name.replace('-', '_')}")(receive)
