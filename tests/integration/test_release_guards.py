"""Issue 12, findings 9 and 10 through the API: a release frees only EPCs the reader sees,
and is refused (409, with the reason; the quote says why) while a critical alert is open on
the lot or its price is stale. (Since issue 14 a release is a request the lender approves.)"""
from __future__ import annotations

from book_helpers import as_, run_for

from backend.book.naming import simulated_epcs

LOAN = "/api/v1/loans/loan-acme-1"


def release(client, items: int):
    """The borrower asks (after the lender recorded a repayment), the lender approves."""
    client.post(f"{LOAN}/repayments", json={"amount": 300000}, headers=as_("bank-north"))
    asked = client.post(f"{LOAN}/releases", json={"lot": "lot-sh-1", "items": items}, headers=as_("acme-steel"))
    return client.post(f"{LOAN}/releases/{asked.json()['id']}/approve", headers=as_("bank-north"))


def test_a_release_after_a_theft_frees_only_present_epcs_and_the_theft_stays(book):
    context, client, clock = book
    seq = run_for(context, clock, 3)
    seq = run_for(context, clock, 3, start_seq=seq, missing={"lot-sh-1": 4})   # seen, not yet alerted
    done = release(client, 4)
    assert done.status_code == 200, done.text
    stolen = set(simulated_epcs("lot-sh-1", 40)[36:])
    assert not stolen & set(done.json()["delivery_order"]["epcs"])
    run_for(context, clock, 20, start_seq=seq, missing={"lot-sh-1": 8})      # the released 4 leave too
    alerts = client.get("/api/v1/alerts", headers=as_("admin")).json()
    assert [(a["type"], a["details"]["missing_items"]) for a in alerts] == [("unauthorized_removal", 4)]


def test_a_release_is_refused_with_the_reason_while_a_critical_alert_is_open(book):
    context, client, clock = book
    seq = run_for(context, clock, 3)
    run_for(context, clock, 15, start_seq=seq, missing={"lot-sh-1": 2})
    body = {"lot": "lot-sh-1", "items": 1, "repayment": 300000}
    quote = client.post("/api/v1/loans/loan-acme-1/releases/quote", json=body, headers=as_("bank-north")).json()
    assert quote["approved"] is False
    assert quote["reason"] == "critical alert open on lot-sh-1: unauthorized_removal"
    refused = release(client, 1)
    assert (refused.status_code, refused.json()["detail"]) == (409, quote["reason"])


def test_a_release_is_refused_while_the_price_is_stale(book):
    context, client, clock = book
    seq = run_for(context, clock, 3)
    clock.now_s += 2 * 86_400                      # no mark for two days: the book's steel price is stale
    run_for(context, clock, 3, start_seq=seq)
    refused = release(client, 1)
    assert refused.status_code == 409 and refused.json()["detail"].startswith("price of steel_coil is stale")
