"""The supervisor dashboard in headless Chromium against a running demo.

Tests run in file order on one demo; the last one moves the steel price, so it stays last.
"""
from __future__ import annotations

import re
import time

import httpx
import pytest
from browser_demo import Demo, wait_until

TABLET = {"width": 768, "height": 1024}
PHONE = {"width": 390, "height": 844}
VIEWS = ["overview", "loans", "loans/loan-river-1", "warehouses", "warehouses/wh-ningbo", "warehouses/wh-shanghai",
         "alerts", "inspections", "prices"]
LENDER_VIEWS = ["overview", "loans", "loans/loan-acme-1", "warehouses", "warehouses/wh-shanghai", "alerts",
                "inspections", "prices"]
BORROWER_VIEWS = ["overview", "loans", "loans/loan-acme-1", "warehouses", "warehouses/wh-shanghai", "releases",
                  "prices"]
WAREHOUSE_VIEWS = ["warehouses", "warehouses/wh-qingdao", "releases"]
# The nav each role is shown: the views it has something in (docs/dashboard.md).
EVERY_NAV = ["overview", "loans", "warehouses", "alerts", "inspections", "releases", "prices", "risk"]
NAV = {"acme-steel": ["overview", "loans", "warehouses", "releases", "prices"], "wh-qingdao": ["warehouses", "releases"]}
# The buttons they are shown: what the API lets them do (ask for a release; acknowledge an order; print one).
ACTIONS = {"acme-steel": re.compile(r"release-submit|print-.+"), "wh-qingdao": re.compile(r"acknowledge-.+|print-.+")}
# Words a page shows only when code printed a value meant as a condition.
LEAKED_VALUE = re.compile(r"\b(false|true|null|undefined|NaN|\[object Object\])(?![\w-])")


def percent(ratio) -> str:
    """As the page formats a ratio (format.js: one decimal, en-US)."""
    return f"{float(ratio) * 100:,.1f} %"


def money(amount, currency: str) -> str:
    return f"{round(float(amount)):,} {currency}"


def online_of(gateways) -> str:
    return f"{sum(g['online'] for g in gateways)} / {len(gateways)}"


def shown_loans(page) -> dict[str, dict[str, str]]:
    return {row.get_attribute("data-loan"): {
        field: row.locator(f"[data-field={field}]").inner_text() for field in ("status", "ltv", "collateral_value")}
        for row in page.locator("#loans-table tbody tr").all()}


def shown_loan(page) -> tuple[str, str]:
    return (page.locator("dl [data-field=ltv]").inner_text(), page.locator("dl [data-field=collateral_value]").inner_text())


def api_loans(demo: Demo, who: str) -> dict[str, dict[str, str]]:
    return {loan["id"]: {"status": loan["status"].replace("_", " "), "ltv": percent(loan["ltv"]),
                         "collateral_value": money(loan["collateral_value"], loan["currency"])}
            for loan in demo.get("/loans", who)}


def linked_views(page) -> set[str]:
    """The views the links on the page lead to (#/loans/loan-1?range=… → loans)."""
    hrefs = page.locator("#view a[href^='#/']").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    return {re.split(r"[/?]", href[2:])[0] for href in hrefs}


@pytest.mark.parametrize("who, views", [("supervisor", VIEWS), ("bank-north", LENDER_VIEWS),
                                        ("acme-steel", BORROWER_VIEWS), ("wh-qingdao", WAREHOUSE_VIEWS)])
def test_every_view_loads_without_console_errors_or_leaked_values(open_session, who, views):
    """Every view of the role's nav, and only those; no call it is refused (a 403 or 404 is a
    console error), no action or link it could not follow."""
    session = open_session(who)
    session.sign_in()
    nav = NAV.get(who, EVERY_NAV)
    assert [link.get_attribute("href") for link in session.page.locator("#nav a:visible").all()] == \
        [f"#/{name}" for name in nav]
    for route in views:
        session.go(route)
        assert session.page.locator("#view h1").is_visible()
        assert "Could not load" not in session.page.locator("#view h1").inner_text()
        assert LEAKED_VALUE.findall(session.page.locator("#view").inner_text()) == [], route
        assert linked_views(session.page) <= set(nav), route
        buttons = session.page.locator("#view button:visible").evaluate_all("buttons => buttons.map(b => b.id)")
        assert who not in ACTIONS or all(ACTIONS[who].fullmatch(button) for button in buttons), (route, buttons)
        session.screenshot(f"view-{who}-{route.replace('/', '-')}")
    if nav != EVERY_NAV:  # another view's address opens the role's first
        session.page.evaluate("location.hash = '#/risk'")
        session.page.wait_for_function("home => document.getElementById('view').dataset.shown === home",
                                       arg=f"#/{nav[0]}")
    assert session.page.locator("#toasts .toast").count() == 0
    assert session.page.evaluate("sessionStorage.getItem('pledgewatch.apiKey')") == session.demo.key(who)


