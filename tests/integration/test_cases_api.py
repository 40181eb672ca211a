"""The risk case base through the API, on SQLite and PostgreSQL: an alert closed with an outcome
becomes a case with its episode's features; each new alert carries matches (a lender's only
against its own cases); a strong standard match opens its playbook as tasks that escalate once
when overdue (a signed webhook that fits its schema, a live event) and close with who did them."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent / "webhooks"))
from bank_receiver import Receiver  # noqa: E402
from book_helpers import BOOK, Clock, api_keys, as_, run_for  # noqa: E402

from backend.api.app import create_app  # noqa: E402
from backend.bootstrap import build_context, webhook_relay  # noqa: E402
from backend.settings import BackendSettings  # noqa: E402


@pytest.fixture
def world(tmp_path, database_url):
    clock = Clock(float(int(time.time())))  # near real time: the bank's receiver checks webhook-timestamp
    settings = BackendSettings(data_dir=tmp_path / "data", database_url=database_url, book=BOOK,
                               roles=["api", "monitor"], api_keys=api_keys(), webhook_allow_private=True,
                               webhooks={"relay": False},
                               monitor={"reporting_period_s": 60, "confirmation_s": 600})
    context = build_context(settings, clock)
    receivers: list[Receiver] = []
    yield context, TestClient(create_app(context)), clock, receivers
    for receiver in receivers:
        receiver.stop()
    context.close()


def removal(context, client, clock, lot: str, seq: int = 1) -> tuple[dict, int]:
    """Four items leave `lot` without a release: its unauthorized_removal alert (and the next seq)."""
    seq = run_for(context, clock, 3, start_seq=seq)
    seq = run_for(context, clock, 20, start_seq=seq, missing={lot: 4})
    found = [a for a in client.get("/api/v1/alerts", params={"type": "unauthorized_removal"},
                                   headers=as_("admin")).json() if a["lot"] == lot and a["state"] != "resolved"]
    assert len(found) == 1, found
    return found[0], seq


def test_closing_with_an_outcome_records_the_episode_as_a_case(world):
    context, client, clock, _ = world
    alert, _ = removal(context, client, clock, "lot-sh-1")
    url = f"/api/v1/alerts/{alert['id']}"
    assert alert["matches"] and {m["kind"] for m in alert["matches"]} == {"standard"}
    assert all(m["matched"] and 0 < m["score"] <= 1 for m in alert["matches"])
    loss = {"outcome": "confirmed_loss", "note": "four coils gone", "loss_amount": "125000.00", "loss_currency": "CNY"}
    assert client.post(f"{url}/resolve", json=loss, headers=as_("bank-north")).status_code == 403
    missing_amount = client.post(f"{url}/resolve", json={"outcome": "confirmed_loss"}, headers=as_("supervisor"))
    assert missing_amount.status_code == 400 and "loss_amount" in missing_amount.text
    assert client.post(f"{url}/resolve", json={"outcome": "bad_luck"}, headers=as_("supervisor")).status_code == 422
    assert client.get(url, headers=as_("admin")).json()["state"] != "resolved"   # refusals changed nothing

    assert client.post(f"{url}/resolve", json=loss, headers=as_("supervisor")).json()["state"] == "resolved"
    [case] = client.get("/api/v1/cases", headers=as_("supervisor")).json()
    assert (case["alert"], case["outcome"], case["note"], case["loss_amount"], case["loss_currency"],
            case["recorded_by"]) == (alert["id"], "confirmed_loss", "four coils gone", "125000.00", "CNY", "supervisor")
    assert (case["lender"], case["borrower"], case["lot"], case["warehouse"], case["gateway"], case["commodity"]) == (
        "bank-north", "acme-steel", "lot-sh-1", "wh-shanghai", "gw-shanghai", "steel_coil")
    assert case["alert_types"][0] == "unauthorized_removal" and alert["id"] in case["alert_ids"]
    assert case["features"]["tags_gone"] == 1 and case["features"]["temperature"] == 0
    assert case["closed_at_s"] == clock() and case["opened_at_s"] == alert["opened_at_s"]
    assert case["blind_s"] == 0 and set(case["summary"]) == {"sensor_states", "ltv_path", "durations", "actions"}
    assert case["summary"]["ltv_path"]["history"]["points"] >= 1       # the loan's history over the episode

    again = client.post(f"{url}/outcome", json={"outcome": "false_alarm"}, headers=as_("supervisor"))
    assert again.status_code == 409
    assert client.get(f"/api/v1/cases/{case['id']}", headers=as_("bank-north")).json()["id"] == case["id"]
    assert client.get(f"/api/v1/cases/{case['id']}", headers=as_("bank-south")).status_code == 404
    assert client.get("/api/v1/cases", headers=as_("bank-south")).json() == []
    csv = client.get("/api/v1/exports/cases.csv", headers=as_("bank-north")).text.splitlines()
    assert csv[0].startswith("id,alert,lender") and case["id"] in csv[1] and "125000.00" in csv[1]
    assert len(client.get("/api/v1/exports/cases.csv", headers=as_("bank-south")).text.splitlines()) == 1


def test_a_lenders_alert_is_matched_against_its_own_cases_only(world):
    context, client, clock, _ = world
    north, seq = removal(context, client, clock, "lot-sh-1")
    client.post(f"/api/v1/alerts/{north['id']}/resolve", json={"outcome": "fraud", "note": "staff theft"},
                headers=as_("supervisor"))
    [case] = client.get("/api/v1/cases", headers=as_("admin")).json()
    south, seq = removal(context, client, clock, "lot-sh-2", seq)          # bank-south's lot: the same pattern
    assert south["lender"] == "bank-south" and south["matches"]
    assert all(m["kind"] == "standard" for m in client.get(f"/api/v1/alerts/{south['id']}", headers=as_("bank-south"))
               .json()["matches"]), "bank-north's case leaked into bank-south's matches"
    seq = run_for(context, clock, 10, start_seq=seq)                     # the goods come back; then go again
    again, _ = removal(context, client, clock, "lot-sh-1", seq)
    closed = [m for m in again["matches"] if m["kind"] == "case"]
    assert [(m["id"], m["outcome"]) for m in closed] == [(case["id"], "fraud")]
    assert {"feature": "tags_gone", "share": closed[0]["matched"][0]["share"]} in closed[0]["matched"]


def assert_fits_schemas(client, deliveries) -> None:
    openapi = client.get("/openapi.json").json()
    validators = {name: jsonschema_rs.validator_for({"components": openapi["components"], **hook["post"][
        "requestBody"]["content"]["application/json"]["schema"]}) for name, hook in openapi["webhooks"].items()}
    for delivery in deliveries:
        assert [name for name, v in validators.items() if v.is_valid(delivery.event)] != [], delivery.event["type"]


def test_playbook_tasks_open_escalate_once_and_close_with_who_did_them(world):
    context, client, clock, receivers = world
    south = Receiver()
    receivers.append(south)
    hook = client.post("/api/v1/webhooks", json={"url": south.url}, headers=as_("bank-south")).json()
    south.secrets.append(hook["secret"])
    published: list = []
    context.playbooks.publish = published.extend                          # the live events, as a dashboard hears them
    client.post("/api/v1/loans/loan-acme-1/pledges", json={"lot": "lot-sh-2"}, headers=as_("admin"))
    context.monitor.tick()
    [alert] = client.get("/api/v1/alerts", params={"type": "double_pledge_attempt"}, headers=as_("bank-south")).json()
    assert alert["matches"][0]["id"] == "double-pledge" and alert["matches"][0]["score"] >= 0.6
    tasks = alert["tasks"]
    assert [(t["step"], t["owner_role"], t["state"]) for t in tasks] == [
        (1, "supervisor", "open"), (2, "supervisor", "open"), (3, "inspector", "open"), (4, "lender", "open")]
    assert tasks[0]["deadline_s"] == alert["opened_at_s"] + 3600 and tasks[0]["case"] == "double-pledge"

    clock.now_s += 2 * 3600                                                # steps 1 (1 h) overdue; 2 (4 h) not yet
    assert context.playbooks.escalate_overdue() == 1 and context.playbooks.escalate_overdue() == 0
    assert [(e.type, e.lender, e.data["step"]) for e in published] == [("playbook.overdue", "bank-south", 1)]
    relay = webhook_relay(context.settings, context.webhooks.store, context.metrics, clock)
    relay.run_once()
    overdue = [d.event for d in south.deliveries if d.event["type"] == "com.pledgewatch.playbook.overdue"]
    assert [(e["data"]["alert"], e["data"]["step"], e["data"]["case"]) for e in overdue] == [
        (alert["id"], 1, "double-pledge")]
    opened = next(d.event for d in south.deliveries if d.event["type"].endswith("double_pledge_attempt.opened"))
    assert opened["data"]["matches"][0]["id"] == "double-pledge"
    assert_fits_schemas(client, south.deliveries)

    url = f"/api/v1/alerts/{alert['id']}/tasks"
    assert client.post(f"{url}/1/done", headers=as_("bank-south")).status_code == 403    # the supervisor's step
    assert client.post(f"{url}/4/done", headers=as_("bank-north")).status_code == 404    # not its alert
    assert client.post(f"{url}/4/done", headers=as_("bank-south")).json()["done_by"] == "bank-south"
    done = client.post(f"{url}/1/done", headers=as_("supervisor")).json()
    assert (done["state"], done["done_by"], done["done_at_s"]) == ("done", "supervisor", clock())
    assert client.post(f"{url}/1/done", headers=as_("supervisor")).status_code == 409
    assert client.post(f"{url}/9/done", headers=as_("supervisor")).status_code == 404
    states = [t["state"] for t in client.get(f"/api/v1/alerts/{alert['id']}", headers=as_("admin")).json()["tasks"]]
    assert states == ["done", "open", "open", "done"]


def test_staff_edit_a_playbook_as_a_new_version(world):
    _, client, _, _ = world
    steps = {"steps": [{"title": "Freeze the lot", "owner_role": "supervisor", "deadline_s": 600},
                       {"title": "Call the bank", "owner_role": "lender", "deadline_s": 3600, "description": "at once"}]}
    url = "/api/v1/risk-cases/filler-swap/playbook"
    assert client.put(url, json=steps, headers=as_("bank-north")).status_code == 403
    assert client.put(url, json={"steps": []}, headers=as_("supervisor")).status_code == 422
    bad_role = {"steps": [{"title": "x", "owner_role": "janitor", "deadline_s": 1}]}
    assert client.put(url, json=bad_role, headers=as_("supervisor")).status_code == 422
    assert client.put("/api/v1/risk-cases/nope/playbook", json=steps, headers=as_("supervisor")).status_code == 404
    edited = client.put(url, json=steps, headers=as_("supervisor")).json()
    assert (edited["version"], edited["created_by"], len(edited["steps"])) == (2, "supervisor", 2)
    versions = client.get(url, headers=as_("bank-north")).json()
    assert [(v["version"], v["created_by"]) for v in versions] == [(1, "seed"), (2, "supervisor")]
    listed = {c["id"]: c for c in client.get("/api/v1/risk-cases", headers=as_("bank-north")).json()}
    assert len(listed) >= 9 and listed["filler-swap"]["playbook"]["version"] == 2
    assert listed["double-pledge"]["sources"] and listed["double-pledge"]["pattern"]["double_pledge"] == 1


def test_resolving_without_an_outcome_still_works_as_before(world):
    context, client, clock, _ = world
    alert, _ = removal(context, client, clock, "lot-sh-1")
    url = f"/api/v1/alerts/{alert['id']}/resolve"
    assert client.post(url, json={"note": "no outcome"}, headers=as_("supervisor")).status_code == 400
    assert client.post(url, json={}, headers=as_("supervisor")).json()["state"] == "resolved"
    assert client.get("/api/v1/cases", headers=as_("admin")).json() == []
    later = client.post(f"/api/v1/alerts/{alert['id']}/outcome", json={"outcome": "false_alarm", "note": "count ok"},
                        headers=as_("supervisor"))
    assert later.status_code == 201 and later.json()["outcome"] == "false_alarm"
