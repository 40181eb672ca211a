"""Shared request dependencies: the process context and the caller's identity."""
from __future__ import annotations

from typing import Annotated, Callable

from fastapi import Depends, HTTPException, Request

from backend.services.api_keys import Principal


def context(request: Request):
    return request.app.state.context


def principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    found = request.app.state.context.keyring.authenticate(key.strip())
    if found is None:
        raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    return found


def require_role(*roles: str) -> Callable[..., Principal]:
    """Callers outside `roles` get 404: a route they may not use does not exist for them."""

    def check(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if caller.role not in roles:
            raise HTTPException(404, "not found")
        return caller

    return check
