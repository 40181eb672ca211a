"""Issue 14, the money side, through the API on SQLite and PostgreSQL: repayments take effect
only when the lender confirms, closing is its own step, drawdowns stay within drawing power
(also when two race), substitutions weigh the incoming lot at a fresh price, the borrowing-base
certificate is signed, and the lender hears of each step."""
from __future__ import annotations

import base64
import json
import threading
from decimal import Decimal

import jsonschema_rs
from book_helpers import DEMO_LOTS, as_, run_for
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select

from backend.adapters.db import tables as t
from backend.adapters.webhook_http import TargetGuard
from backend.book.naming import simulated_epcs
from backend.services.api_keys import Principal

LOAN = "/api/v1/loans/loan-acme-1"


def _outstanding(client) -> Decimal:
    return Decimal(client.get(LOAN, headers=as_("bank-north")).json()["outstanding"])


def test_a_supervisors_repayment_changes_nothing_until_the_lender_confirms(book):
    context, client, clock = book
    run_for(context, clock, 2)
    ltv_before = client.get(LOAN, headers=as_("bank-north")).json()["ltv"]
    entered = client.post(f"{LOAN}/repayments", json={"amount": 100_000}, headers=as_("supervisor"))
    assert entered.status_code == 201, entered.text
    pending = entered.json()
    assert (pending["state"], pending["entered_by"], pending["decided_by"]) == ("pending", "supervisor", None)
    assert Decimal(pending["outstanding"]) == 1_000_000
    run_for(context, clock, 1, start_seq=3)
    assert _outstanding(client) == 1_000_000
    assert client.get(LOAN, headers=as_("bank-north")).json()["ltv"] == ltv_before
    confirm = f"{LOAN}/repayments/{pending['id']}/confirm"
    assert client.post(confirm, headers=as_("supervisor")).status_code == 404   # never its own checker
    assert client.post(confirm, headers=as_("bank-south")).status_code == 404   # not its loan
    confirmed = client.post(confirm, headers=as_("bank-north"))
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["state"], confirmed.json()["decided_by"]) == ("confirmed", "bank-north")
    assert confirmed.json()["decided_at_s"] == clock()
    assert _outstanding(client) == 900_000
    assert client.post(confirm, headers=as_("bank-north")).status_code == 409   # once
    run_for(context, clock, 1, start_seq=4)
    assert client.get(LOAN, headers=as_("bank-north")).json()["ltv"] < ltv_before
    listed = client.get(f"{LOAN}/repayments", headers=as_("bank-north")).json()
    assert [(r["id"], r["state"]) for r in listed] == [(pending["id"], "confirmed")]


def test_an_admins_confirmation_is_recorded_as_the_admins_and_a_rejection_changes_nothing(book):
    context, client, clock = book
    first = client.post(f"{LOAN}/repayments", json={"amount": 1000}, headers=as_("supervisor")).json()
    second = client.post(f"{LOAN}/repayments", json={"amount": 2000}, headers=as_("supervisor")).json()
    done = client.post(f"{LOAN}/repayments/{first['id']}/confirm", headers=as_("admin")).json()
    assert (done["state"], done["decided_by"]) == ("confirmed", "admin")
    refused = client.post(f"{LOAN}/repayments/{second['id']}/reject", json={"reason": "no cash received"},
                          headers=as_("bank-north")).json()
    assert (refused["state"], refused["decided_by"], refused["reason"]) == ("rejected", "bank-north",
                                                                           "no cash received")
    assert _outstanding(client) == 999_000
    own = client.post(f"{LOAN}/repayments", json={"amount": 500}, headers=as_("bank-north")).json()
    assert (own["state"], own["entered_by"], own["decided_by"]) == ("confirmed", "bank-north", "bank-north")
    assert _outstanding(client) == 998_500


