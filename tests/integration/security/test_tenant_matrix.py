"""Tenant isolation, generated from the OpenAPI schema: every route × every role × another
party's ids. A lender, a borrower or a warehouse must get 404 for anything not its own and
never see it in a list.

A new route with a path parameter or a body must be added to PATH_IDS / BODIES below,
or this test fails: isolation is checked for every route, not for the ones we remember.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from fastapi import Depends, HTTPException
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from book_helpers import as_, run_for  # noqa: E402

from backend.adapters.webhook_http import TargetGuard  # noqa: E402
from backend.api.app import create_app  # noqa: E402
from backend.api.deps import context as app_context  # noqa: E402
from backend.api.deps import principal

# bank-north is the caller; everything below belongs to bank-south or to staff only.
# key_id and silence_id: staff-only objects (any id: a lender must get 404 before the id is looked at)
THEIRS = {"loan_id": "loan-acme-2", "lot_id": "lot-sh-2", "gateway_id": "gw-shanghai", "key_id": "0123456789ab",
          "silence_id": "sil-0123456789ab", "case_id": "double-pledge", "step": "1"}
THEIR_NAMES = ("loan-acme-2", "loan-delta-1", "lot-sh-2", "lot-nb-1", "bank-south")
BODIES = {
    ("post", "/api/v1/loans"): {"id": "l-x", "lender": "bank-north", "borrower": "acme-steel",
                                "outstanding": 1, "currency": "CNY", "target_ltv": 0.5,
                                "thresholds": {"warning": 0.7, "margin_call": 0.8, "liquidation": 0.9}},
    ("post", "/api/v1/loans/{loan_id}/pledges"): {"lot": "lot-sh-2"},
    ("post", "/api/v1/loans/{loan_id}/repayments"): {"amount": 1},
    ("post", "/api/v1/loans/{loan_id}/releases/quote"): {"lot": "lot-sh-2", "items": 1, "repayment": 0},
    ("post", "/api/v1/loans/{loan_id}/releases"): {"lot": "lot-sh-2", "items": 1},
    ("post", "/api/v1/loans/{loan_id}/releases/{release_id}/approve"): {"valid_for_s": 3600},
    ("post", "/api/v1/loans/{loan_id}/releases/{release_id}/refuse"): {"reason": "x"},
    ("post", "/api/v1/loans/{loan_id}/repayments/{repayment_id}/reject"): {"reason": "x"},
    ("post", "/api/v1/loans/{loan_id}/drawdowns"): {"amount": 1},
    ("post", "/api/v1/loans/{loan_id}/pledges/{request_id}/reject"): {"reason": "x"},
    ("post", "/api/v1/loans/{loan_id}/substitutions"): {"release_lot": "lot-sh-2", "pledge_lot": "lot-sh-1"},
    ("post", "/api/v1/loans/{loan_id}/substitutions/{request_id}/reject"): {"reason": "x"},
    ("post", "/api/v1/alerts/{alert_id}/ack"): {"note": "x"},
    ("post", "/api/v1/alerts/ack"): {"ids": ["{alert_id}"], "note": "x"},
    ("put", "/api/v1/alerts/{alert_id}/assignee"): {"assignee": "x"},
    ("post", "/api/v1/alerts/{alert_id}/comments"): {"text": "x"},
    ("post", "/api/v1/prices"): {"commodity": "steel_coil", "price": 1, "currency": "CNY", "per": "t"},
    ("post", "/api/v1/lenders"): {"id": "x"},
    ("post", "/api/v1/keys"): {"name": "x", "role": "supervisor"},
    ("post", "/api/v1/fx"): {"base": "USD", "quote": "CNY", "rate": 7},
    ("post", "/api/v1/prices/impact"): {"commodity": "steel_coil", "price": 1, "currency": "CNY", "per": "t"},
    ("post", "/api/v1/webhooks"): {"lender": "bank-south", "url": "https://bank-south.example/hook"},
    ("post", "/api/v1/webhooks/{webhook_id}/redeliver"): {"event_id": "x"},
    ("post", "/api/v1/gateways/{gateway_id}/commands"): {"name": "rebirth"},
    ("post", "/api/v1/borrowers"): {"id": "x"},
    ("post", "/api/v1/commodities"): {"id": "x", "unit": "t"},
    ("post", "/api/v1/inspections"): {"lot": "lot-sh-2", "items": 24, "quantity": 360},
    ("post", "/api/v1/silences"): {"scope": "type", "value": "sensor_fault", "reason": "x", "for_s": 60},
    ("post", "/api/v1/stress"): {"shocks": ["steel_coil=-20%"], "warehouses_lost": ["wh-shanghai"]},
    ("post", "/api/v1/warehouses"): {"id": "x", "gateway": "gw-x"},
    ("post", "/api/v1/lots"): {"id": "x", "warehouse": "wh-shanghai", "commodity": "steel_coil",
                               "scale": "x1", "reader": "x2",
                               "items": [{"epc": "ab" * 12, "quantity": 1, "weight_kg": 1}]},
    ("post", "/api/v1/log/cosignatures"): {"note": "x"},
    ("post", "/api/v1/alerts/{alert_id}/resolve"): {"outcome": "false_alarm", "note": "x"},
    ("post", "/api/v1/alerts/{alert_id}/outcome"): {"outcome": "false_alarm", "note": "x"},
    ("put", "/api/v1/risk-cases/{case_id}/playbook"): {"steps": [{"title": "x", "owner_role": "supervisor",
                                                                  "deadline_s": 3600}]},
}
# Required query parameters: a route that has one must be given it here.
QUERIES = {("get", "/api/v1/risk-scores"): {"kind": "borrower"}}
PUBLIC = {("get", "/api/v1/health"), ("get", "/metrics"), ("get", "/api/v1/events")}
# Acts only on the caller's own: no other lender's id can be named (a bank's own witness key).
OWN = {("post", "/api/v1/log/cosignatures")}
# Acts on a list of ids: another lender's id is skipped exactly as an id that does not exist.
BULK = {("post", "/api/v1/alerts/ack")}
# Computes over the caller's own book (a lender: its loans): answers 200 (404 for a party with no
# book) and names nothing of another's.
OWN_BOOK = {("post", "/api/v1/stress")}
# The standard risk cases' playbooks: a library every party may read (staff alone edit, 403
# otherwise); no party's data in them.
SHARED = {("get", "/api/v1/risk-cases/{case_id}/playbook"), ("put", "/api/v1/risk-cases/{case_id}/playbook")}
# Who calls, and what must never show in what it lists: another lender's, another borrower's,
# another warehouse's objects (the ids in the routes are bank-south's and acme-steel's).
CALLERS = {"bank-north": THEIR_NAMES,
           "delta-foods": ("loan-acme-2", "loan-acme-1", "lot-sh-2", "lot-sh-1", "loan-river-1", "lot-qd-1"),
           "wh-qingdao": ("lot-sh-2", "lot-sh-1", "lot-nb-1", "loan-acme-2", "loan-delta-1")}


def _with_ids(body, their_ids: dict[str, str]):
    """A body template with another lender's ids put in ("{alert_id}")."""
    if isinstance(body, dict):
        return {key: _with_ids(value, their_ids) for key, value in body.items()}
    if isinstance(body, list):
        return [_with_ids(value, their_ids) for value in body]
    return re.sub(r"\{(\w+)\}", lambda m: their_ids[m.group(1)], body) if isinstance(body, str) else body


