"""Daily reports kept as made, with their notice queued in the same transaction
(port: backend.ports.reports.ReportStore)."""
from __future__ import annotations

from sqlalchemy import Engine, and_, insert, select
from sqlalchemy.exc import IntegrityError

from backend.adapters.db import tables as t
from backend.adapters.webhook_store import enqueue_notices
from backend.domain.notices import BankNotice
from backend.ports.reports import RenderedReport

R = t.daily_reports


class SqlReports:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, lender: str, date: str) -> RenderedReport | None:
        with self.engine.connect() as db:
            row = db.execute(select(R).where(and_(R.c.lender_id == lender, R.c.report_date == date))).first()
        if row is None:
            return None
        return RenderedReport(lender=row.lender_id, date=row.report_date, generated_at_s=row.generated_at_s,
                              locale=row.locale, loans=row.loans, html=row.html, pdf=bytes(row.pdf), kept=True)

    def keep(self, report: RenderedReport, notice: BankNotice) -> bool:
        """The primary key (lender, date) makes a second keeping fail: nothing of it is written."""
        try:
            with self.engine.begin() as db:
                db.execute(insert(R).values(
                    lender_id=report.lender, report_date=report.date, generated_at_s=report.generated_at_s,
                    locale=report.locale, loans=report.loans, html=report.html, pdf=report.pdf,
                    pdf_sha256=report.pdf_sha256))
                enqueue_notices(db, [notice])
        except IntegrityError:
            return False
        return True

    def is_kept(self, lender: str, date: str) -> bool:
        with self.engine.connect() as db:
            return db.scalar(select(R.c.report_date).where(and_(R.c.lender_id == lender,
                                                                R.c.report_date == date))) is not None