def test_the_numbers_shown_match_the_api(open_session, demo):
    session = open_session("admin")
    session.sign_in()
    page = session.page
    wait_until(lambda: shown_loans(page) == api_loans(demo, "admin"), 30, "the loans table to match /loans")
    assert page.locator("#tile-loans .tile-value").inner_text() == str(len(demo.get("/loans")))
    # The tile follows gateways as they report (gateway.status_changed), without a reload.
    wait_until(lambda: page.locator("#tile-gateways .tile-value").inner_text() == online_of(demo.get("/gateways"))
               == "3 / 3", 30, "the gateway tile to show all three demo gateways online")

    # Prices tick while we look: wait for the page and the API to agree rather than read each once.
    session.go("loans/loan-acme-1")
    loan = wait_until(lambda: (loan := demo.get("/loans/loan-acme-1")) and shown_loan(page) == (
        percent(loan["ltv"]), money(loan["collateral_value"], "CNY")) and loan, 30, "loan-acme-1's page to match the API")
    thresholds = page.locator("figure", has_text="LTV against its thresholds").locator(".reference").all_text_contents()
    assert thresholds == [f"target {percent(loan['target_ltv'])}", f"warning {percent(loan['thresholds']['warning'])}",
                          f"margin call {percent(loan['thresholds']['margin_call'])}",
                          f"liquidation {percent(loan['thresholds']['liquidation'])}"]

    session.go("warehouses/wh-ningbo")
    row = page.locator("tr[data-lot=lot-nb-1]")
    wait_until(lambda: (lot := demo.get("/lots/lot-nb-1")) and (
        row.locator("[data-field=pledged]").inner_text(), row.locator("[data-field=observed]").inner_text()) == (
        f"{float(lot['pledged_quantity']):,.1f} t", f"{float(lot['observed_quantity']):,.1f} t"),
        30, "lot-nb-1's row to match the API")
    limit = page.locator("[data-temperature=lot-nb-1] .reference").first.text_content()
    assert limit == "limit -18 °C"  # frozen_shrimp's temperature_max_c in the demo book


def test_a_lender_sees_only_its_own_loans(open_session, demo):
    session = open_session("bank-north")
    session.sign_in()
    page = session.page
    mine = {loan["id"] for loan in demo.get("/loans") if loan["lender"] == "bank-north"}
    wait_until(lambda: set(shown_loans(page)) == mine, 30, "bank-north's loans")
    assert mine == {"loan-acme-1", "loan-river-1"}
    assert page.locator("#tile-gateways").count() == 0
    session.go("warehouses")
    assert {s.get_attribute("data-warehouse") for s in page.locator("[data-warehouse]").all()} == {"wh-shanghai", "wh-qingdao"}
    assert {r.get_attribute("data-lot") for r in page.locator("tr[data-lot]").all()} == {"lot-sh-1", "lot-qd-1", "lot-qd-2"}