def routes(app):
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            required = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query" and p.get("required")]
            assert set(required) <= set(QUERIES.get((method, path), {})), f"{method.upper()} {path}: add to QUERIES"
            yield method, path, params, "requestBody" in operation


def leaks(app, client: TestClient, their_ids: dict[str, str], who: str = "bank-north") -> list[str]:
    """What `who` can reach of another party's or staff-only data, route by route."""
    names = CALLERS[who]
    found = []
    for method, path, params, has_body in routes(app):
        if (method, path) in PUBLIC:
            continue
        missing = [p for p in params if p not in their_ids]
        assert not missing, f"{method.upper()} {path}: add another lender's id for {missing} to the matrix"
        assert not has_body or (method, path) in BODIES, f"{method.upper()} {path}: add a valid body to BODIES"
        url = re.sub(r"\{(\w+)\}", lambda m: their_ids[m.group(1)], path)
        answer = client.request(method, url, json=_with_ids(BODIES.get((method, path)), their_ids),
                                params=QUERIES.get((method, path)), headers=as_(who))
        if (method, path) in OWN:
            if answer.status_code < 400:
                found.append(f"{method.upper()} {url} answered {answer.status_code}")
        elif (method, path) in BULK:
            nothing = {"acknowledged": [], "skipped": {their_ids["alert_id"]: f"no alert {their_ids['alert_id']!r}"}}
            if answer.status_code != 200 or answer.json() != nothing:
                found.append(f"{method.upper()} {url} answered {answer.status_code} {answer.text[:200]}")
        elif (method, path) in OWN_BOOK:
            if answer.status_code not in (200, 404) or any(name in answer.text for name in names):
                found.append(f"{method.upper()} {url} answered {answer.status_code} or named another lender's data")
        elif (method, path) in SHARED:
            if answer.status_code not in (200, 403) or any(name in answer.text for name in names):
                found.append(f"{method.upper()} {url} answered {answer.status_code} or named another's data")
        elif params or method != "get":
            if answer.status_code != 404:
                found.append(f"{method.upper()} {url} answered {answer.status_code}")
        elif answer.status_code == 200 and any(name in answer.text for name in names):
            found.append(f"{method.upper()} {url} lists another lender's data")
        elif answer.status_code not in (200, 404):
            found.append(f"{method.upper()} {url} answered {answer.status_code}")
    return found