def test_repaid_to_zero_frees_nothing_closing_is_refused_while_outstanding_and_releases_the_pledges(book):
    context, client, clock = book
    refused = client.post(f"{LOAN}/close", headers=as_("bank-north"))
    assert refused.status_code == 409 and "outstanding 1000000.00 CNY" in refused.json()["detail"]
    assert client.post(f"{LOAN}/close", headers=as_("supervisor")).status_code == 404
    client.post(f"{LOAN}/repayments", json={"amount": 1_000_000}, headers=as_("bank-north"))
    assert client.get("/api/v1/lots/lot-sh-1", headers=as_("admin")).json()["loan"] == "loan-acme-1"
    assert client.post("/api/v1/loans/loan-acme-2/pledges", json={"lot": "lot-sh-1"},
                       headers=as_("bank-south")).status_code == 409
    closed = client.post(f"{LOAN}/close", headers=as_("bank-north"))
    assert closed.status_code == 200, closed.text
    assert (closed.json()["closed_by"], closed.json()["released_lots"]) == ("bank-north", ["lot-sh-1"])
    loan = client.get(LOAN, headers=as_("bank-north")).json()
    assert (loan["lots"], loan["closed_at_s"]) == ([], clock())
    assert client.post(f"{LOAN}/close", headers=as_("bank-north")).status_code == 409
    assert client.post(f"{LOAN}/repayments", json={"amount": 1}, headers=as_("bank-north")).status_code == 409
    pledged = client.post("/api/v1/loans/loan-acme-2/pledges", json={"lot": "lot-sh-1"}, headers=as_("bank-south"))
    assert (pledged.status_code, pledged.json()["state"]) == (201, "approved")


def test_a_drawdown_above_drawing_power_is_refused(book):
    context, client, clock = book
    assert client.post(f"{LOAN}/drawdowns", json={"amount": 1}, headers=as_("bank-north")).status_code == 409
    run_for(context, clock, 3)
    # 0.6 × 1.8 M lending value − 1.0 M outstanding: 80,000 can be drawn.
    refused = client.post(f"{LOAN}/drawdowns", json={"amount": 100_000}, headers=as_("bank-north"))
    assert refused.status_code == 409 and "at most 80000.00" in refused.json()["detail"]
    drawn = client.post(f"{LOAN}/drawdowns", json={"amount": 50_000}, headers=as_("bank-north"))
    assert drawn.status_code == 201 and Decimal(drawn.json()["outstanding"]) == 1_050_000
    assert client.post(f"{LOAN}/drawdowns", json={"amount": 40_000}, headers=as_("bank-north")).status_code == 409
    assert client.post(f"{LOAN}/drawdowns", json={"amount": 1}, headers=as_("supervisor")).status_code == 404
    assert client.post(f"{LOAN}/drawdowns", json={"amount": 1}, headers=as_("bank-south")).status_code == 404


class _Racing:
    """The money store with both drawdowns held at the door until each has decided on the
    same outstanding amount: then they write at once, and only one may win."""

    def __init__(self, store) -> None:
        self.store, self.door, self.seen = store, threading.Barrier(2, timeout=10), threading.local()

    def __getattr__(self, name):
        return getattr(self.store, name)

    def draw(self, *args, **kwargs) -> None:
        if not getattr(self.seen, "once", False):
            self.seen.once = True
            self.door.wait()
        self.store.draw(*args, **kwargs)


def test_two_drawdowns_racing_for_the_last_drawing_power_never_both_succeed(book):
    context, client, clock = book
    run_for(context, clock, 3)
    context.money.store = _Racing(context.money.store)
    lender = Principal("bank-north", "lender", "bank-north")
    outcomes: list[str] = []

    def draw() -> None:
        try:
            context.money.draw(lender, "loan-acme-1", Decimal(60_000))
            outcomes.append("drawn")
        except Exception as exc:  # Conflict: beyond drawing power once the other one won
            outcomes.append(str(exc))

    threads = [threading.Thread(target=draw) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes)[0] == "drawn" and "exceeds drawing power" in sorted(outcomes)[1], outcomes
    assert _outstanding(client) == 1_060_000


def _zinc_lot(client) -> dict:
    """An unpledged lot of zinc in Shanghai (1,000 t), zinc's price stale after a minute."""
    staff = as_("admin")
    assert client.post("/api/v1/commodities", json={"id": "zinc", "unit": "t", "price_max_age_s": 60},
                       headers=staff).status_code == 201
    items = [{"epc": epc, "quantity": 100, "weight_kg": 100_000} for epc in simulated_epcs("lot-sh-3", 10)]
    assert client.post("/api/v1/lots", json={"id": "lot-sh-3", "warehouse": "wh-shanghai", "commodity": "zinc",
                                             "scale": "lot-sh-3-scale", "reader": "lot-sh-3-rfid", "items": items},
                       headers=staff).status_code == 201
    return {**DEMO_LOTS, "lot-sh-3": ("gw-shanghai", 10, 100_000.0)}


