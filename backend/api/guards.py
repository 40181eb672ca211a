"""Cross-cutting HTTP guards: a cap on request bodies, strict JSON bodies (no NaN, Infinity or
lone surrogates), and the audit log of every change."""
from __future__ import annotations

import json
import math

from fastapi import FastAPI, Request

from backend.ports.access import AuditEntry


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
        await _answer(send, 413, {"detail": f"request body larger than {self.max_bytes} bytes"})


class NonFiniteNumber(ValueError):
    pass


def _refuse_constant(name: str):
    raise NonFiniteNumber(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999 parses as inf
        raise NonFiniteNumber(text)
    return value


NON_FINITE = ("JSON numbers must be finite: NaN, Infinity and -Infinity (or a number too large for a double) "
              "are not JSON; send a finite number")
LONE_SURROGATE = "JSON strings must be valid Unicode: a lone surrogate escape such as \\ud800 is not"
TOO_DEEP = "JSON nested too deeply"


class StrictJsonBodies:
    """ASGI middleware: 422 for a JSON body Python's json module takes but JSON does not: NaN,
    Infinity, an overflowing number, a lone surrogate; and for one nested too deeply to parse.
    Past this point they would be a 500: FastAPI's 422 answer cannot echo them back, a string
    with a lone surrogate cannot be encoded. The body is already capped by BodySizeLimit
    (outside this middleware), then replayed to the app."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not _may_be_json(scope):
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _replay([message], receive), send)
            chunks.append(message)
            more = message.get("more_body", False)
        body = b"".join(chunk.get("body", b"") for chunk in chunks)
        refusal = _refusal(body)
        if refusal is not None:
            return await _answer(send, 422, {"detail": [{"type": "json_invalid", "loc": ["body"], "input": None,
                                                         "msg": refusal}]})
        await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)


def _may_be_json(scope) -> bool:
    """As FastAPI decides: no content type, application/json or application/*+json."""
    content_type = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip().lower()
    return not content_type or content_type == b"application/json" or (
        content_type.startswith(b"application/") and content_type.endswith(b"+json"))


def _refusal(body: bytes) -> str | None:
    """Why we refuse a body Python would parse as JSON; None to let the app judge it."""
    try:
        parsed = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
        json.dumps(parsed, ensure_ascii=False).encode()  # a lone surrogate cannot be UTF-8
    except NonFiniteNumber:
        return NON_FINITE
    except UnicodeEncodeError:
        return LONE_SURROGATE
    except RecursionError:
        return TOO_DEEP
    except ValueError:  # not JSON at all: FastAPI answers that itself
        return None
    return None


def _replay(messages: list, receive):
    async def replaying_receive():
        return messages.pop(0) if messages else await receive()
    return replaying_receive


async def _answer(send, status: int, content: dict) -> None:
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
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