def test_a_new_alert_appears_without_reload_and_is_acknowledged_from_the_page(open_session, demo):
    supervisor, north, south = open_session("supervisor"), open_session("bank-north"), open_session("bank-south")
    for session in (supervisor, north, south):
        session.sign_in("alerts")
        session.page.evaluate("window.notReloaded = true")

    refused = demo.post("/loans/loan-acme-2/pledges", {"lot": "lot-sh-1"})
    assert refused.status_code == 409, refused.text
    started = time.monotonic()
    row = supervisor.page.locator("#alerts-table tr[data-type=double_pledge_attempt]")
    row.wait_for(timeout=30_000)
    print(f"alert on the page {time.monotonic() - started:.1f}s after the refused pledge")
    # Before waiting on the others: a toast stays 8 s.
    assert supervisor.page.locator("#toasts .toast", has_text="New alert: double pledge attempt").count() == 1
    north.page.locator("#alerts-table tr[data-type=double_pledge_attempt]").wait_for(timeout=30_000)
    assert supervisor.page.evaluate("window.notReloaded") is True

    alert_id = row.get_attribute("id").removeprefix("alert-")
    supervisor.page.click(f"#ack-{alert_id}")
    supervisor.page.fill("#alert-note", "Called acme-steel; lot-sh-1 stays with bank-north")
    supervisor.page.click("#alert-dialog-confirm")
    stored = wait_until(lambda: next((a for a in demo.get("/alerts", state="acknowledged") if a["id"] == alert_id), None),
                        30, "the acknowledgement")
    assert stored["acknowledged_by"] == "demo-supervisor"
    assert stored["ack_note"] == "Called acme-steel; lot-sh-1 stays with bank-north"
    supervisor.page.locator(f"#alert-{alert_id}").wait_for(state="detached")  # gone from the open inbox
    north.page.locator(f"#alert-{alert_id}").wait_for(state="detached")  # live on the lender's page too

    south.page.wait_for_timeout(500)
    assert south.page.locator("#alerts-table tr[data-type=double_pledge_attempt]").count() == 0
    assert south.page.evaluate("document.getElementById('open-alert-count').textContent") == ""


def test_tablet_width_and_keyboard(open_session):
    session = open_session("supervisor", TABLET)
    session.sign_in()
    page = session.page
    for route in ("overview", "loans/loan-acme-1", "alerts"):
        session.go(route)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{route} overflows"
        session.screenshot(f"tablet-{route.replace('/', '-')}")
    session.go("overview")
    page.reload()  # a fresh load signs in again from this tab's session storage
    page.wait_for_function("() => document.getElementById('view').dataset.shown === '#/overview'")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Overview"
    for _ in range(3):
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").startswith("Alerts")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('view').dataset.shown === '#/alerts'")
    assert page.evaluate("document.activeElement.tagName") == "H1"


def test_the_api_reference_renders_offline_with_every_operation_and_the_bearer_scheme(open_session, demo):
    session = open_session("admin")
    outside: list[str] = []

    def only_the_demo(route):
        if route.request.url.startswith(demo.base):
            return route.continue_()
        outside.append(route.request.url)
        return route.abort()

    session.context.route("**/*", only_the_demo)
    page = session.page
    page.goto(f"{demo.base}/docs")
    page.locator(".opblock").first.wait_for()
    openapi = httpx.get(f"{demo.base}/openapi.json", timeout=10).json()
    paths = openapi["paths"]
    shown = {(block.locator(".opblock-summary-method").inner_text().lower(),
              block.locator(".opblock-summary-path").get_attribute("data-path"))
             for block in page.locator(".opblock").all()}
    webhooks = {(method, name) for name, methods in openapi["webhooks"].items() for method in methods}
    assert shown == {(method, path) for path, methods in paths.items() for method in methods} | webhooks
    assert page.locator("button.authorize").is_visible()
    assert outside == []


def x_scale(page, figure_text: str) -> tuple[float, float]:
    return tuple(page.locator("figure", has_text=figure_text).first.evaluate(
        "figure => [figure.uplot.scales.x.min, figure.uplot.scales.x.max]"))


