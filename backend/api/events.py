"""GET /api/v1/events: Server-Sent Events of alert and loan changes, filtered per caller.

Authentication is the same `Authorization: Bearer` header as every other route: the
dashboard reads the stream with fetch() (which can send headers) instead of EventSource
(which cannot), so an API key never travels in a URL, where logs and history keep it.
"""
from __future__ import annotations

import json
from typing import Annotated, AsyncIterator, Callable

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from backend.api.deps import Ctx, principal
from backend.ports.feed import BusEvent
from backend.services.api_keys import Principal
from backend.services.events import END, EventBus, visible_to

router = APIRouter(prefix="/api/v1", tags=["events"])
KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing a quiet stream
RETRY_MS = 3000


def sse_frame(event: BusEvent) -> str:
    return f"event: {event.type}\ndata: {json.dumps(dict(event.data), default=str)}\n\n"


async def _frames(bus: EventBus, accepts: Callable[[BusEvent], bool]) -> AsyncIterator[str]:
    subscription = bus.subscribe(accepts)
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        while (item := await subscription.next(KEEPALIVE_S)) is not END:
            yield ": keepalive\n\n" if item is None else sse_frame(item)
    finally:
        bus.unsubscribe(subscription)


@router.get("/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def events(caller: Annotated[Principal, Depends(principal)], ctx: Ctx) -> StreamingResponse:
    """Events `alert.opened|acknowledged|resolved` and `loan.status_changed|updated`, each
    with a JSON `data` line. A lender receives only those about its own loans and alerts.
    A client that reconnects should reload its view: events are not replayed."""
    return StreamingResponse(_frames(ctx.events, visible_to(caller)), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
