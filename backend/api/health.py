from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Response

from backend.api.deps import Ctx
from backend.metrics import CONTENT_TYPE

router = APIRouter()


def _version() -> str:
    try:
        return version("pledgewatch")
    except PackageNotFoundError:
        return "dev"


@router.get("/api/v1/health", tags=["operations"])
def health(ctx: Ctx) -> dict:
    """Liveness and what this process does; no authentication. Answers from memory only: a
    probe anyone may call must not read the database (a count over the readings held the
    store's lock, so polling it slowed ingest)."""
    ingest = ctx.ingest
    return {"status": "ok", "version": _version(), "roles": list(ctx.settings.roles),
            "broker_connected": ingest.connected.is_set() if ingest else None,
            "readings_stored": ctx.metrics.readings_stored_total() if ingest else None}


@router.get("/metrics", tags=["operations"], response_class=Response)
def metrics(ctx: Ctx) -> Response:
    """Prometheus text format."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)