def test_charts_show_values_under_the_cursor_zoom_and_follow_the_range_picker(open_session):
    session = open_session("supervisor")
    session.sign_in("loans/loan-acme-1")
    page = session.page
    low, high = x_scale(page, "LTV against its thresholds, last 6 hours")
    assert high - low >= 6 * 3600 - 60  # the window the title names, not just the data's span
    plot = page.locator("figure", has_text="LTV against its thresholds").locator(".u-over")
    legend = page.locator("figure", has_text="LTV against its thresholds").locator(".u-legend")

    box = wait_until(plot.bounding_box, 10, "the chart on screen")
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] / 2)  # the newest values
    wait_until(lambda: re.search(r"\d+\.\d %", legend.inner_text()), 10, "the LTV under the cursor")
    # A live update rebuilds the chart under the resting pointer: its values stay in the legend.
    page.locator("figure", has_text="LTV against its thresholds").evaluate("figure => { figure.dataset.seen = 'yes'; }")
    wait_until(lambda: page.locator("figure[data-seen]").count() == 0, 60, "a live update to rebuild the chart")
    wait_until(lambda: re.search(r"\d+\.\d %", legend.inner_text()), 10, "the LTV under the cursor, rebuilt")

    zoomed = lambda: (span := x_scale(page, "LTV against its thresholds"))[1] - span[0] < (high - low) * 0.6  # noqa: E731
    for _ in range(3):  # a live update that rebuilds the chart in mid-drag swallows the drag: drag again
        box = wait_until(plot.bounding_box, 10, "the chart on screen")
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 20)  # drag across the newer half: zoom in
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] - 3, box["y"] + 20, steps=5)
        page.mouse.up()
        try:  # a zoom made is kept across rebuilds
            wait_until(zoomed, 10, "the chart to zoom into the dragged half")
            break
        except AssertionError:
            continue
    assert zoomed(), "three drags across the newer half did not zoom the chart"
    plot.dblclick()
    wait_until(lambda: (span := x_scale(page, "LTV against its thresholds"))[1] - span[0] >= 6 * 3600 - 60,
               10, "a double click to show the whole window again")

    page.select_option("select[name=range]", str(24 * 3600))
    page.wait_for_function("() => location.hash.includes('range=86400') && document.getElementById('view').dataset.shown === location.hash")
    low, high = x_scale(page, "LTV against its thresholds, last 24 hours")
    assert high - low >= 24 * 3600 - 60


def test_at_phone_width_every_alert_action_is_within_reach(open_session, demo):
    # A refused pledge: a double_pledge_attempt stays open or acknowledged until a person resolves it.
    assert demo.post("/loans/loan-acme-2/pledges", {"lot": "lot-sh-1"}).status_code == 409
    session = open_session("supervisor", PHONE)
    session.sign_in("alerts?state=all")
    page = session.page
    page.locator("#alerts-table td.actions button").first.wait_for()
    # Measured in one go: a live refresh may redraw the table between two steps of a loop.
    boxes = page.evaluate("""() => [...document.querySelectorAll('#alerts-table td.actions button')]
        .map((b) => { const r = b.getBoundingClientRect(); return [b.id, r.left, r.right, r.width]; })""")
    assert boxes
    for button_id, left, right, width in boxes:
        assert width > 0 and 0 <= left and right <= PHONE["width"], button_id
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    session.screenshot("phone-alerts")


def task_state(page, lot: str) -> str | None:
    row = page.locator(f"#inspections-table tr#task-{lot}")
    return row.get_attribute("data-state") if row.count() else None


def test_a_supervisor_records_a_count_that_closes_the_task_the_lender_sees(open_session, demo):
    # A refused pledge: a critical alert on lot-sh-1, so the lot is due for a physical count.
    assert demo.post("/loans/loan-acme-2/pledges", {"lot": "lot-sh-1"}).status_code == 409
    supervisor, north, south = open_session("supervisor"), open_session("bank-north"), open_session("bank-south")
    for session in (supervisor, north, south):
        session.sign_in("inspections")
    wait_until(lambda: task_state(supervisor.page, "lot-sh-1") == "open", 30, "lot-sh-1's task on the page")
    wait_until(lambda: task_state(north.page, "lot-sh-1") == "open", 30, "lot-sh-1's task on the lender's page")
    assert north.page.locator("#count-form").count() == 0 and north.page.locator("#count-lot-sh-1").count() == 0
    assert task_state(south.page, "lot-sh-1") is None  # not bank-south's collateral

    lot = demo.get("/lots/lot-sh-1")
    supervisor.page.click("#count-lot-sh-1")
    supervisor.page.wait_for_function("() => document.getElementById('count-lot').value === 'lot-sh-1'")
    supervisor.page.fill("#count-items", str(lot["pledged_items"]))
    supervisor.page.fill("#count-quantity", str(lot["pledged_quantity"]))
    supervisor.page.fill("#count-note", "all coils on the floor, tags read by hand")
    supervisor.page.click("#count-submit")
    supervisor.page.locator("#toasts .toast", has_text="Count of lot-sh-1 recorded.").wait_for()
    wait_until(lambda: task_state(supervisor.page, "lot-sh-1") == "done", 30, "the task to show done")
    [task] = [t for t in demo.get("/inspections", "bank-north") if t["lot"] == "lot-sh-1"]
    assert task["state"] == "done"
    # The lender's page follows at the monitor's next tick (inspection.recorded), without a reload.
    wait_until(lambda: task_state(north.page, "lot-sh-1") == "done", 60, "the lender's page to show the task done")
    assert supervisor.page.locator("#count-items").input_value() == ""  # the form is ready for the next


