"""The dashboard's message catalogues (dashboards/web/static/js/locales): every language has
exactly English's keys and placeholders and translates them; every key the page's code names
exists; every alert type, severity, alert state and loan status the backend knows has a name.
No browser needed: the catalogues are JSON inside `export default …;`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
from browser_demo import LOCALES, catalogue

from backend.domain.alerts import ALERT_TYPES, AlertState, Severity
from backend.domain.ltv import LoanStatus

WEB = LOCALES.parents[2]
TRANSLATIONS = sorted(path.stem for path in LOCALES.glob("*.js") if path.stem != "en")
# Keys a translation may leave as English has them: formats with no words, an acronym.
SAME_AS_ENGLISH = {"page.view_title", "format.money", "format.quantity", "chart.line", "lots.column.rfid"}
# Alert types the dashboard names besides the domain's (raised outside backend/domain/alerts.py).
MORE_ALERT_TYPES = {"collateral_unverified"}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# a dotted lowercase string not compared with (event types such as "loan.status_changed")
KEY_LITERAL = re.compile(r"""(?<!=== )["']([a-z][a-z_]*(?:\.[a-z0-9_]+)+)["']""")
KEY_TEMPLATE = re.compile(r"`([a-z][a-z_]*(?:\.[a-z0-9_]+)*\.)\$\{")
STATIC_KEY = re.compile(r'data-i18n(?:-aria-label)?="([^"]+)"')


def page_code() -> dict[Path, str]:
    files = [*(WEB / "static" / "js").rglob("*.js"), WEB / "index.html"]
    return {path: path.read_text(encoding="utf-8") for path in files if path.parent != LOCALES}


def test_there_is_a_translation_and_the_page_loads_each_one():
    assert "zh-CN" in TRANSLATIONS
    i18n = (WEB / "static" / "js" / "i18n.js").read_text(encoding="utf-8")
    for language in TRANSLATIONS:
        assert f'"./locales/{language}.js"' in i18n, f"i18n.js does not import {language}"


@pytest.mark.parametrize("language", TRANSLATIONS)
def test_a_translation_has_exactly_the_english_keys(language):
    english, translated = catalogue("en"), catalogue(language)
    assert sorted(set(english) - set(translated)) == [], f"missing from {language}"
    assert sorted(set(translated) - set(english)) == [], f"in {language} but not in English"


@pytest.mark.parametrize("language", TRANSLATIONS)
def test_a_translation_keeps_every_placeholder_and_translates_every_text(language):
    english, translated = catalogue("en"), catalogue(language)
    for key, text in english.items():
        assert sorted(PLACEHOLDER.findall(translated[key])) == sorted(PLACEHOLDER.findall(text)), key
    untranslated = sorted(key for key, text in english.items() if translated[key] == text)
    assert untranslated == sorted(SAME_AS_ENGLISH), f"{language} leaves these as in English"


def test_every_key_the_code_names_is_in_the_english_catalogue():
    english = catalogue("en")
    groups = {key.split(".")[0] for key in english}
    named = 0
    for path, code in page_code().items():
        for key in [*KEY_LITERAL.findall(code), *STATIC_KEY.findall(code)]:
            if key.split(".")[0] in groups:
                named += 1
                assert key in english, f"{path.name} names {key!r}, which en.js lacks"
        for prefix in KEY_TEMPLATE.findall(code):
            assert any(key.startswith(prefix) for key in english), f"{path.name} builds keys {prefix}…, none in en.js"
    assert named > 150  # the scan found the page's keys (a changed call style would hide them)


@pytest.mark.parametrize("kind, names", [
    ("alert_type", {*ALERT_TYPES, *MORE_ALERT_TYPES}),
    ("severity", set(get_args(Severity))),
    ("alert_state", set(get_args(AlertState))),
    ("status", set(get_args(LoanStatus))),
])
def test_every_name_the_backend_sends_has_a_translation(kind, names):
    english = catalogue("en")
    assert sorted(name for name in names if f"{kind}.{name}" not in english) == []
    # Names not from the backend would be dead keys (and a typo would hide a missing one).
    assert sorted(key for key in english if key.startswith(f"{kind}.") and key.split(".", 1)[1] not in names) == []
