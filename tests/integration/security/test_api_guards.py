"""API keys made and revoked at run time, the audit log, rate limits, body cap, start-up refusal."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from book_helpers import BOOK, KEYS, api_keys, as_  # noqa: E402

from backend.api.app import create_app  # noqa: E402
from backend.bootstrap import build_context  # noqa: E402
from backend.settings import BackendSettings  # noqa: E402
from edge.protocol.settings import ConfigError  # noqa: E402


def test_admins_make_list_and_revoke_keys(book):
    context, client, clock = book
    made = client.post("/api/v1/keys", json={"name": "risk desk", "role": "lender", "lender": "bank-south"},
                       headers=as_("admin"))
    assert made.status_code == 201
    key = made.json()["key"]
    mine = {"Authorization": f"Bearer {key}"}
    assert [loan["id"] for loan in client.get("/api/v1/loans", headers=mine).json()] == ["loan-acme-2", "loan-delta-1"]
    listed = client.get("/api/v1/keys", headers=as_("admin")).json()
    assert [k["name"] for k in listed] == ["risk desk"] and key not in str(listed)
    assert "key_hash" not in listed[0]
    assert client.delete(f"/api/v1/keys/{made.json()['id']}", headers=as_("admin")).status_code == 204
    assert client.get("/api/v1/loans", headers=mine).status_code == 401
    assert client.delete(f"/api/v1/keys/{made.json()['id']}", headers=as_("admin")).status_code == 404
    assert client.post("/api/v1/keys", json={"name": "x", "role": "lender", "lender": "nobody"},
                       headers=as_("admin")).status_code == 404
    assert client.post("/api/v1/keys", json={"name": "x", "role": "admin"},
                       headers=as_("supervisor")).status_code == 404
    tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert client.get("/api/v1/loans", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401


def test_every_mutating_call_is_audited_without_its_body(book):
    context, client, clock = book
    client.post("/api/v1/loans/loan-acme-1/repayments", json={"amount": 1000}, headers=as_("bank-north"))
    client.post("/api/v1/loans/loan-acme-2/repayments", json={"amount": 1000}, headers=as_("bank-north"))
    client.post("/api/v1/lenders", json={"id": "bank-x"}, headers={"Authorization": "Bearer nope"})
    client.get("/api/v1/loans", headers=as_("admin"))
    log = client.get("/api/v1/audit", headers=as_("admin")).json()
    assert [(e["actor"], e["method"], e["path"], e["status"]) for e in log] == [
        (None, "POST", "/api/v1/lenders", 401),
        ("bank-north", "POST", "/api/v1/loans/loan-acme-2/repayments", 404),
        ("bank-north", "POST", "/api/v1/loans/loan-acme-1/repayments", 201)]
    assert all(e["client"] for e in log)
    assert client.get("/api/v1/audit", headers=as_("bank-north")).status_code == 404


@pytest.fixture
def strict(tmp_path):
    class Clock:
        now_s = 1_800_000_000.0

        def __call__(self):
            return self.now_s

    clock = Clock()
    settings = BackendSettings(data_dir=tmp_path, book=BOOK, roles=["api"], api_keys=api_keys(),
                               http={"rate_per_key_per_s": 1, "burst_per_key": 3, "bad_keys_per_minute": 5,
                                     "max_body_bytes": 2048})
    context = build_context(settings, clock)
    yield TestClient(create_app(context)), clock
    context.close()


def test_a_key_over_its_rate_gets_429_with_retry_after(strict):
    client, clock = strict
    answers = [client.get("/api/v1/loans", headers=as_("supervisor")).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    refused = client.get("/api/v1/loans", headers=as_("supervisor"))
    assert int(refused.headers["retry-after"]) >= 1
    assert client.get("/api/v1/loans", headers=as_("admin")).status_code == 200  # its own bucket
    clock.now_s += 2
    assert client.get("/api/v1/loans", headers=as_("supervisor")).status_code == 200


def test_repeated_bad_keys_throttle_the_address(strict):
    client, clock = strict
    for n in range(5):
        assert client.get("/api/v1/loans", headers={"Authorization": f"Bearer guess-{n}"}).status_code == 401
    assert client.get("/api/v1/loans", headers=as_("admin")).status_code == 429
    clock.now_s += 61
    assert client.get("/api/v1/loans", headers=as_("admin")).status_code == 200


def test_an_oversized_body_is_refused_before_it_is_read(strict):
    client, clock = strict
    big = {"id": "x" * 5000}
    answer = client.post("/api/v1/lenders", json=big, headers=as_("admin"))
    assert answer.status_code == 413 and "2048" in answer.json()["detail"]
    streamed = client.post("/api/v1/lenders", content=iter([b'{"id": "', b"y" * 3000, b'"}']),
                           headers={**as_("admin"), "content-type": "application/json"})
    assert streamed.status_code == 413


def test_outside_demo_mode_the_backend_refuses_to_start_without_an_admin_key(tmp_path):
    with pytest.raises(ConfigError, match="api_keys: no admin key"):
        build_context(BackendSettings(data_dir=tmp_path / "a", roles=["api"]))
    with pytest.raises(ConfigError, match="accept_unsigned"):
        build_context(BackendSettings(data_dir=tmp_path / "b", roles=["ingest"], ingest={"accept_unsigned": True}))
    build_context(BackendSettings(data_dir=tmp_path / "c", roles=["api"], demo_mode=True)).close()


def test_no_key_reaches_a_log_line(book, caplog):
    context, client, clock = book
    caplog.set_level(logging.DEBUG)
    made = client.post("/api/v1/keys", json={"name": "n", "role": "supervisor"}, headers=as_("admin")).json()
    for key in (*KEYS.values(), made["key"], "pw_000000000000_wrongwrongwrongwrongwrong"):
        client.get("/api/v1/loans", headers={"Authorization": f"Bearer {key}"})
    context.monitor.tick()
    for secret in (*KEYS.values(), made["key"]):
        assert secret not in caplog.text
