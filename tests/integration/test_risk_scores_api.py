"""Risk scores through the API, on SQLite and PostgreSQL: alerts raised by the monitor on the
demo book and a short count, seen by staff and by each bank (its own history only)."""
from __future__ import annotations

import pytest
from book_helpers import as_, run_for

KINDS = ("warehouse", "gateway", "borrower", "commodity")


def _scores(client, who: str, kind: str) -> dict[str, dict]:
    answer = client.get("/api/v1/risk-scores", params={"kind": kind}, headers=as_(who))
    assert answer.status_code == 200, answer.text
    rows = answer.json()["scores"]
    assert [row["score"] for row in rows] == sorted((row["score"] for row in rows), reverse=True)
    return {row["id"]: row for row in rows}


@pytest.fixture
def troubled(book):
    """Coils gone from lot-sh-1 (bank-north's loan to acme-steel, in wh-shanghai beside
    bank-south's lot-sh-2), then a count that finds it short."""
    context, client, clock = book
    seq = run_for(context, clock, 3)
    run_for(context, clock, 15, start_seq=seq, missing={"lot-sh-1": 8})
    count = {"lot": "lot-sh-1", "items": 32, "quantity": 400, "note": "8 coils gone"}
    assert client.post("/api/v1/inspections", json=count, headers=as_("supervisor")).status_code == 201
    return context, client, clock


def test_staff_see_the_history_and_each_bank_only_its_own(troubled):
    _, client, _ = troubled
    staff = _scores(client, "supervisor", "borrower")
    acme = staff["acme-steel"]
    assert acme["inputs"]["confirmed_losses"]["count"] == 1 and acme["inputs"]["alerts"]
    assert acme["score"] == pytest.approx(sum(acme["contributions"].values()), abs=1e-3)
    assert acme["score"] > staff["delta-foods"]["score"]
    north = _scores(client, "bank-north", "borrower")
    assert set(north) == {"acme-steel", "riverside-metals"}
    assert north["acme-steel"]["inputs"]["alerts"] == acme["inputs"]["alerts"]
    south = _scores(client, "bank-south", "borrower")
    assert set(south) == {"acme-steel", "delta-foods"}            # acme borrows from both banks
    for kind, entity in (("borrower", "acme-steel"), ("warehouse", "wh-shanghai"), ("gateway", "gw-shanghai"),
                         ("commodity", "steel_coil")):
        seen_by_south = _scores(client, "bank-south", kind)[entity]
        assert seen_by_south["score"] == 0.0, (kind, seen_by_south)  # north's losses stay north's
        assert seen_by_south["inputs"]["alerts"] == {} and seen_by_south["inputs"]["inspections"]["count"] == 0
        assert _scores(client, "bank-north", kind)[entity]["score"] > 0
    assert "wh-ningbo" not in _scores(client, "bank-north", "warehouse")


def test_every_kind_answers_and_a_bad_kind_is_refused(troubled):
    _, client, _ = troubled
    for kind in KINDS:
        answer = client.get("/api/v1/risk-scores", params={"kind": kind}, headers=as_("bank-north")).json()
        assert answer["kind"] == kind and answer["half_life_days"] == 30 and answer["scores"]
    for params in ({"kind": "lender"}, {}):
        refused = client.get("/api/v1/risk-scores", params=params, headers=as_("supervisor"))
        assert refused.status_code == 422 and "kind" in refused.text
    assert client.get("/api/v1/risk-scores", params={"kind": "warehouse"}).status_code == 401


def _open_alert_on(client, lot: str) -> dict:
    found = [a for a in client.get("/api/v1/alerts", headers=as_("admin")).json()
             if a["lot"] == lot and a["state"] != "resolved"]
    assert found, f"no open alert on {lot}"
    return found[0]


def test_a_confirmed_loss_case_is_a_loss_with_its_amount_for_its_own_bank_only(troubled):
    _, client, _ = troubled
    before = _scores(client, "supervisor", "warehouse")["wh-shanghai"]
    alert = _open_alert_on(client, "lot-sh-1")
    loss = {"outcome": "confirmed_loss", "note": "8 coils gone", "loss_amount": "96000.00", "loss_currency": "CNY"}
    resolved = client.post(f"/api/v1/alerts/{alert['id']}/resolve", json=loss, headers=as_("supervisor"))
    assert resolved.status_code == 200, resolved.text
    for who in ("supervisor", "bank-north"):
        after = _scores(client, who, "warehouse")["wh-shanghai"]
        inputs = after["inputs"]
        assert inputs["cases"]["confirmed_loss"]["count"] == 1
        assert inputs["loss_amounts"]["CNY"]["amount"] == "96000.00"
        assert 95_990 < float(inputs["loss_amounts"]["CNY"]["decayed"]) <= 96_000
        # the short count was found during the case's episode: it is that loss, not a second one
        assert inputs["confirmed_losses"]["count"] == 1 and inputs["inspections"]["count"] == 1
        assert after["score"] == pytest.approx(sum(after["contributions"].values()), abs=1e-3)
    assert before["inputs"]["cases"] == {} and before["inputs"]["loss_amounts"] == {}
    south = _scores(client, "bank-south", "warehouse")["wh-shanghai"]
    assert south["score"] == 0.0 and south["inputs"]["cases"] == {} and south["inputs"]["loss_amounts"] == {}


def test_a_sensor_fault_case_counts_as_a_sensor_fault(troubled):
    _, client, _ = troubled
    before = _scores(client, "bank-north", "borrower")["acme-steel"]
    alert = _open_alert_on(client, "lot-sh-1")
    resolved = client.post(f"/api/v1/alerts/{alert['id']}/resolve", json={"outcome": "sensor_fault"},
                           headers=as_("supervisor"))
    assert resolved.status_code == 200, resolved.text
    after = _scores(client, "bank-north", "borrower")["acme-steel"]
    assert after["inputs"]["sensor_faults"]["count"] == before["inputs"]["sensor_faults"]["count"] + 1
    assert after["contributions"]["sensor_faults"] > before["contributions"]["sensor_faults"]
    assert after["inputs"]["cases"] == {"sensor_fault": {"count": 1, "decayed": pytest.approx(1, abs=1e-4)}}
