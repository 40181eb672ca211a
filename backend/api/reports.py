"""Daily collateral reports over HTTP: a lender fetches its own (the link its webhook carries),
staff any lender's. HTML or PDF; the ETag is the document's SHA-256, as the webhook says."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from backend.api.deps import Ctx, principal
from backend.services import access
from backend.services.api_keys import Principal
from backend.services.reports import BadReportDate, ReportNotFound

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
Caller = Annotated[Principal, Depends(principal)]
DOCUMENT = {200: {"content": {"text/html": {}, "application/pdf": {}},
                  "description": "the report; `ETag` is its SHA-256, `X-Report` says `kept` (the day's own, as "
                                 "sent) or `preview` (today's as it stands, before the daily time)"}}
# A report shows names others typed (borrowers, notes): nothing in it may run or load.
HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


@router.get("/daily", responses=DOCUMENT, response_class=Response)
def daily_report(caller: Caller, ctx: Ctx,
                 date: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$",
                                                   description="YYYY-MM-DD in the lender's time zone; "
                                                               "default: its today")] = None,
                 format: Literal["html", "pdf"] = "html",
                 lender: Annotated[str | None, Query(description="staff: whose report; a lender: its own "
                                                                 "(may be omitted)")] = None) -> Response:
    """A lender's daily collateral report: its loans' outstanding, market and lending value, LTV
    against thresholds, drawing power, the day's status changes, alerts, inspections, monitoring
    gaps and the price marks used (docs/reports.md)."""
    whose = _whose(caller, lender)
    try:
        report = ctx.reports.for_day(whose, date)
    except ReportNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except BadReportDate as exc:
        raise HTTPException(400, str(exc)) from exc
    headers = {"X-Report": "kept" if report.kept else "preview", "Cache-Control": "no-store"}
    if format == "pdf":
        name = f"pledgewatch-daily-{report.lender}-{report.date}.pdf"
        return Response(report.pdf, media_type="application/pdf",
                        headers={**headers, "ETag": f'"{report.pdf_sha256}"',
                                 "Content-Disposition": f'attachment; filename="{name}"'})
    return Response(report.html, media_type="text/html; charset=utf-8",
                    headers={**headers, "ETag": f'"{report.html_sha256}"', "Content-Security-Policy": HTML_POLICY})


def _whose(caller: Principal, lender: str | None) -> str:
    """A lender's own report (another's: 404, never 403); staff name the lender."""
    if access.is_staff(caller):
        if lender is None:
            raise HTTPException(400, "lender: name the lender whose report you want")
        return lender
    if caller.role != "lender" or caller.lender is None or lender not in (None, caller.lender):
        raise HTTPException(404, "no such report")
    return caller.lender
