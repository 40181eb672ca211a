"""Every money and book decision is in the log with who made it (issue 15): loans and lots
created through the registry API, top-ups (asked, approved, refused as a double pledge),
repayments entered, confirmed and rejected, inspections, alert comments; the loan's pack
carries them with the database's rows, verifies, and names a repayment row edited or deleted."""
from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import delete, update

from backend.adapters.db import tables as t

from .world import LOAN, as_, pack_files, run_history

BASE = f"/api/v1/loans/{LOAN}"


def _decide_everything(world) -> dict[str, str]:
    """Decisions of every kind on loan-river-1, through the API; the ids they made."""
    client = world.client
    lot = {"id": "lot-qd-9", "warehouse": "wh-qingdao", "commodity": "copper_cathode", "scale": "lot-qd-9-scale",
           "reader": "lot-qd-9-reader", "items": [{"epc": "e2801160600002", "quantity": "2.5", "weight_kg": 2.5}]}
    assert client.post("/api/v1/lots", json=lot, headers=as_("supervisor")).status_code == 201
    asked = client.post(f"{BASE}/pledges", json={"lot": "lot-qd-9"}, headers=as_("supervisor"))
    assert asked.status_code == 201, asked.text
    approved = client.post(f"{BASE}/pledges/{asked.json()['id']}/approve", headers=as_("bank-north"))
    assert approved.status_code == 200, approved.text
    double = client.post(f"{BASE}/pledges", json={"lot": "lot-nb-1"}, headers=as_("bank-north"))
    assert double.status_code == 409
    world.tick()
    entered = client.post(f"{BASE}/repayments", json={"amount": "1000.50"}, headers=as_("supervisor")).json()
    confirm = client.post(f"{BASE}/repayments/{entered['id']}/confirm", headers=as_("bank-north"))
    assert confirm.status_code == 200, confirm.text
    other = client.post(f"{BASE}/repayments", json={"amount": "7"}, headers=as_("supervisor")).json()
    rejected = client.post(f"{BASE}/repayments/{other['id']}/reject", json={"reason": "never arrived"},
                           headers=as_("bank-north"))
    assert rejected.status_code == 200, rejected.text
    count = client.post("/api/v1/inspections", json={"lot": "lot-qd-1", "items": 60, "quantity": "150"},
                        headers=as_("supervisor"))
    assert count.status_code == 201, count.text
    return {"request": asked.json()["id"], "repayment": entered["id"], "rejected": other["id"]}


def _kinds(pack) -> list[dict]:
    return [json.loads(json.loads(line)["leaf"]) for line in pack_files(pack)["entries.jsonl"].splitlines()]


def test_each_decision_is_logged_with_who_made_it_and_the_pack_verifies(world):
    alert_id = run_history(world, 5)
    ids = _decide_everything(world)
    assert world.client.post(f"/api/v1/alerts/{alert_id}/comments", json={"text": "goods recounted"},
                             headers=as_("bank-north")).status_code == 201
    pack = world.export()
    verdict = world.verify(pack)
    assert verdict.failures == []
    assert verdict.checked["database/repayments.json"] == 2 and verdict.checked["database/collateral.json"] == 1
    leaves = _kinds(pack)
    by_kind = {}
    for leaf in leaves:
        by_kind.setdefault(leaf["kind"], []).append(leaf)
    assert [leaf["payload"]["by"] for leaf in by_kind["pledge.requested"]] == ["supervisor"]
    assert [(leaf["subjects"]["lot"], leaf["payload"]["by"], leaf["payload"]["request"])
            for leaf in by_kind["pledge"] if "request" in leaf["payload"]] == [("lot-qd-9", "bank-north", ids["request"])]
    assert {"lot-qd-1", "lot-qd-2"} <= {leaf["subjects"]["lot"] for leaf in by_kind["pledge"]}  # the book's, by "book"
    [refused] = by_kind["pledge.refused"]
    assert (refused["subjects"], refused["payload"]["reason"]) == ({"loan": LOAN, "lot": "lot-nb-1"}, "already pledged")
    [confirmed] = by_kind["repayment"]
    assert (confirmed["payload"]["amount"], confirmed["payload"]["by"], confirmed["payload"]["entered_by"]) == \
        ("1000.5", "bank-north", "supervisor")
    assert by_kind["repayment.rejected"][0]["payload"]["reason"] == "never arrived"
    assert by_kind["loan.created"][0]["payload"]["lender"] == "bank-north"
    assert {leaf["subjects"]["lot"] for leaf in by_kind["lot.created"]} >= {"lot-qd-1", "lot-qd-2", "lot-qd-9"}
    assert by_kind["inspection.recorded"][0]["payload"]["quantity"] == "150"
    assert by_kind["alert.commented"][0]["payload"] == {"by": "bank-north", "comment": "goods recounted"}


def test_a_repayment_row_edited_or_deleted_is_named(world):
    run_history(world, 2)
    ids = _decide_everything(world)
    R = t.repayments
    with world.engine.begin() as db:  # as an operator with database access would
        db.execute(update(R).where(R.c.ref == ids["repayment"]).values(amount=Decimal("100000")))
        db.execute(delete(R).where(R.c.ref == ids["rejected"]))
    verdict = world.verify(world.export())
    failures = "\n".join(verdict.failures)
    assert f"repayment {ids['repayment']} (confirmed): the database says amount 100000" in failures
    assert "the log says 1000.5" in failures
    assert f"entry repayment.rejected {ids['rejected']}" in failures and "repayments.json has no row" in failures
