"""The registry, monitor and book API on a real database (SQLite and PostgreSQL)."""
from __future__ import annotations

import pytest
from book_helpers import as_, run_for, run_forged
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.api.book import LoanOut
from backend.bootstrap import build_context


def test_the_book_is_loaded_and_valued(book):
    context, client, clock = book
    run_for(context, clock, 3)
    loans = {loan["id"]: loan for loan in client.get("/api/v1/loans", headers=as_("supervisor")).json()}
    assert sorted(loans) == ["loan-acme-1", "loan-acme-2", "loan-delta-1", "loan-river-1"]
    acme = loans["loan-acme-1"]
    assert acme["status"] == "normal"
    assert float(acme["collateral_value"]) == pytest.approx(1_800_000)  # 500 t × 4000 × 0.9
    assert float(acme["ltv"]) == pytest.approx(1_000_000 / 1_800_000, abs=1e-4)
    assert float(acme["drawing_power"]) == pytest.approx(0.6 * 1_800_000 - 1_000_000)
    river = loans["loan-river-1"]  # 150 t copper × 68000 + 375 t steel × 4000, 15 % haircut
    assert float(river["collateral_value"]) == pytest.approx(9_945_000)
    lot = client.get("/api/v1/lots/lot-sh-1", headers=as_("admin")).json()
    assert (lot["pledged_items"], lot["observed_items"]) == (40, 40)
    assert {s["kind"] for s in lot["sensors"]} == {"scale", "rfid"}
    assert client.get("/api/v1/alerts", headers=as_("admin")).json() == []


def test_a_lender_sees_only_its_own_loans_lots_and_alerts(book):
    context, client, clock = book
    mine = [loan["id"] for loan in client.get("/api/v1/loans", headers=as_("bank-north")).json()]
    assert sorted(mine) == ["loan-acme-1", "loan-river-1"]
    assert client.get("/api/v1/loans/loan-acme-2", headers=as_("bank-north")).status_code == 404
    assert client.get("/api/v1/lots/lot-sh-2", headers=as_("bank-north")).status_code == 404
    assert client.get("/api/v1/lots/lot-sh-1", headers=as_("bank-north")).status_code == 200
    assert client.get("/api/v1/loans/nope", headers=as_("admin")).status_code == 404


def test_the_loan_listing_keeps_the_loan_model_and_pages_by_id(book):
    context, client, clock = book
    run_for(context, clock, 3)
    everything = client.get("/api/v1/loans", headers=as_("supervisor")).json()
    assert [loan["id"] for loan in everything] == sorted(loan["id"] for loan in everything)
    for loan in everything:  # the fast path's rows are exactly the documented model's
        one = client.get(f"/api/v1/loans/{loan['id']}", headers=as_("supervisor")).json()
        assert loan == one == LoanOut.model_validate(loan).model_dump(mode="json")
    assert any(loan["ltv"] is not None for loan in everything)
    pages, url = [], "/api/v1/loans?limit=3"
    while url:
        answer = client.get(url, headers=as_("supervisor"))
        pages.append(answer.json())
        url = answer.links.get("next", {}).get("url")
    assert [len(page) for page in pages] == [3, 1] and sum(pages, []) == everything
    mine = client.get("/api/v1/loans", params={"limit": 1, "after": "loan-acme-1"}, headers=as_("bank-north"))
    assert [loan["id"] for loan in mine.json()] == ["loan-river-1"] and "link" not in mine.headers
    assert client.get("/api/v1/loans?limit=0", headers=as_("admin")).status_code == 422


def test_a_second_pledge_is_refused_and_reported_to_the_holder(book):
    context, client, clock = book
    refused = client.post("/api/v1/loans/loan-acme-2/pledges", json={"lot": "lot-sh-1"}, headers=as_("admin"))
    assert refused.status_code == 409
    assert refused.json() == {"detail": "already pledged"}
    assert "bank-north" not in refused.text
    context.monitor.tick()
    [alert] = client.get("/api/v1/alerts", params={"type": "double_pledge_attempt"},
                         headers=as_("bank-north")).json()
    assert (alert["lender"], alert["lot"], alert["state"]) == ("bank-north", "lot-sh-1", "open")
    assert client.get("/api/v1/alerts", headers=as_("bank-south")).json() == []
    acked = client.post(f"/api/v1/alerts/{alert['id']}/ack", json={"note": "calling the borrower"},
                        headers=as_("bank-north")).json()
    assert (acked["state"], acked["acknowledged_by"], acked["ack_note"]) == (
        "acknowledged", "bank-north", "calling the borrower")
    assert client.post(f"/api/v1/alerts/{alert['id']}/ack", headers=as_("bank-north")).status_code == 409
    assert client.post(f"/api/v1/alerts/{alert['id']}/ack", headers=as_("bank-south")).status_code == 404


