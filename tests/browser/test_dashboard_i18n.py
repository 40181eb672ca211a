"""The dashboard in Simplified Chinese: every view with no missing key, no English left from the
catalogue, numbers and dates as zh-CN formats them; the choice survives a reload and a change
of language rewrites the page in place.
"""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from browser_demo import Demo, catalogue, wait_until

EN, ZH = catalogue("en"), catalogue("zh-CN")
SAME_AS_ENGLISH = {"page.view_title", "format.money", "format.quantity", "chart.line", "lots.column.rfid"}
SUPERVISOR_VIEWS = {  # route → the h1's key and params
    "overview": ("overview.title", {}), "loans": ("loans.title", {}),
    "loans/loan-river-1": ("loan.title", {"id": "loan-river-1"}), "warehouses": ("warehouses.title", {}),
    "warehouses/wh-ningbo": ("warehouse.title", {"id": "wh-ningbo"}),  # a probe: temperature chart
    "warehouses/wh-shanghai": ("warehouse.title", {"id": "wh-shanghai"}),  # no probe
    "alerts?state=all": ("alerts.title", {}), "prices": ("prices.title", {}), "releases": ("releases.title", {}),
}
LENDER_VIEWS = {  # bank-south: its lot-nb-1 is probed (the "shown to supervisors" note)
    "overview": ("overview.title", {}), "loans": ("loans.title", {}),
    "loans/loan-delta-1": ("loan.title", {"id": "loan-delta-1"}), "warehouses": ("warehouses.title", {}),
    "warehouses/wh-ningbo": ("warehouse.title", {"id": "wh-ningbo"}),
    "warehouses/wh-shanghai": ("warehouse.title", {"id": "wh-shanghai"}),
    "alerts?state=all": ("alerts.title", {}), "prices": ("prices.title", {}), "releases": ("releases.title", {}),
}
NAV = ["nav.overview", "nav.loans", "nav.warehouses", "nav.alerts", "nav.prices"]
# Every text a reader (or a screen reader) gets: visible text, labels, chart descriptions, options.
ALL_TEXT = """() => [document.title, document.body.innerText,
  ...[...document.querySelectorAll('[aria-label]')].map((e) => e.getAttribute('aria-label')),
  ...[...document.querySelectorAll('[data-label]')].map((e) => e.getAttribute('data-label')),
  ...[...document.querySelectorAll('svg title, svg desc, option')].map((e) => e.textContent)].join('\\n')"""


@pytest.fixture(scope="module")
def busy_demo(demo):
    """The demo with something in every view: both banks' alerts (refused double pledges, which stay
    open), gateways reporting (last seen) and probe readings (the temperature chart)."""
    for lot, loan in (("lot-sh-1", "loan-acme-2"), ("lot-sh-2", "loan-acme-1")):
        assert demo.post(f"/loans/{loan}/pledges", {"lot": lot}).status_code == 409
    for who in ("supervisor", "bank-south"):
        wait_until(lambda: demo.get("/alerts", who), 30, f"an alert {who} sees")
    wait_until(lambda: all(gateway["last_seen"] for gateway in demo.get("/gateways")), 60, "every gateway reporting")
    wait_until(lambda: demo.get("/readings", kind="temperature", limit=1)["readings"], 60, "a probe reading")
    return demo


def zh(key: str, **params) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(params[m.group(1)]), ZH[key])


def english_phrases() -> dict[str, re.Pattern]:
    """The words of each English text (between its placeholders) that zh-CN translates."""
    phrases = {}
    for key, text in EN.items():
        if key in SAME_AS_ENGLISH:
            continue
        for piece in re.split(r"\{\w+\}", text):
            piece = piece.strip(" .,;:()—–→“”%")
            if re.search(r"[A-Za-z]{2}", piece):
                phrases[piece] = re.compile(rf"(?<![\w-]){re.escape(piece)}(?![\w-])")
    return phrases


ENGLISH = english_phrases()


def zh_percent(ratio) -> str:
    return f"{float(ratio) * 100:,.1f}%"


def zh_money(amount, currency: str) -> str:
    return f"{round(float(amount)):,} {currency}"


def zh_date_time(iso: str) -> str:
    """As Intl.DateTimeFormat('zh-CN', {numeric date, 2-digit h23 clock}) in the local zone (the browser's)."""
    at = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()
    return f"{at.year}/{at.month}/{at.day} {at:%H:%M:%S}"


def choose(page, language: str) -> None:
    page.select_option("#language", language)
    page.wait_for_function("lang => document.documentElement.lang === lang", arg=language)


