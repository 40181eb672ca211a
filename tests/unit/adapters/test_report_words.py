"""The daily report speaks both locales fully, and a missing PDF font stops the start by name."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from backend.adapters.report_words import WORDS, duration, local_time
from backend.bootstrap import build_context
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
