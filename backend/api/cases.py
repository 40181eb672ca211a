"""The risk case base over HTTP: closed cases (a lender: its own), the standard risk cases with
their playbooks (every version kept; staff edit them), and the shapes the alert routes share
for an alert's matches and playbook tasks (docs/risk-cases.md)."""
from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from backend.api.deps import Ctx, principal
from backend.domain.case_records import Case
from backend.domain.cases import OUTCOMES, Outcome, OutcomeError
from backend.domain.playbooks import MAX_STEPS, OWNER_ROLES, PlaybookError, PlaybookStep, Task
from backend.ports.cases import PlaybookVersion
from backend.services.api_keys import Principal
from backend.services.cases import CaseNotFound
from backend.services.playbooks import NotYours, UnknownCase

router = APIRouter(prefix="/api/v1", tags=["cases"])
Caller = Annotated[Principal, Depends(principal)]
OutcomeKind = Literal[OUTCOMES]  # type: ignore[valid-type]


class OutcomeIn(BaseModel):
    """What the episode turned out to be; a confirmed loss carries its amount."""
    outcome: OutcomeKind
    note: str = Field("", max_length=4000)
    loss_amount: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)] | None = None
    loss_currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")

    def domain(self) -> Outcome:
        try:
            return Outcome(self.outcome, self.note, self.loss_amount, self.loss_currency)
        except OutcomeError as exc:
            raise HTTPException(400, str(exc)) from exc


class ResolveIn(BaseModel):
    """Closing an alert by hand; with an outcome (staff), its episode becomes a case."""
    outcome: OutcomeKind | None = None
    note: str = Field("", max_length=4000)
    loss_amount: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)] | None = None
    loss_currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")

    def domain(self) -> Outcome | None:
        if self.outcome is None:
            if self.note or self.loss_amount is not None or self.loss_currency is not None:
                raise HTTPException(400, "note, loss_amount and loss_currency go with an outcome")
            return None
        return OutcomeIn(outcome=self.outcome, note=self.note, loss_amount=self.loss_amount,
                         loss_currency=self.loss_currency).domain()


class MatchedFeature(BaseModel):
    feature: str
    share: float = Field(description="this feature's part of the score")


class MatchOut(BaseModel):
    kind: Literal["standard", "case"]
    id: str
    title: str
    score: float = Field(description="weighted cosine similarity of the episodes' features, 0 to 1")
    outcome: str | None = Field(description="a closed case's outcome; a standard case's typical one")
    matched: list[MatchedFeature]
    missing: list[str] = Field(description="the case's features this episode does not show")


class TaskOut(BaseModel):
    step: int
    case: str
    version: int
    title: str
    description: str
    owner_role: str
    deadline_s: float
    state: Literal["open", "done", "overdue"]
    done_at_s: float | None
    done_by: str | None
    escalated_at_s: float | None


def task_out(task: Task, now_s: float) -> TaskOut:
    return TaskOut(step=task.step, case=task.case_id, version=task.version, title=task.title,
                   description=task.description, owner_role=task.owner_role, deadline_s=task.deadline_s,
                   state=task.state(now_s), done_at_s=task.done_at_s, done_by=task.done_by,
                   escalated_at_s=task.escalated_at_s)


class CaseOut(BaseModel):
    id: str
    alert: str = Field(description="the alert whose closing recorded it")
    lender: str | None
    borrower: str | None
    loan: str | None
    lot: str | None
    warehouse: str | None
    gateway: str | None
    commodity: str | None
    opened_at_s: float
    closed_at_s: float
    blind_s: float = Field(description="how long the collateral went unwatched during the episode")
    outcome: str
    note: str
    loss_amount: Decimal | None
    loss_currency: str | None
    recorded_by: str
    alert_ids: list[str]
    alert_types: list[str] = Field(description="in the order the alerts opened")
    features: dict[str, float]
    summary: dict[str, Any] = Field(description="sensor states, LTV path, durations, actions taken")