def test_a_render_that_loses_to_a_newer_one_leaves_the_form_being_filled_in(open_session):
    """Renders overlap (a navigation, a live refresh); the one that loses is discarded and must not
    carry the form being filled in, or its chosen lot, off the page with it."""
    session = open_session("supervisor")
    session.sign_in("inspections")
    page = session.page
    page.fill("#count-note", "half a count, typed before the refresh")
    held: list = []
    page.route("**/api/v1/inspections", lambda route: held.append(route) if not held else route.continue_())
    page.evaluate("location.hash = '#/inspections?lot=lot-qd-1'")  # this render's tasks are held back
    wait_until(lambda: held or page.wait_for_timeout(20), 30, "the first render's request")
    session.go("inspections?lot=lot-qd-2")  # a newer render, shown while the first still waits
    assert page.locator("#count-lot").input_value() == "lot-qd-2"
    page.evaluate("""() => { window.discarded = new Promise((resolve) => document.getElementById('view')
        .addEventListener('rendered', (event) => event.detail.shown || resolve(event.detail.hash))); }""")
    held[0].continue_()
    assert page.evaluate("window.discarded").startswith("#/inspections")  # the held render ran, and lost
    assert page.locator("#count-note").input_value() == "half a count, typed before the refresh"
    assert page.locator("#count-lot").input_value() == "lot-qd-2"


def open_double_pledges(demo: Demo, lots: list[str]) -> dict[str, str]:
    """Refused pledges of `lots` to loan-acme-2 (they back loan-river-1): lot → its open alert's id."""
    for lot in lots:
        assert demo.post("/loans/loan-acme-2/pledges", {"lot": lot}).status_code == 409
    return wait_until(lambda: (found := {a["lot"]: a["id"] for a in demo.get("/alerts", type="double_pledge_attempt",
                                                                              state="open") if a["lot"] in lots})
                      and len(found) == len(lots) and found, 30, "the double pledge alerts")


def test_alerts_are_acknowledged_in_bulk_and_worked_on_their_own_page(open_session, demo):
    ids = open_double_pledges(demo, ["lot-qd-1", "lot-qd-2"])
    supervisor, north, south = open_session("supervisor"), open_session("bank-north"), open_session("bank-south")
    supervisor.sign_in("alerts")
    page = supervisor.page
    for alert_id in ids.values():
        page.locator(f"#select-{alert_id}").check()
    page.click("#ack-selected")
    page.locator("#toasts .toast", has_text="2 acknowledged, 0 skipped.").wait_for()
    acknowledged = {a["id"]: a for a in demo.get("/alerts", state="acknowledged")}
    assert all(acknowledged[alert_id]["acknowledged_by"] == "demo-supervisor" for alert_id in ids.values())

    alert_id = ids["lot-qd-1"]
    supervisor.go("alerts?state=all")  # acknowledged now: gone from the open list (a live refresh)
    page.click(f"#alert-{alert_id} th a")  # the type links to the alert's page
    page.wait_for_function("id => document.getElementById('view').dataset.shown === `#/alerts/${id}`", arg=alert_id)
    assert page.locator("[data-detail=reason] dd").inner_text() == "already pledged"
    assert page.locator("[data-detail=borrower] dd").inner_text() == "acme-steel"
    page.fill("#assignee-input", "li.wei")
    page.click("#assignee-save")
    wait_until(lambda: page.locator("[data-field=assignee]").inner_text() == "li.wei", 30, "the assignee on the page")
    page.fill("#comment-text", "River Metals' lot: the second pledge came from acme's new loan officer")
    page.click("#comment-submit")
    page.locator("#comments li", has_text="new loan officer").wait_for()
    assert demo.get(f"/alerts/{alert_id}")["assignee"] == "li.wei"

    north.sign_in(f"alerts/{alert_id}")  # the lender the alert is addressed to: reads and comments, no assigning
    north.page.locator("#comments li", has_text="new loan officer").wait_for()
    assert north.page.locator("#assignee-form").count() == 0
    north.page.fill("#comment-text", "Seen at bank-north; we hold lot-qd-1")
    north.page.click("#comment-submit")
    page.locator("#comments li", has_text="we hold lot-qd-1").wait_for()  # live on the supervisor's page
    south.expected_errors.append("status of 404 (Not Found)")  # the browser logs each refused fetch
    south.sign_in(f"alerts/{alert_id}")  # not bank-south's: the API answers 404, the page says so
    assert south.page.locator("#view h1").inner_text() == "Could not load this view"


