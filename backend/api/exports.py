"""CSV exports for spreadsheets and a bank's own systems: the alerts, the loans and a lot's
readings the caller may see (a lender: its own), with the same values as the JSON routes."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from typing import Annotated, Any, Iterable, Literal, Sequence

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from backend.api import alerts, book, cases
from backend.api.deps import Ctx, principal
from backend.domain.alerts import ALERT_TYPES
from backend.ports.ingest import ReadingQuery
from backend.services import access
from backend.services.api_keys import Principal

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])
Caller = Annotated[Principal, Depends(principal)]
CSV = {200: {"content": {"text/csv": {}}, "description": "CSV with a header row (UTF-8, RFC 4180)"}}
MAX_ROWS = 100_000


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return str(value)


def _csv(columns: Sequence[str], rows: Iterable[dict[str, Any]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([_cell(row.get(column)) for column in columns] for row in rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/alerts.csv", responses=CSV, response_class=Response)
def alerts_csv(caller: Caller, ctx: Ctx, state: Literal["open", "acknowledged", "resolved"] | None = None,
               type: Annotated[str | None, Query(pattern=f"^({'|'.join(ALERT_TYPES)})$")] = None) -> Response:
    """The alerts the caller may see, newest first; `details` as JSON in one cell."""
    rows = alerts.alert_outs(ctx, ctx.inbox.find(caller, state=state, type_=type, limit=MAX_ROWS, offset=0))
    return _csv(list(alerts.AlertOut.model_fields), (row.model_dump() for row in rows), "alerts.csv")


@router.get("/cases.csv", responses=CSV, response_class=Response)
def cases_csv(caller: Caller, ctx: Ctx, outcome: cases.OutcomeKind | None = None) -> Response:
    """The closed cases the caller may see (a lender: its own), newest first; the loss as an exact
    decimal; alert ids and types, features and summary as JSON in one cell each."""
    rows = [cases.case_out(case) for case in ctx.cases.find(caller, outcome=outcome, limit=MAX_ROWS)]
    return _csv(list(cases.CaseOut.model_fields), (row.model_dump() for row in rows), "cases.csv")


@router.get("/loans.csv", responses=CSV, response_class=Response)
def loans_csv(caller: Caller, ctx: Ctx) -> Response:
    """The loans the caller may see with their standing: money as exact decimals, in `currency`."""
    rows, _ = book.loan_rows(caller, ctx)
    return _csv(list(book.LoanOut.model_fields), rows, "loans.csv")


@router.get("/lots/{lot_id}/readings.csv", responses=CSV, response_class=Response)
def lot_readings_csv(lot_id: str, caller: Caller, ctx: Ctx,
                     from_: Annotated[datetime | None, Query(alias="from")] = None,
                     to: datetime | None = None) -> Response:
    """A lot's readings (scale, reader, probe), oldest first; a lender: of its own lots. At most 100,000 rows:
    narrow the window for more."""
    registry = ctx.registry.snapshot()
    if not access.sees_lot(caller, registry, lot_id):
        raise HTTPException(404, f"no lot {lot_id!r}")
    lot = registry.lots[lot_id]
    sensors = [sensor for sensor in (lot.scale_id, lot.reader_id, lot.probe_id) if sensor]
    query = ReadingQuery(sensors=sensors, from_ms=_ms(from_), to_ms=_ms(to), limit=MAX_ROWS)
    rows = ({"time": datetime.fromtimestamp(r.time_ms / 1000, timezone.utc).isoformat(), "time_ms": r.time_ms,
             "sensor": r.sensor, "kind": r.kind, "quality": r.quality, "historical": r.historical,
             "weight_kg": r.values.get("weight_kg"), "temperature_c": r.values.get("temperature_c"),
             "tags": len(r.values["tags"]) if "tags" in r.values else None, "values": dict(r.values)}
            for r in ctx.readings.query(query))
    columns = ["time", "time_ms", "sensor", "kind", "quality", "historical", "weight_kg", "temperature_c", "tags",
               "values"]
    return _csv(columns, rows, f"{lot_id}-readings.csv")


def _ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp() * 1000)