def go(session, route: str) -> None:
    session.go(route)
    session.page.wait_for_function("() => document.getElementById('view').dataset.language === 'zh-CN'")


def missing_keys(page) -> list[str]:
    return page.evaluate("window.pledgewatchMissingKeys")


def english_left(page) -> list[str]:
    text = page.evaluate(ALL_TEXT)
    return sorted(phrase for phrase, pattern in ENGLISH.items() if pattern.search(text))


def shown_loans(page) -> dict[str, tuple[str, str, str]]:
    return {row.get_attribute("data-loan"): tuple(
        row.locator(f"[data-field={field}]").inner_text() for field in ("status", "ltv", "collateral_value"))
        for row in page.locator("#loans-table tbody tr").all()}


def api_loans_zh(demo: Demo, who: str) -> dict[str, tuple[str, str, str]]:
    return {loan["id"]: (ZH[f"status.{loan['status']}"], zh_percent(loan["ltv"]),
                         zh_money(loan["collateral_value"], loan["currency"])) for loan in demo.get("/loans", who)}


@pytest.mark.parametrize("who, views", [("supervisor", SUPERVISOR_VIEWS), ("bank-south", LENDER_VIEWS)])
def test_zh_cn_renders_every_view_with_no_missing_key_and_no_english_left(open_session, busy_demo, who, views):
    demo = busy_demo
    session = open_session(who)
    page = session.page
    page.goto(f"{demo.base}/")
    choose(page, "zh-CN")  # on the sign-in form, before any toast could be written in English
    assert page.locator("#sign-in-title").inner_text() == ZH["sign_in.title"]
    assert english_left(page) == []
    session.sign_in()
    assert [page.locator(f"[data-i18n='{key}']").inner_text() for key in NAV] == [ZH[key] for key in NAV]
    dates = 0
    for route, (key, params) in views.items():
        go(session, route)
        assert page.locator("#view h1").inner_text() == zh(key, **params), route
        assert page.evaluate("document.title") == zh("page.view_title", view=zh(key, **params))
        assert missing_keys(page) == [], route
        assert english_left(page) == [], route
        for time in page.locator("#view time[datetime]").all():
            assert time.inner_text() == zh_date_time(time.get_attribute("datetime")), route
            dates += 1
        session.screenshot(f"zh-{who}-{route.replace('/', '-').replace('?', '-')}")
    assert dates > 0  # the alerts' opening times at least
    if who == "supervisor":  # the probed warehouse showed its chart, not "no data"
        go(session, "warehouses/wh-ningbo")
        page.locator("[data-temperature=lot-nb-1] .uplot-host").wait_for()
        assert english_left(page) == []

    go(session, "loans")  # prices tick while we look: wait for the page and the API to agree
    wait_until(lambda: shown_loans(page) == api_loans_zh(demo, who), 30, "the loans table to match /loans in zh-CN")
    assert missing_keys(page) == []


def test_the_language_changes_in_place_and_survives_a_reload(open_session):
    session = open_session("supervisor", locale="en-US")
    session.sign_in("loans/loan-acme-1")
    page = session.page
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("#view h1").inner_text() == "Loan loan-acme-1"
    page.evaluate("window.notReloaded = true")

    choose(page, "zh-CN")
    page.wait_for_function("() => document.getElementById('view').dataset.language === 'zh-CN'")
    assert page.locator("#view h1").inner_text() == zh("loan.title", id="loan-acme-1")
    assert page.locator("#live-state").inner_text() in {ZH["live.live"], ZH["live.connecting"], ZH["live.reconnecting"]}
    assert page.locator("figure", has_text=zh("loan.chart.ltv", span=ZH["range.last_hours"].replace("{count}", "6"))).count() == 1
    assert page.evaluate("window.notReloaded") is True
    assert missing_keys(page) == []

    page.reload()
    page.wait_for_function("() => document.getElementById('view').dataset.shown === '#/loans/loan-acme-1'")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.locator("#language").input_value() == "zh-CN"
    assert page.locator("#view h1").inner_text() == zh("loan.title", id="loan-acme-1")
    assert english_left(page) == []

    choose(page, "en")
    page.wait_for_function("() => document.getElementById('view').dataset.language === 'en'")
    assert page.locator("#view h1").inner_text() == "Loan loan-acme-1"
    assert page.locator("[data-i18n='nav.loans']").inner_text() == "Loans"


