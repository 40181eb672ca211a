"""Shared request dependencies: the process context and the caller's identity."""
from __future__ import annotations

import math
from typing import Annotated, Callable, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backend.bootstrap import BackendContext
from backend.services import access
from backend.services.api_keys import Principal
from backend.services.registry import Conflict, NotFound


def context(request: Request) -> BackendContext:
    return request.app.state.context


Ctx = Annotated[BackendContext, Depends(context)]  # what a route takes to reach the services


def _too_many(retry_after_s: float, why: str) -> HTTPException:
    return HTTPException(429, why, headers={"Retry-After": str(max(1, math.ceil(retry_after_s)))})


# Declares the scheme in the OpenAPI (so /docs offers "Authorize"); the checks are ours below.
bearer = HTTPBearer(auto_error=False, scheme_name="apiKey",
                    description="An API key: `Authorization: Bearer pw_...` (see `keys new-api`).")


def principal(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    """The caller, from `Authorization: Bearer <key>`; throttled per key and per bad-key client."""
    ctx = context(request)
    client, now_s = request.client.host if request.client else "?", ctx.clock()
    wait_s = ctx.bad_key_throttle.retry_after_s(client, now_s)
    if wait_s:
        raise _too_many(wait_s, "too many bad API keys from this address; wait and try again")
    key = credentials.credentials if credentials else ""
    if not key:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    found = ctx.keyring.authenticate(key.strip())
    if found is None:
        ctx.bad_key_throttle.failed(client, now_s)
        raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    request.state.principal = found  # for the audit log
    wait_s = ctx.rate_limiter.retry_after_s(found.name, now_s)
    if wait_s:
        raise _too_many(wait_s, "rate limit for this API key exceeded; slow down")
    return found


def require_role(*roles: str) -> Callable[..., Principal]:
    """Callers outside `roles` get 404: a route they may not use does not exist for them."""

    def check(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if caller.role not in roles:
            raise HTTPException(404, "not found")
        return caller

    return check


T = TypeVar("T")


def on_loan(ctx: BackendContext, caller: Principal, loan_id: str, action: Callable[[], T]) -> T:
    """404 for a loan the caller may not see; the service's refusals as 404/409."""
    if not access.sees_loan(caller, ctx.registry.snapshot(), loan_id):
        raise HTTPException(404, f"no loan {loan_id!r}")
    try:
        return action()
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from exc