def their_alert(client: TestClient, context) -> str:
    """A double-pledge attempt on bank-south's lot: an alert addressed to bank-south."""
    client.post("/api/v1/loans/loan-acme-1/pledges", json={"lot": "lot-sh-2"}, headers=as_("admin"))
    context.monitor.tick()
    [alert] = client.get("/api/v1/alerts", headers=as_("bank-south")).json()
    return alert["id"]


def their_entry(client: TestClient, alert_id: str) -> str:
    """The evidence log's entry of their alert (bank-south's)."""
    size = client.get("/api/v1/log/checkpoint", headers=as_("admin")).json()["size"]
    for index in range(size):
        if alert_id in client.get(f"/api/v1/log/proof/{index}", headers=as_("admin")).json()["leaf"]:
            return str(index)
    raise AssertionError("their alert is not in the evidence log")


def their_requests(client: TestClient) -> dict[str, str]:
    """A repayment and a top-up that staff entered on bank-south's loan, pending its approval."""
    repayment = client.post("/api/v1/loans/loan-acme-2/repayments", json={"amount": 1}, headers=as_("supervisor"))
    client.post("/api/v1/lots", json={"id": "lot-spare", "warehouse": "wh-shanghai", "commodity": "steel_coil",
                                      "scale": "spare-scale", "reader": "spare-rfid",
                                      "items": [{"epc": "cd" * 12, "quantity": 1, "weight_kg": 1}]}, headers=as_("admin"))
    request = client.post("/api/v1/loans/loan-acme-2/pledges", json={"lot": "lot-spare"}, headers=as_("supervisor"))
    return {"repayment_id": repayment.json()["id"], "request_id": request.json()["id"]}


