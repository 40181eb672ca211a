"""The daily report as HTML (string templates, every value escaped) and PDF (fpdf2, with
embedded TrueType fonts: DejaVu Sans for English, WenQuanYi Micro Hei for Chinese).

Both forms come from one table of cells (`_document`), so they say the same thing. Money is a
decimal string to the cent followed by its currency; dates and times are written the lender's
way (report_words.py) in its time zone.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Sequence
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.fonts import FontFace

from backend.adapters.report_words import duration, local_date, local_time, word
from backend.domain import daily_report as dr


@dataclass(frozen=True)
class _Section:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: str                                 # what an empty section says


@dataclass(frozen=True)
class _Document:
    title: str
    facts: tuple[tuple[str, str], ...]
    sections: tuple[_Section, ...]
    lang: str


class _Writer:
    """Cells in one locale and time zone."""

    def __init__(self, locale: str, zone: str) -> None:
        self.locale, self.zone = locale, ZoneInfo(zone)

    def w(self, key: str) -> str:
        return word(self.locale, key)

    def time(self, at_s: float | None) -> str:
        return "" if at_s is None else local_time(self.locale, datetime.fromtimestamp(at_s, self.zone))

    def money(self, amount: Decimal | None, currency: str) -> str:
        return "" if amount is None else f"{dr.cents(amount)} {currency}"

    def percent(self, ratio: Decimal | None) -> str:
        return "" if ratio is None else f"{(ratio * 100).quantize(Decimal('0.01'))} %"

    def status(self, status: str) -> str:
        return self.w(f"status.{status}")


def _document(report: dr.DailyReport, locale: str, zone: str) -> _Document:
    out, window = _Writer(locale, zone), report.window
    day = local_date(locale, datetime.fromtimestamp(window.from_s, out.zone))
    offset = datetime.fromtimestamp(window.as_of_s, out.zone).strftime("%z")
    facts = ((out.w("lender"), window.lender), (out.w("date"), f"{day} ({window.date})"),
             (out.w("as_of"), out.time(window.as_of_s)),
             (out.w("timezone"), f"{zone} (UTC{offset[:3]}:{offset[3:]})"),
             (out.w("loans_count"), str(len(report.loans))))
    sections = (_totals(report, out), _loans(report, out), _status_changes(report, out), _alerts(report, out),
                _inspections(report, out), _tasks(report, out), _gaps(report, out), _prices(report, out))
    return _Document(f"{out.w('title')} — {window.lender} — {window.date}", facts, sections, locale)


def _section(out: _Writer, key: str, columns: Sequence[str], rows: Sequence[tuple[str, ...]]) -> _Section:
    return _Section(out.w(key), tuple(out.w(f"col.{column}") for column in columns), tuple(rows), out.w("none"))


def _totals(report: dr.DailyReport, out: _Writer) -> _Section:
    return _section(out, "totals", ("currency", "loans", "outstanding", "market_value", "lending_value",
                                    "drawing_power"),
                    [(t.currency, str(t.loans), out.money(t.outstanding, t.currency),
                      out.money(t.market_value, t.currency), out.money(t.lending_value, t.currency),
                      out.money(t.drawing_power, t.currency)) for t in report.totals])


def _loans(report: dr.DailyReport, out: _Writer) -> _Section:
    def status(line: dr.LoanLine) -> str:
        flags = [out.w("closed")] * line.closed + [out.w("price_stale")] * line.price_stale
        return " · ".join([out.status(line.status), *flags])

    def cure(line: dr.LoanLine) -> str:
        if line.cure_amount is None and line.cure_deadline_s is None:
            return ""
        return f"{out.money(line.cure_amount, line.currency)} {out.time(line.cure_deadline_s)}".strip()
    return _section(out, "loans", ("loan", "borrower", "status", "outstanding", "market_value", "lending_value",
                                   "drawing_power", "ltv", "thresholds", "target", "cure"),
                    [(line.loan, line.borrower, status(line), out.money(line.outstanding, line.currency),
                      out.money(line.market_value, line.currency), out.money(line.lending_value, line.currency),
                      out.money(line.drawing_power, line.currency), out.percent(line.ltv),
                      " / ".join(out.percent(r) for r in (line.warning, line.margin_call, line.liquidation)),
                      out.percent(line.target_ltv), cure(line)) for line in report.loans])


def _status_changes(report: dr.DailyReport, out: _Writer) -> _Section:
    return _section(out, "status_changes", ("at", "loan", "before", "after"),
                    [(out.time(c.at_s), c.loan, out.status(c.before), out.status(c.after))
                     for c in report.status_changes])


def _alerts(report: dr.DailyReport, out: _Writer) -> _Section:
    def worked(by: str | None, at_s: float | None, note: str | None = None) -> str:
        if at_s is None:
            return ""
        return " ".join(part for part in (out.time(at_s), f"{out.w('by')} {by}" if by else "", note or "") if part)
    return _section(out, "alerts", ("opened", "type", "severity", "subject", "today", "status", "acknowledged",
                                    "resolved", "details"),
                    [(out.time(a.opened_at_s), out.w(f"alert_type.{a.type}"), out.w(f"severity.{a.severity}"),
                      " / ".join(part for part in (a.loan, a.lot) if part),
                      ", ".join(out.w(f"change.{change}") for change in a.changes), out.w(f"state.{a.state}"),
                      worked(a.acknowledged_by, a.acknowledged_at_s, a.note), worked(a.resolved_by, a.resolved_at_s),
                      "; ".join(f"{key}: {value}" for key, value in a.details)) for a in report.alerts])


def _inspections(report: dr.DailyReport, out: _Writer) -> _Section:
    return _section(out, "inspections", ("at", "lot", "loan", "items", "quantity", "note"),
                    [(out.time(i.at_s), i.lot, i.loan or "", str(i.items), str(i.quantity), i.note)
                     for i in report.inspections])


def _tasks(report: dr.DailyReport, out: _Writer) -> _Section:
    return _section(out, "tasks", ("lot", "loan", "reasons", "deadline", "status"),
                    [(t.lot, t.loan or "", ", ".join(out.w(f"alert_type.{r}") for r in t.reasons),
                      out.time(t.deadline_s), out.w(f"state.{t.state}")) for t in report.open_tasks])


def _gaps(report: dr.DailyReport, out: _Writer) -> _Section:
    return _section(out, "gaps", ("type", "lot", "gateway", "from", "to", "duration"),
                    [(out.w(f"alert_type.{g.type}"), g.lot or "", g.gateway or "", out.time(g.from_s),
                      out.w("ongoing") if g.ongoing else out.time(g.to_s), duration(out.locale, g.seconds))
                     for g in report.gaps])


def _prices(report: dr.DailyReport, out: _Writer) -> _Section:
    return _section(out, "prices", ("commodity", "price", "quoted_at", "source"),
                    [(p.commodity, f"{p.price} {p.currency} {out.w('per')} {p.per_unit}",
                      f"{out.time(p.at_s)}{' (' + out.w('stale') + ')' if p.stale else ''}", p.source)
                     for p in report.prices])


# -- HTML ------------------------------------------------------------------------------------

_STYLE = """body{font-family:"DejaVu Sans","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.85em}th,td{border:1px solid #bbb;padding:.25em .5em;
text-align:left;vertical-align:top}th{background:#eee}dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}
dt{font-weight:bold}"""


def render_html(report: dr.DailyReport, locale: str, zone: str) -> str:
    document = _document(report, locale, zone)
    e = html.escape
    facts = "".join(f"<dt>{e(name)}</dt><dd>{e(value)}</dd>" for name, value in document.facts)
    return (f'<!DOCTYPE html>\n<html lang="{e(document.lang)}"><head><meta charset="utf-8">'
            f"<title>{e(document.title)}</title><style>{_STYLE}</style></head>"
            f"<body><h1>{e(document.title)}</h1><dl>{facts}</dl>"
            f"{''.join(_html_section(section) for section in document.sections)}</body></html>\n")


def _html_section(section: _Section) -> str:
    e = html.escape
    if not section.rows:
        return f"<h2>{e(section.title)}</h2><p>{e(section.empty)}</p>"
    head = "".join(f"<th>{e(column)}</th>" for column in section.columns)
    body = "".join("<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in section.rows)
    return f"<h2>{e(section.title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# -- PDF -------------------------------------------------------------------------------------

class PdfFontMissing(Exception):
    """The TrueType font a locale's PDF needs is not installed."""


class ReportRenderer:
    """HTML and PDF of a report (port: backend.ports.reports.ReportRenderer). The Chinese PDF
    needs `cjk_font`; the English one uses `font` when installed, else the PDF's built-in
    Helvetica (Latin-1 only: other characters print as '?'). Either font that is installed
    stands in for the glyphs the other lacks (a Chinese note in an English report)."""

    def __init__(self, font: Path, cjk_font: Path) -> None:
        self.fonts = {"en": font, "zh-CN": cjk_font}

    def check(self, locale: str) -> None:
        """Raises PdfFontMissing when the locale cannot do without its font (checked at start)."""
        if locale == "zh-CN" and not self.fonts[locale].is_file():
            raise PdfFontMissing(f"{self.fonts[locale]} is not installed")

    def html(self, report: dr.DailyReport, locale: str, timezone: str) -> str:
        return render_html(report, locale, timezone)

    def pdf(self, report: dr.DailyReport, locale: str, timezone: str) -> bytes:
        self.check(locale)
        document = _document(report, locale, timezone)
        pdf = _Pdf(self._fonts_for(locale), report.window.as_of_s)
        pdf.set_title(document.title)
        pdf.paragraph(document.title, size=14, height=8)
        for name, value in document.facts:
            pdf.paragraph(f"{name}: {value}", size=9, height=5)
        for section in document.sections:
            pdf.section(section)
        return bytes(pdf.output())

    def _fonts_for(self, locale: str) -> list[Path]:
        """The installed fonts, the locale's first."""
        first, other = self.fonts[locale], self.fonts["zh-CN" if locale == "en" else "en"]
        return [font for font in (first, other) if font.is_file()]


class _Pdf(FPDF):
    """An A4 landscape page with our fonts embedded (subsets), dated by the report's moment."""

    def __init__(self, fonts: list[Path], made_at_s: float) -> None:
        super().__init__(orientation="landscape", format="A4")
        self.set_creation_date(datetime.fromtimestamp(made_at_s, timezone.utc))
        self.set_auto_page_break(True, margin=12)
        names = [f"font{n}" for n in range(len(fonts))]
        for name, font in zip(names, fonts):
            self.add_font(name, fname=str(font), **({"collection_font_number": 0} if font.suffix == ".ttc" else {}))
        self.latin1_only = not names
        self.set_font(names[0] if names else "helvetica", size=9)
        self.set_fallback_fonts(names[1:])
        self.add_page()

    def text_of(self, text: str) -> str:
        return text.encode("latin-1", "replace").decode("latin-1") if self.latin1_only else text

    def paragraph(self, text: str, *, size: float, height: float) -> None:
        self.set_font_size(size)
        self.multi_cell(0, height, self.text_of(text), new_x="LMARGIN", new_y="NEXT")

    def section(self, section: _Section) -> None:
        self.ln(3)
        self.paragraph(section.title, size=11, height=7)
        if not section.rows:
            self.paragraph(section.empty, size=7, height=5)
            return
        self.set_font_size(7)
        with self.table(headings_style=FontFace(fill_color=(235, 235, 235)), line_height=4) as table:
            for row in (section.columns, *section.rows):
                cells = table.row()
                for cell in row:
                    cells.cell(self.text_of(cell))
