"""The whole book's cases and risk scores on PostgreSQL with two API processes (two contexts
on one database, as two processes would be): an outcome recorded through one becomes a case
and moves the scores read through the other, and two recordings of the same alert's outcome
at once, one through each, leave exactly one case."""
from __future__ import annotations

import threading

import pytest
from book_helpers import BOOK, Clock, api_keys, as_, run_for
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.bootstrap import build_context
from backend.settings import BackendSettings


@pytest.fixture
def two_apis(tmp_path, postgres_server):
    """(context of the API that also monitors, its client, the other API's client, clock)."""
    clock = Clock()
    common = {"database_url": postgres_server.new_database(), "book": BOOK, "api_keys": api_keys(),
              "monitor": {"reporting_period_s": 60, "confirmation_s": 600}}
    first = build_context(BackendSettings(data_dir=tmp_path / "first", roles=["api", "monitor"], **common), clock)
    second = build_context(BackendSettings(data_dir=tmp_path / "second", roles=["api"], **common), clock)
    yield first, TestClient(create_app(first)), TestClient(create_app(second)), clock
    second.close()
    first.close()


def _open_alerts_on(client, lot: str) -> list[dict]:
    return [a for a in client.get("/api/v1/alerts", headers=as_("admin")).json()
            if a["lot"] == lot and a["state"] != "resolved"]


def _warehouse(client, who: str) -> dict:
    answer = client.get("/api/v1/risk-scores", params={"kind": "warehouse"}, headers=as_(who))
    assert answer.status_code == 200, answer.text
    return {row["id"]: row for row in answer.json()["scores"]}["wh-shanghai"]


def test_an_outcome_recorded_through_one_api_is_a_case_and_a_score_through_the_other(two_apis):
    first, client_1, client_2, clock = two_apis
    seq = run_for(first, clock, 3)
    run_for(first, clock, 15, start_seq=seq, missing={"lot-sh-1": 8})
    [alert, *_] = _open_alerts_on(client_2, "lot-sh-1")
    before = _warehouse(client_1, "bank-north")
    loss = {"outcome": "confirmed_loss", "note": "8 coils gone", "loss_amount": "96000.00", "loss_currency": "CNY"}
    resolved = client_2.post(f"/api/v1/alerts/{alert['id']}/resolve", json=loss, headers=as_("supervisor"))
    assert resolved.status_code == 200, resolved.text

    [case] = client_1.get("/api/v1/cases", headers=as_("bank-north")).json()
    assert (case["alert"], case["outcome"], case["loss_amount"]) == (alert["id"], "confirmed_loss", "96000.00")
    assert client_2.get("/api/v1/cases", headers=as_("supervisor")).json() == \
        client_1.get("/api/v1/cases", headers=as_("supervisor")).json()
    after = _warehouse(client_1, "bank-north")
    assert after["inputs"]["confirmed_losses"]["count"] == before["inputs"]["confirmed_losses"]["count"] + 1
    assert after["inputs"]["loss_amounts"]["CNY"]["amount"] == "96000.00"
    assert after["score"] > before["score"]
    assert _warehouse(client_2, "bank-north") == after                  # both APIs score alike
    assert _warehouse(client_1, "bank-south")["inputs"]["cases"] == {}  # north's case stays north's


def test_two_apis_recording_one_alerts_outcome_at_once_leave_one_case(two_apis):
    first, client_1, client_2, clock = two_apis
    seq = run_for(first, clock, 3)
    run_for(first, clock, 15, start_seq=seq, missing={"lot-sh-2": 8})
    alerts = _open_alerts_on(client_1, "lot-sh-2")
    assert alerts
    for alert in alerts:                       # closed without an outcome: the outcome comes later
        assert client_1.post(f"/api/v1/alerts/{alert['id']}/resolve", json={},
                             headers=as_("supervisor")).status_code == 200
    for alert in alerts:
        start = threading.Barrier(2)
        answers: list[int] = []

        def record(client, outcome: str, alert_id: str = alert["id"]) -> None:
            start.wait()
            answers.append(client.post(f"/api/v1/alerts/{alert_id}/outcome", json={"outcome": outcome},
                                       headers=as_("supervisor")).status_code)
        threads = [threading.Thread(target=record, args=(client_1, "fraud")),
                   threading.Thread(target=record, args=(client_2, "sensor_fault"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(answers) == [201, 409], answers
    cases = client_2.get("/api/v1/cases", headers=as_("bank-south")).json()
    assert sorted(c["alert"] for c in cases) == sorted(a["id"] for a in alerts)
    scored = _warehouse(client_1, "bank-south")["inputs"]["cases"]
    assert sum(tally["count"] for tally in scored.values()) == len(alerts)
