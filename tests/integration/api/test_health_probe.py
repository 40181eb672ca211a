"""`GET /api/v1/health` is a liveness probe anyone may call: it answers from the process's
memory, never from the database, so polling it can neither fail with the store nor slow
ingest down (it used to count the readings, holding the readings store's lock)."""
from __future__ import annotations

import pytest
from book_helpers import api_keys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.bootstrap import build_context
from backend.ports.ingest import InboundMessage
from backend.settings import BackendSettings
from edge import protocol
from edge.protocol.keys import public_key_pem

NOW_S = 1_800_000_000.0
KEY = Ed25519PrivateKey.generate()


def _message(seq: int, readings: int) -> InboundMessage:
    t_ms = int(NOW_S * 1000)
    batch = [protocol.Reading(f"lot-h-scale-{n}", "weight", t_ms, {"weight_kg": 100.0 + n}) for n in range(readings)]
    return InboundMessage(protocol.topic("gw-h", "data"),
                          protocol.encode("gw-h", 1, seq, t_ms, batch, protocol.Signer(KEY)), NOW_S)


@pytest.fixture
def context(tmp_path):
    gateways = [{"id": "gw-h", "public_key_pem": public_key_pem(KEY.public_key())}]
    context = build_context(BackendSettings(data_dir=tmp_path, roles=["api", "ingest"], gateways=gateways,
                                            api_keys=api_keys()))
    yield context
    context.close()


def _unavailable(*args, **kwargs):
    raise RuntimeError("the readings store is unavailable")


def test_health_reports_what_this_process_stored_without_reading_the_store(context, monkeypatch):
    client = TestClient(create_app(context))
    assert client.get("/api/v1/health").json()["readings_stored"] == 0
    context.ingest.service.ingest([_message(1, 3), _message(2, 4)], NOW_S)
    context.ingest.service.ingest([_message(2, 4)], NOW_S)  # a resend stores nothing more
    for name in ("count", "query", "latest"):
        monkeypatch.setattr(context.readings, name, _unavailable)
    answer = client.get("/api/v1/health")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ok"
    assert answer.json()["readings_stored"] == 7


def test_a_process_without_ingest_reports_no_stored_count(tmp_path):
    context = build_context(BackendSettings(data_dir=tmp_path, roles=["api"], api_keys=api_keys()))
    try:
        body = TestClient(create_app(context)).get("/api/v1/health").json()
        assert (body["status"], body["readings_stored"], body["broker_connected"]) == ("ok", None, None)
    finally:
        context.close()
