"""Daily collateral reports: each lender's book at its daily time (`reports.daily_at` in its
time zone), kept and announced once per lender and day, and on demand (today's as a preview
until the day's own is made; a past day's as it was made).

The report is kept with its notice queued in one transaction (`ReportStore.keep`): a restart,
or a second monitor process, finds the day's report kept and sends nothing again. The e-mail
copy (best effort, like every e-mail) goes out once, by the process that kept the report.
"""
from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from backend.domain import daily_report as dr
from backend.domain.inspections import Task
from backend.domain.notices import daily_report_notice
from backend.domain.observations import PriceTick
from backend.domain.registry import Registry
from backend.ports.alerts import AlertStore
from backend.ports.monitor import InspectionStore, StandingStore
from backend.ports.prices import PriceMarkStore
from backend.ports.reports import RenderedReport, ReportRenderer, ReportStore
from backend.ports.webhooks import Attachment, Notifier
from backend.services.background import WakeableLoop
from backend.services.monitor import HISTORY_EVERY_S
from backend.services.reports_config import ReportSettings

log = logging.getLogger("pledgewatch.reports")
REPORT_CHECK_S = 30.0  # how often the loop looks whether a lender's daily time has come
MAX_HISTORY_POINTS = 20_000  # a day of a loan's status history is ~1,440 points (one a minute, and each change)


class ReportNotFound(Exception):
    """No such report for this caller: another lender's, or a past day with none kept."""


class BadReportDate(ValueError):
    """Not a date, or a day that has not begun."""


