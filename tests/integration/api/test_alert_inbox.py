"""Working the alert inbox through the API, on SQLite and PostgreSQL: assign, comment,
acknowledge many at once; a lender may acknowledge and comment, not close a loss."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from book_helpers import as_, run_for  # noqa: E402


def removal_alert(context, client, clock) -> dict:
    """Four items leave lot-sh-1 (bank-north's) without a release: unauthorized_removal."""
    seq = run_for(context, clock, 3)
    run_for(context, clock, 20, start_seq=seq, missing={"lot-sh-1": 4})
    [alert] = client.get("/api/v1/alerts", params={"type": "unauthorized_removal"}, headers=as_("admin")).json()
    return alert


def double_pledge_alert(context, client) -> dict:
    """A refused second pledge of bank-south's lot: a notice addressed to bank-south."""
    client.post("/api/v1/loans/loan-acme-1/pledges", json={"lot": "lot-sh-2"}, headers=as_("admin"))
    context.monitor.tick()
    [alert] = client.get("/api/v1/alerts", params={"type": "double_pledge_attempt"}, headers=as_("admin")).json()
    return alert


def test_staff_assign_and_everyone_concerned_comments_in_order(book):
    context, client, clock = book
    alert = removal_alert(context, client, clock)
    url = f"/api/v1/alerts/{alert['id']}"
    assigned = client.put(f"{url}/assignee", json={"assignee": "li.wei"}, headers=as_("supervisor"))
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "li.wei"
    assert client.get(url, headers=as_("bank-north")).json()["assignee"] == "li.wei"
    assert client.put(f"{url}/assignee", json={"assignee": "me"}, headers=as_("bank-north")).status_code == 403
    assert client.put(f"{url}/assignee", json={"assignee": "me"}, headers=as_("bank-south")).status_code == 404

    assert client.post(f"{url}/comments", json={"text": "calling the warehouse"}, headers=as_("supervisor")).status_code == 201
    clock.now_s += 60
    assert client.post(f"{url}/comments", json={"text": "we saw the trucks"}, headers=as_("bank-north")).status_code == 201
    assert client.post(f"{url}/comments", json={"text": "x"}, headers=as_("bank-south")).status_code == 404
    assert client.post(f"{url}/comments", json={"text": ""}, headers=as_("supervisor")).status_code == 422
    comments = client.get(f"{url}/comments", headers=as_("bank-north")).json()
    assert [(c["author"], c["role"], c["text"]) for c in comments] == [
        ("supervisor", "supervisor", "calling the warehouse"), ("bank-north", "lender", "we saw the trucks")]
    assert comments[0]["at_s"] < comments[1]["at_s"]
    assert client.get(f"{url}/comments", headers=as_("bank-south")).status_code == 404

    cleared = client.put(f"{url}/assignee", json={"assignee": None}, headers=as_("supervisor"))
    assert cleared.json()["assignee"] is None
    mutations = [(entry["method"], entry["path"]) for entry in client.get("/api/v1/audit", headers=as_("admin")).json()]
    assert ("POST", f"{url}/comments") in mutations and ("PUT", f"{url}/assignee") in mutations


def test_a_lender_acknowledges_a_loss_but_only_staff_close_it(book):
    context, client, clock = book
    alert = removal_alert(context, client, clock)
    url = f"/api/v1/alerts/{alert['id']}"
    assert client.post(f"{url}/ack", json={"note": "seen"}, headers=as_("bank-north")).status_code == 200
    refused = client.post(f"{url}/resolve", headers=as_("bank-north"))
    assert refused.status_code == 403 and "collateral manager" in refused.json()["detail"]
    assert client.get(url, headers=as_("admin")).json()["state"] == "acknowledged"
    assert client.post(f"{url}/resolve", headers=as_("supervisor")).json()["state"] == "resolved"


def test_a_lender_closes_a_notice_addressed_to_it(book):
    context, client, clock = book
    notice = double_pledge_alert(context, client)
    assert client.post(f"/api/v1/alerts/{notice['id']}/resolve", headers=as_("bank-south")).json()["state"] == "resolved"


def test_acknowledging_many_at_once_says_why_each_was_skipped(book):
    context, client, clock = book
    removal, notice = removal_alert(context, client, clock), double_pledge_alert(context, client)
    assert client.post(f"/api/v1/alerts/{notice['id']}/ack", headers=as_("admin")).status_code == 200
    answer = client.post("/api/v1/alerts/ack", json={"ids": [removal["id"], notice["id"], "nope", removal["id"]],
                                                     "note": "on it"}, headers=as_("supervisor"))
    assert answer.status_code == 200
    body = answer.json()
    assert [(a["id"], a["state"], a["ack_note"]) for a in body["acknowledged"]] == [
        (removal["id"], "acknowledged", "on it")]
    assert body["skipped"] == {notice["id"]: "only an open alert can be acknowledged", "nope": "no alert 'nope'"}
    assert client.post("/api/v1/alerts/ack", json={"ids": []}, headers=as_("supervisor")).status_code == 422
