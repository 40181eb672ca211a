"""`POST /api/v1/gateways/{id}/commands` (admin): send a signed command, return its result."""
from __future__ import annotations

import logging
import time
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from backend.adapters.mqtt_commands import CommandTransportError, MqttCommands
from backend.api.deps import Ctx, require_role
from backend.services.commands import CommandError, build_command, load_command_signer, read_result
from edge.protocol.keys import KeyFileError, load_public_key

log = logging.getLogger("pledgewatch.commands")
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


@router.post("/gateways/{gateway_id}/commands", response_model=CommandOut,
             responses={202: {"model": CommandOut, "description": "sent; no answer within wait_s"}})
def send_command(gateway_id: str, body: CommandIn, ctx: Ctx,
                 caller=Depends(require_role("admin"))):
    """Send a signed command to a gateway over MQTT and wait for its signed answer (admin)."""
    entry = next((g for g in ctx.settings.gateways if g.id == gateway_id), None)
    if entry is None:
        raise HTTPException(404, f"no gateway {gateway_id!r}")
    try:
        signer = load_command_signer(ctx.settings.data_dir)
    except CommandError as exc:
        raise HTTPException(503, str(exc)) from exc
    command, wire = build_command(gateway_id, body.command, body.args, signer, time.time(), body.ttl_s)
    try:
        answer = MqttCommands(ctx.settings.broker).send(gateway_id, command.id, wire, body.wait_s)
    except CommandTransportError as exc:
        raise HTTPException(503, str(exc)) from exc
    if answer is None:
        sent = CommandOut(id=command.id, gateway=gateway_id, command=command.name, status="sent")
        return JSONResponse(sent.model_dump(), status_code=202)
    known = [load_public_key(entry.public_key_pem)] if entry.public_key_pem else []
    outcome = read_result(answer, command, known + ctx.rotated_keys.of(gateway_id))
    result = outcome.result
    if outcome.verified and result.command == "rotate_key" and result.status == "ok":
        try:
            key_id = ctx.rotated_keys.register(gateway_id, result, time.time())
            log.info("gateway %s rotated its key to %s; registered", gateway_id, key_id)
        except KeyFileError as exc:
            raise HTTPException(502, f"the gateway's rotate_key result is unusable: {exc}") from exc
    return CommandOut(id=command.id, gateway=gateway_id, command=command.name, status=result.status,
                      detail=result.detail, result=dict(result.result), verified=outcome.verified)
