"""`rotate_key` end to end: the backend registers the gateway's new key and ingest stores
what the gateway signs with it, without a restart or a config change."""
from __future__ import annotations

import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from test_commands_mqtt import AgentThread
from waiting import wait_for

from backend.api.app import create_app
from backend.bootstrap import build_context
from backend.ports.ingest import ReadingQuery
from backend.services.api_keys import hash_api_key
from backend.services.commands import COMMAND_KEY_PATH
from backend.settings import BackendSettings
from edge.agent import EdgeAgent
from edge.config import EdgeSettings
from edge.protocol.keys import new_key_pair, private_key_pem, public_key_pem


def stored_after(context, at_ms: int) -> int:
    return len(context.readings.query(ReadingQuery(from_ms=at_ms, limit=10_000)))


def test_after_rotate_key_the_new_signatures_are_stored(tmp_path, mosquitto):
    backend_key = Ed25519PrivateKey.generate()
    (tmp_path / "data" / COMMAND_KEY_PATH).parent.mkdir(parents=True)
    (tmp_path / "data" / COMMAND_KEY_PATH).write_bytes(private_key_pem(backend_key))
    gateway_private, gateway_public = new_key_pair(tmp_path / "keys", "gw-rot")
    context = build_context(BackendSettings(
        data_dir=tmp_path / "data", broker={"port": mosquitto.port}, roles=["ingest", "api"],
        ingest={"client_id": "pw-ingest-rot"},
        gateways=[{"id": "gw-rot", "public_key_pem": gateway_public.read_text()}],
        api_keys=[{"name": "admin", "role": "admin", "key_hash": hash_api_key("k-admin")}]))
    client = TestClient(create_app(context))
    agent = EdgeAgent(EdgeSettings(
        gateway_id="gw-rot", broker={"port": mosquitto.port}, state_dir=tmp_path / "edge",
        key_file=gateway_private, clock_source="synced", batch={"max_readings": 10, "max_delay_s": 0.2},
        commands={"backend_public_key_pem": public_key_pem(backend_key.public_key()).decode()},
        drivers=[{"driver": "sim_lot", "every_s": 0.2,
                  "config": {"lot": "l1", "items": 2, "item_weight_kg": 5, "epc_prefix": "AB"}}]))
    context.ingest.start()
    try:
        assert context.ingest.connected.wait(10)
        with AgentThread(agent):
            assert wait_for(lambda: context.readings.count() > 0, timeout_s=10)
            answer = client.post("/api/v1/gateways/gw-rot/commands", json={"command": "rotate_key"},
                                 headers={"Authorization": "Bearer k-admin"}).json()
            assert (answer["status"], answer["verified"]) == ("ok", True)
            rotated_at_ms = int(time.time() * 1000) + 500  # batches made from here: the new key
            assert wait_for(lambda: stored_after(context, rotated_at_ms) >= 10, timeout_s=15), \
                context.ledger.quarantined(limit=5)
    finally:
        context.close()
