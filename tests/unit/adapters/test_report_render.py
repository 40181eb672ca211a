"""The daily report speaks both locales fully, prints what people typed in either script, and a
missing PDF font stops the start by name (Chinese) or falls back to Helvetica (English)."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest

from backend.adapters.report_render import ReportRenderer
from backend.adapters.report_words import WORDS, duration, local_time
from backend.bootstrap import build_context
from backend.domain import daily_report as dr
from backend.domain.alerts import ALERT_TYPES
from backend.settings import BackendSettings
from edge.protocol.settings import ConfigError


def test_every_word_exists_in_english_and_chinese():
    assert set(WORDS["en"]) == set(WORDS["zh-CN"])
    for name in ALERT_TYPES:
        assert f"alert_type.{name}" in WORDS["zh-CN"]
    for status in ("normal", "warning", "margin_call", "liquidation", "default"):
        assert f"status.{status}" in WORDS["en"]


def test_dates_and_durations_the_readers_way():
    moment = datetime(2026, 3, 7, 18, 5, tzinfo=timezone.utc)
    assert local_time("en", moment) == "7 Mar 2026 18:05"
    assert local_time("zh-CN", moment) == "2026年3月7日 18:05"
    assert (duration("en", 3 * 3600 + 300), duration("zh-CN", 3 * 3600 + 300)) == ("3 h 05 min", "3小时05分")


def test_a_chinese_report_without_its_font_stops_the_start_naming_the_setting(tmp_path):
    settings = BackendSettings(data_dir=tmp_path, roles=["api"], demo_mode=True,
                               reports={"lenders": {"bank-north": {"locale": "zh-CN"}},
                                        "pdf_font_cjk": str(tmp_path / "missing.ttc")})
    with pytest.raises(ConfigError, match=r"reports\.pdf_font_cjk: .*missing\.ttc.*fonts-wqy-microhei"):
        build_context(settings)


def test_an_unknown_time_zone_is_refused_by_name():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        BackendSettings(reports={"defaults": {"timezone": "Mars/Olympus"}})


def a_count_noted(note: str) -> dr.DailyReport:
    window = dr.Window("bank-a", "2027-01-15", 1_800_000_000, 1_800_086_400, 1_800_043_200)
    count = dr.InspectionLine("lot-1", "loan-1", 1_800_000_600, 19, Decimal(19), note)
    return dr.DailyReport(window, (), (), (), (), (count,), (), (), ())


def text_of(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_an_english_pdf_prints_a_chinese_note_with_the_other_font():
    renderer = ReportRenderer(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
                              Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"))
    text = text_of(renderer.pdf(a_count_noted("少了一卷 — one coil short"), "en", "Asia/Shanghai"))
    assert "少了一卷 — one coil short" in text and "15 Jan 2027" in text


def test_without_any_font_an_english_pdf_makes_do_with_helvetica(tmp_path):
    renderer = ReportRenderer(tmp_path / "none.ttf", tmp_path / "none.ttc")
    text = text_of(renderer.pdf(a_count_noted("café 少了"), "en", "UTC"))
    assert "Daily collateral report" in text and "café ??" in text
