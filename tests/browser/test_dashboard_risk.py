"""The Risk view in headless Chromium against a running demo: a stress test run in the page
shows the API's numbers, and a lender's run shows its own loans only."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from browser_demo import wait_until

SEVERE = "steel_coil=-45%, copper_cathode=-45%, frozen_shrimp=-45%"
BODY = {"shocks": ["steel_coil=-45%", "copper_cathode=-45%", "frozen_shrimp=-45%"], "warehouses_lost": ["wh-ningbo"],
        "max_loans": 200}
STATUSES = ["normal", "warning", "margin_call", "liquidation", "default"]


def percent(ratio) -> str:
    return "—" if ratio is None else f"{float(ratio) * 100:,.1f} %"


def money(amount, currency: str) -> str:
    """As the page writes it: Intl rounds half away from zero (Python's round, half to even,
    wrote 1,137,130 for 1137130.50 where the page showed 1,137,131)."""
    whole = Decimal(str(amount)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return f"{int(whole):,} {currency}"


def run_in_page(session, shocks: str, lost: list[str], monte_carlo: dict | None = None) -> dict:
    """Fill the form, run it, and return the answer the page got (once it shows it)."""
    page = session.page
    page.fill("#risk-shocks", shocks)
    for warehouse in lost:
        page.check(f"#risk-lost-{warehouse}")
    if monte_carlo:
        page.check("#risk-monte_carlo")
        for name, value in monte_carlo.items():
            page.fill(f"#risk-{name}", str(value))
    with page.expect_response(lambda response: response.url.endswith("/api/v1/stress")) as answered:
        page.click("#risk-run")
    answer = answered.value.json()
    page.wait_for_selector("#risk-status")
    if monte_carlo:
        page.wait_for_selector("#risk-mc-loans")
    return answer


def cells(page, table: str, key: str, field: str) -> dict[str, str]:
    return {row.get_attribute(f"data-{key}"): row.locator(f"[data-field={field}]").inner_text()
            for row in page.locator(f"#{table} tbody tr").all()}


def test_a_shock_in_the_page_shows_the_apis_numbers(open_session, demo):
    session = open_session("supervisor")
    session.sign_in("risk")
    page = session.page
    answer = run_in_page(session, SEVERE, ["wh-ningbo"])["shock"]
    shock = answer
    assert cells(page, "risk-status", "status", "after") == {s: str(shock["by_status_after"][s]) for s in STATUSES}
    assert cells(page, "risk-calls", "loan", "cure_amount") == {
        call["loan"]: money(call["cure_amount"], call["currency"]) for call in shock["margin_calls"]}
    assert cells(page, "risk-shortfall", "lender", "shortfall") == {
        row["lender"]: money(row["shortfall"], row["currency"]) for row in shock["shortfall_by_lender"]}
    # The page's answer is the API's: what ticking prices cannot move is the same from a direct call.
    direct = demo.post("/stress", BODY, who="supervisor").json()["shock"]
    assert shock["by_status_after"] == direct["by_status_after"] == {**dict.fromkeys(STATUSES, 0), "liquidation": 4}
    assert {c["loan"] for c in shock["margin_calls"]} == {c["loan"] for c in direct["margin_calls"]}
    delta = {row["loan"]: row for row in direct["loans"]}["loan-delta-1"]
    assert delta["shortfall"] == "1100000.00"                          # wh-ningbo lost: all it owes
    assert float(page.locator("#risk-shortfall [data-lender=bank-south] [data-field=shortfall]").inner_text()
                 .split()[0].replace(",", "")) >= 1_100_000
    assert "wh-ningbo" in page.locator("#risk-shock-summary").inner_text()


def test_a_monte_carlo_in_the_page_shows_each_loans_distribution(open_session, demo):
    session = open_session("supervisor")
    session.sign_in("risk")
    page = session.page
    # The demo's prices are minutes old: no daily history yet, so a fallback volatility is given.
    run = run_in_page(session, "steel_coil=-20%", [], {"horizon": 10, "paths": 300, "seed": 5, "fallback": 2})
    monte_carlo = run["monte_carlo"]
    assert all(c["fallback"] and c["volatility_daily"] == 0.02 for c in monte_carlo["model"]["commodities"])
    loans = {row["loan"]: row for row in monte_carlo["loans"]}
    assert set(loans) == {"loan-acme-1", "loan-acme-2", "loan-river-1", "loan-delta-1"}
    assert cells(page, "risk-mc-loans", "loan", "p_default") == {k: percent(v["p_default"]) for k, v in loans.items()}
    assert cells(page, "risk-mc-loans", "loan", "p50") == {k: percent(v["ltv_percentiles"][3]) for k, v in loans.items()}
    assert cells(page, "risk-mc-lenders", "lender", "tail_99") == {
        row["lender"]: money(row["tail_99"], row["currency"]) for row in monte_carlo["shortfall_by_lender"]}
    drawn = {row.get_attribute("data-loan") for row in page.locator("#risk-distribution .ltv-row").all()}
    assert drawn == set(loans)
    # Same seed, same numbers: the API called directly gives this run's LTV distribution when
    # prices have not ticked in between; at least its shape (loans, percentiles) is the same.
    direct = demo.post("/stress", {"shocks": ["steel_coil=-20%"], "monte_carlo": {
        "horizon_days": 10, "paths": 300, "seed": 5, "fallback_volatility": 0.02}}, who="supervisor").json()
    assert {row["loan"] for row in direct["monte_carlo"]["loans"]} == set(loans)
    assert direct["monte_carlo"]["percentiles"] == monte_carlo["percentiles"]


def test_a_lender_stresses_only_its_own_loans(open_session, demo):
    session = open_session("bank-north")
    session.sign_in("risk")
    page = session.page
    run = run_in_page(session, SEVERE, [], {"horizon": 10, "paths": 200, "seed": 1, "fallback": 2})
    own = {loan["id"] for loan in demo.get("/loans", "bank-north")}
    assert own == {"loan-acme-1", "loan-river-1"}
    assert set(cells(page, "risk-calls", "loan", "cure_amount")) <= own
    assert set(cells(page, "risk-shortfall", "lender", "shortfall")) == {"bank-north"}
    assert set(cells(page, "risk-mc-loans", "loan", "p_default")) == own
    assert set(cells(page, "risk-mc-lenders", "lender", "expected")) == {"bank-north"}
    assert sum(run["shock"]["by_status_after"].values()) == 2
    assert "Stress your own loans" in page.locator("#view .subtitle").inner_text()


def score_rows(page) -> list[str]:
    return [row.get_attribute("data-entity") for row in page.locator("#risk-scores-table tbody tr").all()]


def test_the_risk_scores_table_shows_the_apis_scores_and_sorts_by_any_column(open_session, demo):
    session = open_session("supervisor")
    session.sign_in("risk")
    page = session.page
    page.wait_for_selector("#risk-scores-table[data-kind=warehouse] tbody tr")
    api = demo.get("/risk-scores", "supervisor", kind="warehouse")["scores"]
    # Rows are read once the table shows them (a sort redraws it), never in mid-redraw.
    wait_until(lambda: score_rows(page) == [row["id"] for row in api], 10, "the API's order, riskiest first")
    shown = page.locator(f"#risk-scores-table [data-entity={api[0]['id']}] [data-field=score]").inner_text()
    assert float(shown) == round(api[0]["score"], 2)
    page.click("#risk-scores-table button[data-column=id]")
    wait_until(lambda: score_rows(page) == sorted(row["id"] for row in api), 10, "sorted by id")
    page.click("#risk-scores-table button[data-column=id]")
    wait_until(lambda: score_rows(page) == sorted((row["id"] for row in api), reverse=True), 10, "by id, descending")
    assert page.locator("#risk-scores-table th[aria-sort=descending] button").get_attribute("data-column") == "id"
    page.select_option("#risk-scores-kind", "borrower")
    page.wait_for_selector("#risk-scores-table[data-kind=borrower]")
    wait_until(lambda: set(score_rows(page)) == {"acme-steel", "riverside-metals", "delta-foods"}, 10, "borrowers")


def test_a_lender_sees_the_scores_of_its_own_exposure(open_session, demo):
    session = open_session("bank-north")
    session.sign_in("risk")
    page = session.page
    page.select_option("#risk-scores-kind", "borrower")
    page.wait_for_selector("#risk-scores-table[data-kind=borrower] tbody tr")
    wait_until(lambda: set(score_rows(page)) == {"acme-steel", "riverside-metals"}, 10, "bank-north's borrowers")
    assert "your own loans only" in page.locator("#risk-scores-intro").inner_text()