def test_goods_leaving_without_release_raise_one_alert_after_the_window(book):
    context, client, clock = book
    seq = run_for(context, clock, 3)
    seq = run_for(context, clock, 20, start_seq=seq, missing={"lot-sh-1": 4})
    alerts = client.get("/api/v1/alerts", headers=as_("admin")).json()
    assert [a["type"] for a in alerts] == ["unauthorized_removal"]
    opened_after_s = alerts[0]["opened_at_s"] - (1_800_000_000 + 3 * 60)
    assert 0 < opened_after_s <= 15 * 60
    assert context.metrics.registry.get_sample_value(
        "pw_alerts_opened_total", {"type": "unauthorized_removal"}) == 1


def test_a_release_within_target_is_approved_and_its_removal_is_silent(book):
    context, client, clock = book
    seq = run_for(context, clock, 3)
    quote = client.post("/api/v1/loans/loan-acme-1/releases/quote",
                        json={"lot": "lot-sh-1", "items": 10, "repayment": 0}, headers=as_("bank-north")).json()
    assert quote["approved"] is False and quote["max_items"] < 10
    loan = "/api/v1/loans/loan-acme-1"
    asked = client.post(f"{loan}/releases", json={"lot": "lot-sh-1", "items": 10}, headers=as_("acme-steel")).json()
    refused = client.post(f"{loan}/releases/{asked['id']}/approve", headers=as_("bank-north"))
    assert refused.status_code == 409 and "target" in refused.json()["detail"]
    repaid = client.post(f"{loan}/repayments", json={"amount": 300000}, headers=as_("bank-north"))
    assert float(repaid.json()["outstanding"]) == 700_000
    asked = client.post(f"{loan}/releases", json={"lot": "lot-sh-1", "items": 4}, headers=as_("acme-steel")).json()
    done = client.post(f"{loan}/releases/{asked['id']}/approve", headers=as_("bank-north"))
    assert done.status_code == 200, done.text
    run_for(context, clock, 20, start_seq=seq, missing={"lot-sh-1": 4})
    assert client.get("/api/v1/alerts", headers=as_("admin")).json() == []
    lot = client.get("/api/v1/lots/lot-sh-1", headers=as_("admin")).json()
    assert (lot["pledged_items"], lot["observed_items"]) == (36, 36)


def test_a_price_crash_confirmed_by_marks_brings_a_margin_call(book):
    context, client, clock = book
    seq = run_for(context, clock, 2)
    for _ in range(4):  # a jump beyond the outlier guard needs confirming marks
        posted = client.post("/api/v1/prices", json={"commodity": "steel_coil", "price": 2400,
                                                    "currency": "CNY", "per": "t"}, headers=as_("admin"))
        assert posted.status_code == 201
        seq = run_for(context, clock, 1, start_seq=seq)
    loan = client.get("/api/v1/loans/loan-acme-1", headers=as_("bank-north")).json()
    assert float(loan["cure_amount"]) > 0
    # 1.0 M outstanding against 500 t × 2400 × 0.9: LTV 0.93, above the 0.90 liquidation line.
    assert loan["status"] == "liquidation"
    # The jump was first held as an outlier: addressed to each bank whose collateral it prices
    # (issue 12: before, staff only).
    assert {a["type"] for a in client.get("/api/v1/alerts", headers=as_("bank-north")).json()} == {
        "liquidation", "price_outlier"}
    assert "price_outlier" in {a["type"] for a in client.get("/api/v1/alerts", headers=as_("admin")).json()}
    assert client.post("/api/v1/prices", json={"commodity": "steel_coil", "price": 1, "currency": "CNY",
                                               "per": "t"}, headers=as_("bank-north")).status_code == 404
    assert client.post("/api/v1/prices", json={"commodity": "steel_coil", "price": -5, "currency": "CNY",
                                               "per": "t"}, headers=as_("admin")).status_code == 422