def their_release(context, client: TestClient, clock) -> dict[str, str]:
    """On bank-south's loan: a release the borrower asked for, pending, and one approved (its order)."""
    run_for(context, clock, 3)
    loan = "/api/v1/loans/loan-acme-2"
    client.post(f"{loan}/repayments", json={"amount": 200000}, headers=as_("bank-south"))
    pending = client.post(f"{loan}/releases", json={"lot": "lot-sh-2", "items": 1}, headers=as_("acme-steel")).json()
    asked = client.post(f"{loan}/releases", json={"lot": "lot-sh-2", "items": 2}, headers=as_("acme-steel")).json()
    done = client.post(f"{loan}/releases/{asked['id']}/approve", headers=as_("bank-south"))
    assert done.status_code == 200, done.text
    return {"release_id": pending["id"], "order_id": done.json()["delivery_order"]["id"]}


def their_webhook(context) -> str:
    context.webhooks.targets = TargetGuard(allow_private=True)
    endpoint, _secret = context.webhooks.register("bank-south", "http://127.0.0.1:9/hook", None)
    return endpoint.id


def their_objects(context, client: TestClient, clock) -> dict[str, str]:
    releases = their_release(context, client, clock)
    alert_id = their_alert(client, context)
    context.evidence.sign_checkpoint()
    return {**THEIRS, "alert_id": alert_id, "webhook_id": their_webhook(context),
            "entry": their_entry(client, alert_id), **their_requests(client), **releases}


@pytest.mark.parametrize("who", sorted(CALLERS))
def test_a_party_reaches_nothing_of_another(book, who):
    """A lender, a borrower (delta-foods: not acme-steel) and a warehouse (wh-qingdao: not wh-shanghai)."""
    context, client, clock = book
    assert leaks(client.app, client, their_objects(context, client, clock), who) == []


@pytest.mark.parametrize("role", ["admin", "supervisor", "bank-south"])
def test_the_owner_and_staff_do_reach_it(book, role):
    """The 404s above come from the checks, not from broken routes."""
    context, client, clock = book
    alert_id = their_alert(client, context)
    for url in ("/api/v1/loans/loan-acme-2", "/api/v1/lots/lot-sh-2", "/api/v1/loans/loan-acme-2/history",
                "/api/v1/alerts?type=double_pledge_attempt"):
        answer = client.get(url, headers=as_(role))
        assert answer.status_code == 200, (role, url)
    assert alert_id in client.get("/api/v1/alerts", headers=as_(role)).text


def test_the_matrix_catches_a_route_that_forgets_the_check(book):
    context, client, clock = book
    app = create_app(context)

    @app.get("/api/v1/careless/{loan_id}")
    def careless(loan_id: str, caller=Depends(principal), ctx=Depends(app_context)) -> dict:
        loan = ctx.registry.snapshot().loans.get(loan_id)
        if loan is None:
            raise HTTPException(404, "no loan")
        return {"id": loan.id, "lender": loan.lender_id}

    app.openapi_schema = None
    found = leaks(app, TestClient(app), their_objects(context, client, clock))
    assert found == ["GET /api/v1/careless/loan-acme-2 answered 200"]


@pytest.mark.parametrize("who, urls", [
    ("acme-steel", ("/api/v1/loans/loan-acme-2", "/api/v1/lots/lot-sh-2", "/api/v1/loans/loan-acme-2/releases",
                    "/api/v1/delivery-orders/{order_id}")),
    ("wh-shanghai", ("/api/v1/lots/lot-sh-2", "/api/v1/delivery-orders/{order_id}",
                     "/api/v1/delivery-orders/{order_id}/print"))])
def test_the_borrower_and_the_warehouse_do_reach_their_own(book, who, urls):
    context, client, clock = book
    order_id = their_release(context, client, clock)["order_id"]
    for url in urls:
        answer = client.get(url.format(order_id=order_id), headers=as_(who))
        assert answer.status_code == 200, (who, url, answer.text)
    assert client.get("/api/v1/loans", headers=as_("wh-shanghai")).json() == []
    assert client.get("/api/v1/alerts", headers=as_(who)).json() == []