def case_out(case: Case) -> CaseOut:
    s, o = case.subject, case.outcome
    return CaseOut(id=case.id, alert=case.alert_id, lender=s.lender, borrower=s.borrower, loan=s.loan, lot=s.lot,
                   warehouse=s.warehouse, gateway=s.gateway, commodity=s.commodity, opened_at_s=case.opened_at_s,
                   closed_at_s=case.closed_at_s, blind_s=case.blind_s, outcome=o.kind, note=o.note,
                   loss_amount=o.loss_amount, loss_currency=o.loss_currency, recorded_by=case.recorded_by,
                   alert_ids=list(case.alert_ids), alert_types=list(case.alert_types), features=dict(case.features),
                   summary=dict(case.summary))


@router.get("/cases", response_model=list[CaseOut])
def list_cases(caller: Caller, ctx: Ctx, outcome: OutcomeKind | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[CaseOut]:
    """Closed cases, newest first; a lender sees its own only."""
    return [case_out(c) for c in ctx.cases.find(caller, outcome=outcome, limit=limit, offset=offset)]


@router.get("/cases/{case_id}", response_model=CaseOut)
def get_case(case_id: str, caller: Caller, ctx: Ctx) -> CaseOut:
    """One closed case: its episode's alerts and features, the summary and the outcome (a lender: its own)."""
    try:
        return case_out(ctx.cases.visible(caller, case_id))
    except CaseNotFound as exc:
        raise HTTPException(404, str(exc)) from exc


class StepIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    owner_role: Literal[OWNER_ROLES]  # type: ignore[valid-type]
    deadline_s: int = Field(ge=0, le=30 * 86_400, description="after the alert opened")
    description: str = Field("", max_length=2000)


class PlaybookIn(BaseModel):
    steps: list[StepIn] = Field(min_length=1, max_length=MAX_STEPS)


class PlaybookOut(BaseModel):
    case: str
    version: int
    created_by: str
    created_at_s: float
    steps: list[StepIn]


def playbook_out(version: PlaybookVersion) -> PlaybookOut:
    return PlaybookOut(case=version.case_id, version=version.version, created_by=version.created_by,
                       created_at_s=version.created_at_s,
                       steps=[StepIn(title=s.title, owner_role=s.owner_role, deadline_s=s.deadline_s,
                                     description=s.description) for s in version.steps])


class RiskCaseOut(BaseModel):
    id: str
    title: str
    summary: str
    pattern: dict[str, float]
    indicators: list[str]
    sources: list[str]
    typical_outcome: str | None
    playbook: PlaybookOut | None = Field(description="the current version")


@contextmanager
def _answers():
    try:
        yield
    except UnknownCase as exc:
        raise HTTPException(404, str(exc)) from exc
    except NotYours as exc:
        raise HTTPException(403, str(exc)) from exc
    except PlaybookError as exc:
        raise HTTPException(400, str(exc)) from exc


@router.get("/risk-cases", response_model=list[RiskCaseOut])
def list_risk_cases(caller: Caller, ctx: Ctx) -> list[RiskCaseOut]:
    """The standard risk cases (the same for every caller) with their current playbooks."""
    current = ctx.playbooks.current()
    return [RiskCaseOut(id=c.id, title=c.title, summary=c.summary, pattern=dict(c.pattern),
                        indicators=list(c.indicators), sources=list(c.sources), typical_outcome=c.typical_outcome,
                        playbook=playbook_out(current[c.id]) if c.id in current else None)
            for c in ctx.playbooks.standard.values()]


@router.get("/risk-cases/{case_id}/playbook", response_model=list[PlaybookOut])
def playbook_versions(case_id: str, caller: Caller, ctx: Ctx) -> list[PlaybookOut]:
    """Every version of the case's playbook, oldest first."""
    with _answers():
        return [playbook_out(v) for v in ctx.playbooks.versions(case_id)]


@router.put("/risk-cases/{case_id}/playbook", response_model=PlaybookOut)
def edit_playbook(case_id: str, body: PlaybookIn, caller: Caller, ctx: Ctx) -> PlaybookOut:
    """A new version of the playbook (staff); tasks opened before keep the version they came from."""
    steps = [PlaybookStep(s.title, s.owner_role, s.deadline_s, s.description) for s in body.steps]
    with _answers():
        return playbook_out(ctx.playbooks.edit(caller, case_id, steps))
