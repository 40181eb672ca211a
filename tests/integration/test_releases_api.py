"""Releases as a closed loop through the API, party by party (issue 14): the borrower asks,
the lender approves with another key (an admin is recorded as the admin), a signed delivery
order names the EPCs, the warehouse acknowledges it, and the monitor matches exits against it."""
from __future__ import annotations

import base64
import json

import jsonschema_rs
from book_helpers import as_, run_for
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select

from backend.adapters.db import tables as t
from backend.adapters.webhook_http import TargetGuard
from backend.book.naming import simulated_epcs
from backend.domain.evidence import parse_leaf

LOAN = "/api/v1/loans/loan-acme-1"
LOT_EPCS = simulated_epcs("lot-sh-1", 40)


def repaid(client, amount=300_000) -> str:
    """The lender records a repayment (confirmed at once): room for a few coils to leave."""
    return client.post(f"{LOAN}/repayments", json={"amount": amount}, headers=as_("bank-north")).json()["id"]


def ask(client, who="acme-steel", **body):
    return client.post(f"{LOAN}/releases", json={"lot": "lot-sh-1", **body}, headers=as_(who))


def approve(client, request_id, who="bank-north", **body):
    return client.post(f"{LOAN}/releases/{request_id}/approve", json=body or None, headers=as_(who))


def test_the_borrower_asks_the_lender_approves_and_the_signed_order_names_the_epcs(book):
    context, client, clock = book
    run_for(context, clock, 3)
    asked = ask(client, epcs=LOT_EPCS[:3], repayment=repaid(client))
    assert asked.status_code == 201, asked.text
    assert (asked.json()["state"], asked.json()["requested_by"]) == ("pending", "acme-steel")
    assert approve(client, asked.json()["id"], who="acme-steel").status_code == 404   # a borrower never approves
    done = approve(client, asked.json()["id"])
    assert done.status_code == 200, done.text
    order = done.json()["delivery_order"]
    assert (done.json()["request"]["state"], done.json()["request"]["decided_by"]) == ("approved", "bank-north")
    assert order["epcs"] == sorted(LOT_EPCS[:3]) and order["document"]["epcs"] == sorted(LOT_EPCS[:3])
    assert order["valid_until_s"] - order["issued_at_s"] == 86_400
    key = client.get("/api/v1/documents/key").json()
    load_pem_public_key(key["public_key_pem"].encode()).verify(base64.b64decode(order["signature"]),
                                                               order["body"].encode())
    assert key["key_id"] == order["key_id"]
    page = client.get(f"/api/v1/delivery-orders/{order['id']}/print", headers=as_("wh-shanghai"))
    assert page.status_code == 200 and LOT_EPCS[0] in page.text and order["signature"] in page.text


def test_a_requester_cannot_approve_its_own_request_and_an_admin_is_recorded_as_the_admin(book):
    context, client, clock = book
    run_for(context, clock, 3)
    own = ask(client, who="admin", items=1).json()
    refused = approve(client, own["id"], who="admin")
    assert refused.status_code == 409 and "maker-checker" in refused.json()["detail"]
    by_supervisor = ask(client, who="supervisor", items=1).json()
    done = approve(client, by_supervisor["id"], who="admin")
    assert done.status_code == 200, done.text
    assert done.json()["request"]["decided_by"] == "admin"
    assert done.json()["delivery_order"]["document"]["approved_by"] == "admin"
    assert done.json()["delivery_order"]["document"]["requested_by"] == "supervisor"
    refused = client.post(f"{LOAN}/releases/{own['id']}/refuse", json={"reason": "no cash seen"},
                          headers=as_("bank-north"))
    assert (refused.json()["state"], refused.json()["decided_by"], refused.json()["reason"]) == (
        "refused", "bank-north", "no cash seen")


def test_two_requests_for_the_same_epcs_never_both_stand(book):
    context, client, clock = book
    run_for(context, clock, 3)
    assert ask(client, epcs=LOT_EPCS[:2]).status_code == 201
    second = ask(client, who="supervisor", epcs=LOT_EPCS[1:3])
    assert second.status_code == 409 and "another pending request" in second.json()["detail"]


