"""The error answers every route may give, documented once for the OpenAPI schema."""
from __future__ import annotations

from pydantic import BaseModel


class ErrorOut(BaseModel):
    detail: str  # one sentence saying what was wrong


def _error(description: str) -> dict:
    return {"model": ErrorOut, "description": description}


# 422 is FastAPI's own: the request does not fit the schema (a list of field errors).
# 400 is ours: it fits, but says something we refuse (one sentence).
ERROR_RESPONSES = {
    400: _error("well-formed, but refused: the detail says why"),
    401: _error("missing, unknown or revoked API key"),
    404: _error("not found, or not yours to see"),
    409: _error("conflicts with the current state (already pledged, already acknowledged, ...)"),
    413: _error("request body too large"),
    429: _error("too many requests or bad keys; see Retry-After"),
}
