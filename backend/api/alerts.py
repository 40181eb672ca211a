"""Alerts over HTTP: list and filter, one alert, acknowledge (one or many), resolve, assign,
comment. A lender sees only its own; the rules are the inbox service's."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from backend.api.cases import CaseOut, MatchOut, OutcomeIn, ResolveIn, TaskOut, case_out, task_out
from backend.api.deps import Ctx, principal
from backend.domain.alerts import ALERT_TYPES
from backend.services.alert_inbox import AlertNotFound, AlertStateConflict, NotAllowed
from backend.services.api_keys import Principal
from backend.services.playbooks import NotYours, TaskDone, TaskNotFound

router = APIRouter(prefix="/api/v1", tags=["alerts"])
Caller = Annotated[Principal, Depends(principal)]


class AlertOut(BaseModel):
    id: str
    type: str
    severity: str
    state: str
    opened_at_s: float
    acknowledged_at_s: float | None
    acknowledged_by: str | None
    ack_note: str | None
    resolved_at_s: float | None
    loan: str | None
    lot: str | None
    lender: str | None
    gateway: str | None
    details: dict[str, Any]
    assignee: str | None = None
    silenced_by: str | None = Field(None, description="the silence covering it now (it is still sent to the bank)")
    matches: list[MatchOut] = Field([], description="standard and closed cases most like its episode when it opened "
                                                    "(a lender's alert: that lender's cases only)")
    tasks: list[TaskOut] = Field([], description="the playbook steps its best standard match opened")


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(caller: Caller, ctx: Ctx,
                state: Literal["open", "acknowledged", "resolved"] | None = None,
                type: Annotated[str | None, Query(pattern=f"^({'|'.join(ALERT_TYPES)})$")] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[AlertOut]:
    """Newest first."""
    return alert_outs(ctx, ctx.inbox.find(caller, state=state, type_=type, limit=limit, offset=offset))


class AckIn(BaseModel):
    note: str | None = Field(None, max_length=2000)


class BulkAckIn(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=500)
    note: str | None = Field(None, max_length=2000)


class BulkAckOut(BaseModel):
    acknowledged: list[AlertOut]
    skipped: dict[str, str] = Field(description="alert id -> why it was not acknowledged")


class AssigneeIn(BaseModel):
    assignee: str | None = Field(max_length=128, description="who works it; null: nobody")


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class CommentOut(BaseModel):
    author: str
    role: str
    text: str
    at_s: float


@contextmanager
def _answers():
    """The inbox's refusals as HTTP answers."""
    try:
        yield
    except AlertNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except AlertStateConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    except (NotAllowed, NotYours) as exc:
        raise HTTPException(403, str(exc)) from exc
    except TaskNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except TaskDone as exc:
        raise HTTPException(409, str(exc)) from exc


@router.post("/alerts/ack", response_model=BulkAckOut)
def acknowledge_many(body: BulkAckIn, caller: Caller, ctx: Ctx) -> BulkAckOut:
    """Acknowledge several alerts with one note; those that cannot be (not yours, not open) are listed with why."""
    done, skipped = ctx.inbox.acknowledge_many(caller, body.ids, body.note)
    return BulkAckOut(acknowledged=alert_outs(ctx, done), skipped=skipped)


@router.get("/alerts/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: str, caller: Caller, ctx: Ctx) -> AlertOut:
    """One alert with its details (the evidence), its state and who works it."""
    with _answers():
        return alert_outs(ctx, [ctx.inbox.visible(caller, alert_id)])[0]


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut)
def acknowledge(alert_id: str, caller: Caller, ctx: Ctx, body: AckIn | None = None) -> AlertOut:
    """Who saw it, when, and a note. 409 when it is not open."""
    with _answers():
        return alert_outs(ctx, [ctx.inbox.acknowledge(caller, alert_id, body.note if body else None)])[0]


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve(alert_id: str, caller: Caller, ctx: Ctx, body: ResolveIn | None = None) -> AlertOut:
    """Close an alert by hand (how a one-off notice ends). 409 when already resolved; 403 for a lender
    on a loss alert (stock, removal, weight, tag conflict, unverified): staff close those. With an
    outcome (staff), its episode becomes a case (`GET /cases`)."""
    outcome = body.domain() if body else None
    with _answers():
        return alert_outs(ctx, [ctx.inbox.resolve(caller, alert_id, outcome)])[0]


@router.post("/alerts/{alert_id}/outcome", response_model=CaseOut, status_code=201)
def record_outcome(alert_id: str, body: OutcomeIn, caller: Caller, ctx: Ctx) -> CaseOut:
    """The outcome of an alert already resolved (by the monitor, or by hand without one): its episode
    becomes a case. Staff only; 409 while the alert is active or when it has a case already."""
    outcome = body.domain()
    with _answers():
        return case_out(ctx.inbox.record_outcome(caller, alert_id, outcome))


@router.post("/alerts/{alert_id}/tasks/{step}/done", response_model=TaskOut)
def complete_task(alert_id: str, step: Annotated[int, Path(ge=1, le=100)], caller: Caller, ctx: Ctx) -> TaskOut:
    """Mark a playbook step done (recording who): staff any step, a lender the steps its role owns.
    409 when done already."""
    with _answers():
        record = ctx.inbox.visible(caller, alert_id)
        return task_out(ctx.playbooks.complete(caller, record, step), ctx.clock())


@router.put("/alerts/{alert_id}/assignee", response_model=AlertOut)
def assign(alert_id: str, body: AssigneeIn, caller: Caller, ctx: Ctx) -> AlertOut:
    """Who works the alert (staff); null clears it."""
    with _answers():
        return alert_outs(ctx, [ctx.inbox.assign(caller, alert_id, body.assignee)])[0]


@router.get("/alerts/{alert_id}/comments", response_model=list[CommentOut])
def list_comments(alert_id: str, caller: Caller, ctx: Ctx) -> list[CommentOut]:
    """What people said about the alert, oldest first (kept; never edited)."""
    with _answers():
        return [_comment_out(c) for c in ctx.inbox.comments(caller, alert_id)]


@router.post("/alerts/{alert_id}/comments", response_model=CommentOut, status_code=201)
def add_comment(alert_id: str, body: CommentIn, caller: Caller, ctx: Ctx) -> CommentOut:
    """Add a comment (staff, or the lender the alert is addressed to)."""
    with _answers():
        return _comment_out(ctx.inbox.comment(caller, alert_id, body.text))


def _comment_out(comment) -> CommentOut:
    return CommentOut(author=comment.author, role=comment.role, text=comment.text, at_s=comment.at_s)


PEOPLE_FIELDS = ("assignee", "silenced_by", "matches", "tasks")  # not from the alert record as it is


def alert_outs(ctx, records) -> list[AlertOut]:
    assignees = ctx.inbox.assignees([r.id for r in records])
    silenced = ctx.silences.silenced_by(records)
    tasks: dict[str, list[TaskOut]] = {}
    for task in ctx.playbooks.tasks([r.id for r in records]):
        tasks.setdefault(task.alert_id, []).append(task_out(task, ctx.clock()))
    return [AlertOut(**{name: getattr(record, name) for name in AlertOut.model_fields if name not in PEOPLE_FIELDS},
                     assignee=assignees.get(record.id), silenced_by=silenced.get(record.id),
                     matches=[MatchOut.model_validate(match) for match in record.matches],
                     tasks=tasks.get(record.id, [])) for record in records]