def test_the_warehouse_acknowledges_its_own_orders_only(book):
    context, client, clock = book
    run_for(context, clock, 3)
    order = approve(client, ask(client, items=2).json()["id"]).json()["delivery_order"]
    url = f"/api/v1/delivery-orders/{order['id']}"
    assert client.get(url, headers=as_("wh-qingdao")).status_code == 404
    assert client.post(f"{url}/acknowledge", headers=as_("wh-qingdao")).status_code == 404
    assert client.post(f"{url}/acknowledge", headers=as_("bank-north")).status_code == 404
    done = client.post(f"{url}/acknowledge", headers=as_("wh-shanghai"))
    assert (done.json()["state"], done.json()["acknowledged_by"]) == ("acknowledged", "wh-shanghai")
    assert client.post(f"{url}/acknowledge", headers=as_("wh-shanghai")).status_code == 409
    assert [o["id"] for o in client.get("/api/v1/delivery-orders", headers=as_("wh-shanghai")).json()] == [order["id"]]
    assert client.get("/api/v1/delivery-orders", headers=as_("wh-qingdao")).json() == []


def test_the_orders_epcs_leave_silently_and_fulfil_it_other_items_are_unauthorized(book):
    context, client, clock = book
    seq = run_for(context, clock, 3)
    repaid(client)
    order = approve(client, ask(client, epcs=LOT_EPCS[:3]).json()["id"]).json()["delivery_order"]
    gone = {"lot-sh-1": LOT_EPCS[:3]}
    seq = run_for(context, clock, 20, start_seq=seq, gone=gone)
    assert client.get("/api/v1/alerts", headers=as_("admin")).json() == []
    after = client.get(f"/api/v1/delivery-orders/{order['id']}", headers=as_("bank-north")).json()
    assert (after["state"], after["left_epcs"]) == ("fulfilled", sorted(LOT_EPCS[:3]))
    lot = client.get("/api/v1/lots/lot-sh-1", headers=as_("admin")).json()
    assert (lot["pledged_items"], lot["observed_items"]) == (37, 37)
    run_for(context, clock, 16, start_seq=seq, gone={"lot-sh-1": LOT_EPCS[:3] + LOT_EPCS[-3:]})
    [alert] = client.get("/api/v1/alerts", headers=as_("admin")).json()
    assert (alert["type"], alert["details"]["missing_epcs"]) == ("unauthorized_removal", sorted(LOT_EPCS[-3:]))


def test_each_step_is_told_to_the_lender_and_logged_as_evidence(book):
    context, client, clock = book
    context.webhooks.targets = TargetGuard(allow_private=True)
    context.webhooks.register("bank-north", "http://127.0.0.1:9/hook", None)    # every event type
    seq = run_for(context, clock, 3)
    repaid(client)
    refused = ask(client, items=1).json()
    client.post(f"{LOAN}/releases/{refused['id']}/refuse", json={"reason": "no"}, headers=as_("bank-north"))
    order = approve(client, ask(client, epcs=LOT_EPCS[:2]).json()["id"]).json()["delivery_order"]
    client.post(f"/api/v1/delivery-orders/{order['id']}/acknowledge", headers=as_("wh-shanghai"))
    run_for(context, clock, 6, start_seq=seq, gone={"lot-sh-1": LOT_EPCS[:2]})
    expiring = approve(client, ask(client, items=1).json()["id"], valid_for_s=60).json()["delivery_order"]
    clock.now_s += 120
    run_for(context, clock, 2, start_seq=seq + 6, gone={"lot-sh-1": LOT_EPCS[:2]})
    assert client.get(f"/api/v1/delivery-orders/{expiring['id']}", headers=as_("admin")).json()["state"] == "expired"
    with context.webhooks.store.engine.connect() as db:
        bodies = [json.loads(body) for body in db.scalars(select(t.webhook_outbox.c.body).order_by(t.webhook_outbox.c.id))]
    types = [b["type"].removeprefix("com.pledgewatch.") for b in bodies if "release" in b["type"] or "delivery" in b["type"]]
    assert types == ["release.requested", "release.refused", "release.requested", "release.approved",
                     "delivery_order.issued", "delivery_order.acknowledged", "delivery_order.fulfilled",
                     "release.requested", "release.approved", "delivery_order.issued", "delivery_order.expired"]
    openapi = client.get("/openapi.json").json()
    validators = {name: jsonschema_rs.validator_for({"components": openapi["components"], **hook["post"][
        "requestBody"]["content"]["application/json"]["schema"]}) for name, hook in openapi["webhooks"].items()}
    for event in bodies:
        assert [name for name, v in validators.items() if v.is_valid(event)] == [event["type"].split(".")[2]], (
            event, [str(e) for v in validators.values() for e in v.iter_errors(event)][:3])
    kinds = [parse_leaf(logged.leaf).kind for logged in context.evidence.log.of_kinds(
        ["release.requested", "release.approved", "release.refused", "delivery_order.issued",
         "delivery_order.acknowledged", "delivery_order.fulfilled", "delivery_order.expired"], 0, 2**40)]
    assert kinds.count("delivery_order.fulfilled") == 1 and kinds.count("delivery_order.expired") == 1
    assert len(kinds) == 11