def test_a_restart_keeps_open_alerts_and_opens_nothing_twice(book, tmp_path):
    context, client, clock = book
    client.post("/api/v1/loans/loan-acme-2/pledges", json={"lot": "lot-sh-1"}, headers=as_("admin"))
    seq = run_for(context, clock, 3)
    seq = run_for(context, clock, 20, start_seq=seq, missing={"lot-sh-1": 4})
    before = {a["id"] for a in client.get("/api/v1/alerts", headers=as_("admin")).json()}
    assert len(before) == 2
    context.close()
    again = build_context(context.settings, clock)
    try:
        run_for(again, clock, 10, start_seq=seq, missing={"lot-sh-1": 4})
        after = {a["id"] for a in TestClient(create_app(again)).get("/api/v1/alerts", headers=as_("admin")).json()}
        assert after == before
    finally:
        again.close()


def test_the_registry_grows_through_the_api_and_guards_every_pledge(book):
    context, client, clock = book
    staff = as_("supervisor")
    for path, body in (("/lenders", {"id": "bank-east"}), ("/borrowers", {"id": "zinc-co"}),
                       ("/commodities", {"id": "zinc_ingot", "unit": "t"}),
                       ("/warehouses", {"id": "wh-tianjin", "gateway": "gw-tianjin"})):
        assert client.post(f"/api/v1{path}", json=body, headers=staff).status_code == 201, path
    items = [{"epc": f"aa{n:022x}", "quantity": 1, "weight_kg": 1000} for n in range(5)]
    lot = {"id": "lot-tj-1", "warehouse": "wh-tianjin", "commodity": "zinc_ingot",
           "scale": "lot-tj-1-scale", "reader": "lot-tj-1-rfid", "items": items}
    assert client.post("/api/v1/lots", json=lot, headers=staff).status_code == 201
    clash = {**lot, "id": "lot-tj-2", "scale": "s2", "reader": "r2", "items": items[:1]}
    assert client.post("/api/v1/lots", json=clash, headers=staff).status_code == 409  # same EPC
    loan = {"id": "loan-zinc-1", "lender": "bank-east", "borrower": "zinc-co", "outstanding": 5000,
            "currency": "CNY", "thresholds": {"warning": 0.7, "margin_call": 0.8, "liquidation": 0.9},
            "target_ltv": 0.6, "lots": ["lot-tj-1"]}
    assert client.post("/api/v1/loans", json=loan, headers=staff).status_code == 201
    second = {**loan, "id": "loan-zinc-2"}
    refused = client.post("/api/v1/loans", json=second, headers=staff)
    assert (refused.status_code, refused.json()["detail"]) == (409, "already pledged")
    assert client.post("/api/v1/loans", json=loan, headers=staff).status_code == 409  # same id
    assert client.post("/api/v1/loans", json={**loan, "id": "x", "lender": "nobody"},
                       headers=staff).status_code == 404
    assert client.post("/api/v1/loans", json={**loan, "id": "y", "target_ltv": 0.75},
                       headers=staff).status_code == 422
    assert client.post("/api/v1/lenders", json={"id": "bank-x"}, headers=as_("bank-north")).status_code == 404
    assert "lot-tj-1" in context.registry.snapshot().loans["loan-zinc-1"].lot_ids


def test_a_loan_has_a_history_of_its_ltv(book):
    context, client, clock = book
    seq = run_for(context, clock, 3)
    run_for(context, clock, 20, start_seq=seq, missing={"lot-sh-1": 8})
    points = client.get("/api/v1/loans/loan-acme-1/history", headers=as_("bank-north")).json()
    assert len(points) >= 20  # at least one a minute
    assert [p["at_s"] for p in points] == sorted(p["at_s"] for p in points)
    assert float(points[0]["observed_quantity"]) == 500 and float(points[-1]["observed_quantity"]) == 400
    assert float(points[-1]["ltv"]) > float(points[0]["ltv"])
    assert client.get("/api/v1/loans/loan-acme-1/history", headers=as_("bank-south")).status_code == 404


def test_forged_messages_refused_by_ingest_are_reported_as_tampering(book):
    context, client, clock = book
    run_forged(context, clock, 3, start_seq=run_for(context, clock, 3))
    alerts = client.get("/api/v1/alerts", headers=as_("admin")).json()
    assert [(a["type"], a["gateway"]) for a in alerts] == [("tamper_detected", "gw-shanghai")]
