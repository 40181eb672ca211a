"""`POST /api/v1/gateways/{id}/commands` (admin): send a signed command, return its result."""
from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from backend.api.deps import Ctx, require_role
from backend.services.commands import CommandError, CommandsOff, GatewayUnreachable, UnknownGateway, UnusableAnswer

router = APIRouter(prefix="/api/v1", tags=["gateways"])


class CommandIn(BaseModel):
    model_config = {"extra": "forbid"}
    command: Literal["set_interval", "rebirth", "rotate_key"]
    args: dict[str, Any] = Field(default_factory=dict)  # set_interval: {"driver_index", "every_s"}
    ttl_s: float = Field(60.0, gt=0, le=600)  # the gateway refuses it after this
    wait_s: float = Field(5.0, ge=0, le=30)  # how long this request waits for the result


class CommandOut(BaseModel):
    id: str
    gateway: str
    command: str
    status: str  # sent (no answer yet) | ok | refused | failed
    detail: str = ""
    result: dict[str, Any] = Field(default_factory=dict)
    verified: bool = False  # the result is signed by one of the gateway's keys


STATUS = {UnknownGateway: 404, CommandsOff: 503, GatewayUnreachable: 503, UnusableAnswer: 502}


@router.post("/gateways/{gateway_id}/commands", response_model=CommandOut,
             responses={202: {"model": CommandOut, "description": "sent; no answer within wait_s"}})
def send_command(gateway_id: str, body: CommandIn, ctx: Ctx,
                 caller=Depends(require_role("admin"))):
    """Send a signed command to a gateway over MQTT and wait for its signed answer (admin)."""
    try:
        outcome = ctx.commands.send(gateway_id, body.command, body.args, ttl_s=body.ttl_s, wait_s=body.wait_s)
    except CommandError as exc:
        raise HTTPException(STATUS[type(exc)], str(exc)) from exc
    command, result = outcome.command, outcome.result
    if result is None:
        sent = CommandOut(id=command.id, gateway=gateway_id, command=command.name, status="sent")
        return JSONResponse(sent.model_dump(), status_code=202)
    return CommandOut(id=command.id, gateway=gateway_id, command=command.name, status=result.status,
                      detail=result.detail, result=dict(result.result), verified=outcome.verified)