class DailyReports:
    def __init__(self, *, registry: Callable[[], Registry], standings: StandingStore, alerts: AlertStore,
                 inspections: InspectionStore, tasks: Callable[[str], list[Task]], prices: PriceMarkStore,
                 store: ReportStore, renderer: ReportRenderer, settings: ReportSettings,
                 clock: Callable[[], float], notifier: Notifier | None = None) -> None:
        self.registry, self.standings, self.alerts, self.inspections = registry, standings, alerts, inspections
        self.tasks, self.prices, self.store, self.renderer = tasks, prices, store, renderer
        self.settings, self.clock, self.notifier = settings, clock, notifier
        self._kept: dict[str, str] = {}  # lender -> the last day known kept: no query each round

    def for_day(self, lender: str, day: str | None) -> RenderedReport:
        """The lender's report of `day` (default: today in its time zone): the one kept, else
        today's as it stands now. Raises ReportNotFound or BadReportDate."""
        if lender not in self.registry().lenders:
            raise ReportNotFound(f"no lender {lender!r}")
        now_s = self.clock()
        day = day or self._today(lender, now_s)
        from_s, to_s = self._day(lender, _parse(day))
        kept = self.store.get(lender, day)
        if kept is not None:
            return kept
        if now_s < from_s:
            raise BadReportDate(f"{day} has not begun in {self.settings.of(lender).timezone}")
        if now_s >= to_s:
            raise ReportNotFound(f"no daily report was kept for {day}: a past day's report is the one made "
                                 f"at {self.settings.daily_at} that day")
        return self._render(dr.Window(lender, day, from_s, to_s, now_s))

    def make_due(self) -> int:
        """Make, keep and announce each lender's report once its daily time has come today; how
        many. Cheap once a lender's day is kept (ReportLoop runs it every REPORT_CHECK_S)."""
        if not self.settings.daily:
            return 0
        now_s, made = self.clock(), 0
        for lender in sorted(self.registry().lenders):
            local = datetime.fromtimestamp(now_s, self._zone(lender))
            day = local.date().isoformat()
            if self._kept.get(lender) == day or local.hour * 3600 + local.minute * 60 < self.settings.daily_at_s():
                continue
            from_s, to_s = self._day(lender, local.date())
            if not self.store.is_kept(lender, day):
                made += self._keep(self._render(dr.Window(lender, day, from_s, to_s, now_s)))
            self._kept[lender] = day
        return made

    def _keep(self, report: RenderedReport) -> bool:
        notice = daily_report_notice(report.lender, report.date, report.generated_at_s, locale=report.locale,
                                     loans=report.loans, html_sha256=report.html_sha256,
                                     pdf_sha256=report.pdf_sha256)
        if not self.store.keep(report, notice):
            return False  # another process kept it first
        log.info("daily report of %s for %s kept and announced (%d loans, pdf sha256 %s)", report.lender,
                 report.date, report.loans, report.pdf_sha256, extra={"lender": report.lender, "date": report.date})
        self._email(report)
        return True

    def _email(self, report: RenderedReport) -> None:
        to = self.settings.of(report.lender).email_to
        if not (to and self.notifier):
            return
        name = f"pledgewatch-daily-{report.lender}-{report.date}.pdf"
        self.notifier.send(to, f"PledgeWatch daily collateral report: {report.lender}, {report.date}",
                           f"The daily collateral report of {report.lender} for {report.date} is attached "
                           f"({report.loans} loans).\nSHA-256 of the PDF: {report.pdf_sha256}\n",
                           attachments=[Attachment(name, "application/pdf", report.pdf)])

    def _render(self, window: dr.Window) -> RenderedReport:
        content = dr.daily_report(window, self._facts(window))
        entry = self.settings.of(window.lender)
        return RenderedReport(lender=window.lender, date=window.date, generated_at_s=window.as_of_s,
                              locale=entry.locale, loans=len(content.loans),
                              html=self.renderer.html(content, entry.locale, entry.timezone),
                              pdf=self.renderer.pdf(content, entry.locale, entry.timezone))

    def _facts(self, window: dr.Window) -> dr.DayFacts:
        registry = self.registry()
        loans = [loan for loan in registry.loans.values() if loan.lender_id == window.lender]
        commodities = {registry.lots[lot].commodity_id for loan in loans for lot in loan.lot_ids
                       if lot in registry.lots}
        since_s = window.from_s - 2 * HISTORY_EVERY_S  # the point before the day: the status it began with
        return dr.DayFacts(
            registry=registry, standings=self.standings.all(),
            statuses={loan.id: [(point.at_s, point.status) for point in self.standings.history(
                loan.id, since_s, window.to_s, MAX_HISTORY_POINTS)] for loan in loans},
            alerts=self.alerts.overlapping(window.lender, window.from_s, window.to_s),
            inspections=self.inspections.recorded_between(window.from_s, window.to_s),
            tasks=[dr.TaskLine(task.lot_id, task.loan_id, task.reasons, task.deadline_s, task.state)
                   for task in self.tasks(window.lender)],
            marks={commodity: mark for commodity in commodities
                   if (mark := self._mark_used(commodity, window.as_of_s)) is not None})

    def _mark_used(self, commodity: str, at_s: float) -> tuple[PriceTick, str] | None:
        """The newest mark quoted before `at_s`, with where it came from."""
        tick = self.prices.closes(commodity, [at_s])[0]
        if tick is None:
            return None
        same = self.prices.history(commodity, tick.at_s, tick.at_s + 0.001, 1)
        return tick, same[0][1] if same else ""

    def _today(self, lender: str, now_s: float) -> str:
        return datetime.fromtimestamp(now_s, self._zone(lender)).date().isoformat()

    def _day(self, lender: str, day: date) -> tuple[float, float]:
        """The day's start and end in the lender's time zone (23 or 25 hours on a DST change)."""
        zone = self._zone(lender)
        start = datetime.combine(day, time(0), zone)
        return start.timestamp(), datetime.combine(day + timedelta(days=1), time(0), zone).timestamp()

    def _zone(self, lender: str) -> ZoneInfo:
        return ZoneInfo(self.settings.of(lender).timezone)


class ReportLoop(WakeableLoop):
    """Makes the reports that are due on a thread of its own (a PDF takes a second: never in the
    monitor's way), first a period after start (the monitor has judged the book by then)."""

    def __init__(self, reports: DailyReports, every_s: float = REPORT_CHECK_S) -> None:
        super().__init__(name="daily-reports", every_s=every_s, wait_first=True)
        self.reports = reports

    def round(self) -> None:
        self.reports.make_due()


def _parse(day: str) -> date:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) and 1970 <= (parsed := date.fromisoformat(day)).year <= 9998:
            return parsed
    except ValueError:
        pass
    raise BadReportDate(f"date must be a day as YYYY-MM-DD between 1970 and 9998, got {day!r}")
