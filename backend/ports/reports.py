"""Ports of the daily collateral report: where made reports are kept (and their notice queued)
and what turns a report's content into HTML and PDF."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from backend.domain.daily_report import DailyReport
from backend.domain.notices import BankNotice


@dataclass(frozen=True)
class RenderedReport:
    lender: str
    date: str                                  # YYYY-MM-DD in the lender's time zone
    generated_at_s: float                      # the moment its book figures are of
    locale: str
    loans: int
    html: str
    pdf: bytes
    kept: bool = False                         # the day's report as made and sent (else a preview)

    @property
    def html_sha256(self) -> str:
        return hashlib.sha256(self.html.encode()).hexdigest()

    @property
    def pdf_sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()


class ReportStore(Protocol):
    """The daily reports made, one per lender and day."""

    def get(self, lender: str, date: str) -> RenderedReport | None: ...

    def keep(self, report: RenderedReport, notice: BankNotice) -> bool:
        """Store the day's report and queue its notice, in one transaction; False (nothing
        written) when that lender's day already has one: a report is made and sent once."""

    def is_kept(self, lender: str, date: str) -> bool:
        """Whether the lender's report of `date` is kept (without loading it)."""


class ReportRenderer(Protocol):
    """A report's content as a document, dates and times in `timezone` and the words of `locale`."""

    def html(self, report: DailyReport, locale: str, timezone: str) -> str: ...

    def pdf(self, report: DailyReport, locale: str, timezone: str) -> bytes: ...
