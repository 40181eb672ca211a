"""Cross-cutting HTTP guards: a cap on request bodies, and the audit log of every change."""
from __future__ import annotations

import json

from fastapi import FastAPI, Request

from backend.adapters.db.access_repo import AuditEntry


class BodySizeLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, declared or streamed."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send)
        seen, too_large = 0, False

        async def counted_receive():
            nonlocal seen, too_large
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                too_large = True
                return {"type": "http.disconnect"}  # the app stops reading; we answer
            return message

        async def guarded_send(message) -> None:
            if not too_large:
                await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large:
            await self._refuse(send)

    async def _refuse(self, send) -> None:
        body = json.dumps({"detail": f"request body larger than {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def install_audit_log(app: FastAPI) -> None:
    """Every mutating call, answered or refused: who, what, when, from where (never the body)."""

    @app.middleware("http")
    async def audit(request: Request, call_next):
        response = await call_next(request)
        if request.method in MUTATING:
            ctx = request.app.state.context
            caller = getattr(request.state, "principal", None)
            ctx.audit.append(AuditEntry(
                ctx.clock(), caller.name if caller else None, caller.role if caller else None,
                request.method, request.url.path, response.status_code,
                request.client.host if request.client else None))
        return response
