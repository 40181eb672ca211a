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