def _zinc_at(client, price: int) -> None:
    assert client.post("/api/v1/prices", json={"commodity": "zinc", "price": price, "currency": "CNY", "per": "t"},
                       headers=as_("admin")).status_code == 201


def test_a_substitution_is_refused_on_a_stale_price_of_the_incoming_lot_and_approved_on_a_fresh_one(book):
    context, client, clock = book
    lots = _zinc_lot(client)
    _zinc_at(client, 2000)
    seq = run_for(context, clock, 3, lots=lots)                   # zinc's price is 3 minutes old
    swap = {"release_lot": "lot-sh-1", "pledge_lot": "lot-sh-3"}
    refused = client.post(f"{LOAN}/substitutions", json=swap, headers=as_("bank-north"))
    assert refused.status_code == 409 and "price of zinc is stale" in refused.json()["detail"]
    _zinc_at(client, 2000)
    seq = run_for(context, clock, 1, start_seq=seq, lots=lots)
    asked = client.post(f"{LOAN}/substitutions", json=swap, headers=as_("supervisor")).json()
    assert asked["state"] == "pending"
    assert client.get(LOAN, headers=as_("admin")).json()["lots"] == ["lot-sh-1"]
    too_low = client.post(f"{LOAN}/substitutions", json={**swap}, headers=as_("bank-north"))
    assert too_low.status_code == 201                          # 1,000 t × 2,000 × 0.9 = 1.8 M: LTV 0.556 ≤ 0.6
    assert client.get(LOAN, headers=as_("admin")).json()["lots"] == ["lot-sh-3"]
    assert client.get("/api/v1/lots/lot-sh-1", headers=as_("admin")).json()["loan"] is None
    late = client.post(f"{LOAN}/substitutions/{asked['id']}/approve", headers=as_("bank-north"))
    assert late.status_code == 409                             # lot-sh-1 no longer backs the loan


def test_a_substitution_that_would_lift_ltv_above_target_is_refused(book):
    context, client, clock = book
    lots = _zinc_lot(client)
    _zinc_at(client, 1500)                                     # 1,000 t × 1,500 × 0.9 = 1.35 M: LTV 0.74
    run_for(context, clock, 1, lots=lots)
    refused = client.post(f"{LOAN}/substitutions", json={"release_lot": "lot-sh-1", "pledge_lot": "lot-sh-3"},
                          headers=as_("bank-north"))
    assert refused.status_code == 409 and "above the target 0.6" in refused.json()["detail"]


def test_a_top_up_asked_by_a_supervisor_waits_for_the_lender_and_the_guard_applies_at_approval(book):
    context, client, clock = book
    _zinc_lot(client)
    asked = client.post(f"{LOAN}/pledges", json={"lot": "lot-sh-3"}, headers=as_("supervisor")).json()
    rival = client.post("/api/v1/loans/loan-acme-2/pledges", json={"lot": "lot-sh-3"}, headers=as_("supervisor"))
    assert (asked["state"], rival.json()["state"]) == ("pending", "pending")
    assert "lot-sh-3" not in client.get(LOAN, headers=as_("admin")).json()["lots"]
    approved = client.post(f"{LOAN}/pledges/{asked['id']}/approve", headers=as_("admin")).json()
    assert (approved["state"], approved["decided_by"]) == ("approved", "admin")
    assert "lot-sh-3" in client.get(LOAN, headers=as_("admin")).json()["lots"]
    second = client.post(f"/api/v1/loans/loan-acme-2/pledges/{rival.json()['id']}/approve", headers=as_("bank-south"))
    assert (second.status_code, second.json()) == (409, {"detail": "already pledged"})
    context.monitor.tick()
    [alert] = client.get("/api/v1/alerts", params={"type": "double_pledge_attempt"}, headers=as_("bank-north")).json()
    assert alert["lot"] == "lot-sh-3"


