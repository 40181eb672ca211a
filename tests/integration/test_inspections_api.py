"""Issue 12, inspections through the API: a critical alert on a lot opens a task the lender
sees; a supervisor's short count is a loss at once; a matching count closes the task."""
from __future__ import annotations

from book_helpers import as_, run_for


def test_a_theft_opens_a_task_and_counts_close_it_or_raise_the_loss(book):
    context, client, clock = book
    seq = run_for(context, clock, 3)
    seq = run_for(context, clock, 15, start_seq=seq, missing={"lot-sh-1": 4})
    [task] = client.get("/api/v1/inspections", headers=as_("bank-north")).json()
    assert (task["lot"], task["reasons"], task["state"]) == ("lot-sh-1", ["unauthorized_removal"], "open")
    assert task["deadline_s"] == task["opened_at_s"] + 86_400
    assert client.get("/api/v1/inspections", headers=as_("bank-south")).json() == []
    short = {"lot": "lot-sh-2", "items": 20, "quantity": 300, "note": "4 coils gone"}
    assert client.post("/api/v1/inspections", json=short, headers=as_("bank-north")).status_code == 404
    assert client.post("/api/v1/inspections", json=short, headers=as_("supervisor")).status_code == 201
    count = {"lot": "lot-sh-1", "items": 36, "quantity": 450}
    assert client.post("/api/v1/inspections", json=count, headers=as_("supervisor")).status_code == 201
    run_for(context, clock, 1, start_seq=seq, missing={"lot-sh-1": 4})
    alerts = client.get("/api/v1/alerts", params={"type": "stock_shortfall"}, headers=as_("admin")).json()
    assert sorted(a["lot"] for a in alerts) == ["lot-sh-1", "lot-sh-2"]      # both counts short
    states = {t["lot"]: t["state"] for t in client.get("/api/v1/inspections", headers=as_("admin")).json()}
    assert states == {"lot-sh-1": "done", "lot-sh-2": "done"}
    assert client.post("/api/v1/inspections", json={**count, "lot": "nope"},
                       headers=as_("supervisor")).status_code == 404
    assert client.post("/api/v1/inspections", json={**count, "items": -1},
                       headers=as_("supervisor")).status_code == 422