@pytest.mark.parametrize("locale, language, title", [("zh-CN", "zh-CN", ZH["sign_in.title"]),
                                                     ("zh-TW", "zh-CN", ZH["sign_in.title"]),
                                                     ("en-GB", "en", "Sign in")])
def test_until_one_is_chosen_the_language_follows_the_browser(open_session, demo, locale, language, title):
    page = open_session("supervisor", locale=locale).page
    page.goto(f"{demo.base}/")
    page.wait_for_function("lang => document.documentElement.lang === lang", arg=language)
    assert page.locator("#sign-in-title").inner_text() == title
    assert page.locator("#language").input_value() == language


def test_a_key_a_translation_lacks_is_recorded_and_shown_in_english(open_session):
    session = open_session("supervisor", locale="zh-CN")
    session.sign_in("alerts")
    page = session.page
    page.wait_for_function("() => document.getElementById('view').dataset.language === 'zh-CN'")
    page.evaluate("""async () => {
        const catalogue = (await import('/static/js/locales/zh-CN.js')).default;
        delete catalogue['nav.loans'];
        delete catalogue['alerts.title'];
        (await import('/static/js/i18n.js')).setLanguage('zh-CN');
    }""")
    page.wait_for_function("() => document.querySelector('#view h1').textContent === 'Alerts'")
    assert page.locator("[data-i18n='nav.loans']").inner_text() == "Loans"
    assert sorted(missing_keys(page)) == ["alerts.title", "nav.loans"]
    assert page.locator("[data-i18n='nav.prices']").inner_text() == ZH["nav.prices"]
    # A name newer than the catalogue (an alert type added later) reads as words, not as a missing key.
    assert page.evaluate("async () => (await import('/static/js/i18n.js')).term('alert_type', 'brand_new_type')") \
        == "brand new type"
    assert page.evaluate("async () => (await import('/static/js/i18n.js')).term('alert_type', 'sensor_fault')") \
        == ZH["alert_type.sensor_fault"]
    assert sorted(missing_keys(page)) == ["alerts.title", "nav.loans"]


def test_the_alert_dialog_and_toasts_speak_chinese(open_session, busy_demo):
    session = open_session("supervisor", locale="zh-CN")
    session.sign_in("alerts")
    page = session.page
    row = page.locator("#alerts-table tr[data-type=double_pledge_attempt]").first
    alert_id = row.get_attribute("id").removeprefix("alert-")
    page.click(f"#ack-{alert_id}")
    page.locator("#alert-dialog[open]").wait_for()
    assert page.locator("#alert-dialog-title").inner_text() == zh(
        "dialog.acknowledge_title", type=ZH["alert_type.double_pledge_attempt"])
    assert page.locator("#alert-dialog-confirm").inner_text() == ZH["dialog.acknowledge"]
    assert english_left(page) == []  # the open dialog included
    page.fill("#alert-note", "已联系借款人")
    page.click("#alert-dialog-confirm")
    page.locator("#toasts .toast", has_text=ZH["toast.acknowledged"]).wait_for()

    # A new alert while the page is open: its toast is in Chinese too.
    assert busy_demo.post("/loans/loan-acme-1/pledges", {"lot": "lot-qd-1"}).status_code == 409
    toast = page.locator("#toasts .toast", has_text=zh("toast.new_alert", alert=ZH["alert_type.double_pledge_attempt"]))
    toast.first.wait_for(timeout=30_000)
    assert english_left(page) == []
    assert missing_keys(page) == []


def test_zh_cn_fits_a_phone(open_session):
    session = open_session("supervisor", {"width": 390, "height": 844}, locale="zh-CN")
    session.sign_in()
    page = session.page
    for route in ("overview", "loans/loan-acme-1", "warehouses/wh-ningbo", "alerts?state=all"):
        session.go(route)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{route} overflows"
        session.screenshot(f"zh-phone-{route.replace('/', '-').replace('?', '-')}")


def test_a_refused_key_is_told_in_the_chosen_language_and_rewritten_on_a_change(open_session, demo):
    session = open_session("supervisor", locale="zh-CN")
    page = session.page
    page.goto(f"{demo.base}/")
    page.fill("#api-key", "not-a-key")
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_function("text => document.getElementById('sign-in-error').textContent === text",
                           arg=ZH["sign_in.not_accepted"])
    choose(page, "en")
    assert page.locator("#sign-in-error").inner_text() == "This key was not accepted."
    assert page.locator("#sign-in-form button[type=submit]").inner_text() == "Sign in"
    # The refused request is the browser's one expected console error here.
    assert session.console_errors == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
    session.console_errors.clear()