def test_the_borrowing_base_certificate_is_signed_with_the_document_key(book):
    context, client, clock = book
    run_for(context, clock, 3)
    answer = client.get(f"{LOAN}/certificate", headers=as_("bank-north"))
    assert answer.status_code == 200, answer.text
    signed = answer.json()
    doc = signed["document"]
    assert json.loads(signed["body"]) == doc
    public = load_pem_public_key(context.documents.public_key_pem().encode())
    public.verify(base64.b64decode(signed["signature"]), signed["body"].encode())  # raises if forged
    assert signed["key_id"] == context.documents.key_id
    assert (doc["loan"], doc["outstanding"], doc["lending_value"], doc["drawing_power"]) == (
        "loan-acme-1", "1000000.00", "1800000.00", "80000.00")
    [lot] = doc["lots"]
    assert (lot["lot"], lot["market_value"], lot["lending_value"], lot["eligible"]) == (
        "lot-sh-1", "2000000.00", "1800000.00", True)
    assert doc["open_alerts"] == []
    page = client.get(f"{LOAN}/certificate.html", headers=as_("admin"))
    assert page.status_code == 200 and "lot-sh-1" in page.text and signed["key_id"] in page.text
    assert client.get(f"{LOAN}/certificate", headers=as_("bank-south")).status_code == 404


def test_the_lender_hears_of_each_money_step_in_the_published_shapes(book):
    context, client, clock = book
    context.webhooks.targets = TargetGuard(allow_private=True)
    context.webhooks.register("bank-north", "http://127.0.0.1:9/hook", ["repayment", "pledge", "loan"])
    run_for(context, clock, 3)
    pending = client.post(f"{LOAN}/repayments", json={"amount": 1000}, headers=as_("supervisor")).json()
    client.post(f"{LOAN}/repayments/{pending['id']}/confirm", headers=as_("bank-north"))
    client.post(f"{LOAN}/drawdowns", json={"amount": 1000}, headers=as_("bank-north"))
    _zinc_lot(client)
    asked = client.post(f"{LOAN}/pledges", json={"lot": "lot-sh-3"}, headers=as_("supervisor")).json()
    client.post(f"{LOAN}/pledges/{asked['id']}/reject", json={"reason": "not this one"}, headers=as_("bank-north"))
    client.post(f"{LOAN}/repayments", json={"amount": 1_000_000}, headers=as_("bank-north"))
    client.post(f"{LOAN}/close", headers=as_("bank-north"))
    loan = {"id": "loan-zinc", "lender": "bank-north", "borrower": "acme-steel", "outstanding": 360_000,
            "currency": "CNY", "thresholds": {"warning": 0.7, "margin_call": 0.8, "liquidation": 0.9},
            "target_ltv": 0.6, "interest": {"rate": "0.05", "day_count": "ACT/360"}}
    assert client.post("/api/v1/loans", json=loan, headers=as_("admin")).status_code == 201
    context.money.post_interest()                          # interest starts accruing now
    clock.now_s += 86_400
    [posting] = context.money.post_interest()
    assert posting.amount == Decimal("50.00")              # 360,000 × 0.05 / 360
    with context.webhooks.store.engine.connect() as db:
        rows = db.execute(select(t.webhook_outbox.c.event_type, t.webhook_outbox.c.body)
                          .order_by(t.webhook_outbox.c.id)).all()
    assert [row.event_type.removeprefix("com.pledgewatch.") for row in rows] == [
        "repayment.pending", "repayment.confirmed", "loan.drawdown", "pledge.requested", "pledge.rejected",
        "repayment.confirmed", "loan.closed", "loan.interest_posted"]
    confirmed = json.loads(rows[1].body)["data"]
    assert (confirmed["amount"], confirmed["decided_by"], confirmed["outstanding"]) == ("1000.00", "bank-north",
                                                                                       "999000.00")
    openapi = client.get("/openapi.json").json()
    validators = {name: jsonschema_rs.validator_for({"components": openapi["components"], **hook["post"][
        "requestBody"]["content"]["application/json"]["schema"]}) for name, hook in openapi["webhooks"].items()}
    for row in rows:
        event = json.loads(row.body)
        assert [name for name, v in validators.items() if v.is_valid(event)] == [event["type"].split(".")[2]], (
            event, [str(e) for v in validators.values() for e in v.iter_errors(event)][:3])
