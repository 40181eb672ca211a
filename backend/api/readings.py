from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from backend.api.deps import Ctx, require_role
from backend.ports.ingest import ReadingQuery
from edge.protocol import READING_KINDS

router = APIRouter(prefix="/api/v1", tags=["readings"])

MAX_PAGE = 5000


class ReadingOut(BaseModel):
    id: int
    gateway: str
    sensor: str
    kind: str
    time: datetime
    time_ms: int
    quality: str
    values: dict[str, Any]
    historical: bool


class ReadingPage(BaseModel):
    readings: list[ReadingOut]
    next_after_id: int | None  # pass as after_id for the next page; null at the end


def _ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


@router.get("/readings", response_model=ReadingPage)
def list_readings(
    ctx: Ctx,
    caller=Depends(require_role("admin", "supervisor")),
    sensor: Annotated[list[str], Query(max_length=100)] = [],
    gateway: str | None = None,
    kind: Annotated[str | None, Query(pattern=f"^({'|'.join(READING_KINDS)})$")] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
    after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
) -> ReadingPage:
    """Stored readings, oldest first, paged by id. Times are ISO 8601 (UTC if no offset).

    Lender keys will see the readings of their own lots once the registry binds sensors
    to lots; until then readings are for admins and supervisors.
    """
    rows = ctx.readings.query(ReadingQuery(sensors=sensor, gateway=gateway, kind=kind,
                                           from_ms=_ms(from_), to_ms=_ms(to), after_id=after_id,
                                           limit=limit))
    out = [ReadingOut(id=r.id, gateway=r.gateway, sensor=r.sensor, kind=r.kind,
                      time=datetime.fromtimestamp(r.time_ms / 1000, timezone.utc),
                      time_ms=r.time_ms, quality=r.quality, values=dict(r.values),
                      historical=r.historical) for r in rows]
    return ReadingPage(readings=out, next_after_id=rows[-1].id if len(rows) == limit else None)