def test_typing_goes_on_in_the_same_field_across_a_live_refresh(open_session, demo):
    """A live refresh moves the form being filled in to the new page, which blurs the field typed
    in: the focus (and the caret) go back to it, or the next keystrokes would go nowhere (a clean-clone
    run saw an assignee typed during a refresh saved as nobody)."""
    demo.post("/loans/loan-acme-2/pledges", {"lot": "lot-qd-1"})  # refused: an alert to work on, if none yet
    alert_id = wait_until(lambda: (found := demo.get("/alerts")) and found[0]["id"], 30, "an alert")
    session = open_session("supervisor")
    session.sign_in(f"alerts/{alert_id}")
    page = session.page
    page.click("#comment-text")
    page.keyboard.type("Counted twice; ")
    assert demo.post(f"/alerts/{alert_id}/comments", {"text": "the warehouse called back"}).status_code == 201
    page.locator("#comments li", has_text="the warehouse called back").wait_for()  # the page was redrawn
    page.keyboard.type("the second pallet was empty")
    assert page.locator("#comment-text").input_value() == "Counted twice; the second pallet was empty"


def test_an_ltv_change_appears_without_reload(open_session, demo):
    session = open_session("bank-south")
    session.sign_in("loans/loan-acme-2")
    page = session.page
    page.evaluate("window.notReloaded = true")
    before = wait_until(lambda: (loan := demo.get("/loans/loan-acme-2", "bank-south")) and
                        page.locator("dl [data-field=ltv]").inner_text() == percent(loan["ltv"]) and loan,
                        30, "loan-acme-2's page to match the API")

    posted = demo.post("/prices", {"commodity": "steel_coil", "price": 3200, "currency": "CNY", "per": "t"})
    assert posted.status_code == 201, posted.text
    after = wait_until(lambda: (loan := demo.get("/loans/loan-acme-2", "bank-south"))["ltv"] != before["ltv"] and loan,
                       45, "the monitor to revalue loan-acme-2")
    page.wait_for_function("text => document.querySelector('dl [data-field=ltv]').textContent === text",
                           arg=percent(after["ltv"]), timeout=30_000)
    assert after["status"] == "warning"
    assert page.locator("dl .badge").inner_text() == "warning"
    assert page.evaluate("window.notReloaded") is True


def test_an_alert_page_shows_its_matches_and_playbook_and_records_the_outcome(open_session, demo):
    alert_id = open_double_pledges(demo, ["lot-nb-1"])["lot-nb-1"]
    supervisor = open_session("supervisor")
    supervisor.sign_in(f"alerts/{alert_id}")
    page = supervisor.page
    best = page.locator("#alert-matches tr").nth(1)            # row 0 is the header
    assert best.get_attribute("data-match") == "double-pledge"
    assert "second pledge tried" in best.locator("[data-field=matched]").text_content()
    page.locator("#alert-tasks tr[data-step='1'][data-state=open]").wait_for()
    page.click("#task-done-1")
    page.locator("#alert-tasks tr[data-step='1'][data-state=done]").wait_for()
    assert "demo-supervisor" in page.locator("#alert-tasks tr[data-step='1'] [data-field=done_by]").text_content()

    page.select_option("#outcome-select", "fraud")
    page.fill("#outcome-note", "the same coils offered to bank-south")
    page.click("#outcome-submit")
    case = wait_until(lambda: next((c for c in demo.get("/cases") if c["alert"] == alert_id), None), 30, "the case")
    assert (case["outcome"], case["recorded_by"], case["alert_types"]) == (
        "fraud", "demo-supervisor", ["double_pledge_attempt"])
    page.locator("[data-field=state]", has_text="resolved").wait_for()
