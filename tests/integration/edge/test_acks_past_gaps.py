"""Issue 19: acks settle batch by batch, so one refused or dropped batch blocks nothing.

Real Mosquitto, the real ingest, the real agent; acks signed with the backend's command key
and verified by the gateway.
- seqs 1-5 with seq 2 an hour in the future: seq 2 is refused (kept for forensics on the
  gateway, counted), every other is stored, and the outbox empties;
- the outbox size cap evicts batches while the broker is down: the gateway announces them,
  the backend counts them as dropped (not missing), and the outbox empties.
"""
from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.demo.broker import start_broker
from backend.ports.ingest import ReadingQuery
from backend.services.commands import COMMAND_KEY_PATH
from edge.agent import EdgeAgent
from edge.config import EdgeSettings
from edge.outbox import Outbox
from edge.protocol.keys import new_key_pair, private_key_pem, public_key_pem
from tests.integration.edge.rig import backend, until

pytestmark = pytest.mark.integration


def signing_backend(tmp_path, broker, public_pem: str):
    """A backend whose acks are signed; returns it and the public key gateways verify with."""
    key = Ed25519PrivateKey.generate()
    (tmp_path / "data" / COMMAND_KEY_PATH).parent.mkdir(parents=True)
    (tmp_path / "data" / COMMAND_KEY_PATH).write_bytes(private_key_pem(key))
    return backend(tmp_path, broker, public_pem), public_key_pem(key.public_key()).decode()


def agent_settings(tmp_path, broker, key_file, backend_pem: str, driver: dict, **overrides) -> EdgeSettings:
    return EdgeSettings(**{
        "gateway_id": "gw-sf", "broker": {"port": broker.port}, "state_dir": tmp_path / "edge",
        "key_file": key_file, "clock_source": "synced", "reconnect_min_s": 0.1, "reconnect_max_s": 0.5,
        "batch": {"max_readings": 1, "max_delay_s": 0.01},
        "uplink": {"max_messages_per_s": 1000, "burst_messages": 100, "ack_timeout_s": 1.0},
        "commands": {"backend_public_key_pem": backend_pem},
        "drivers": [{"driver": "test_sequence", "every_s": 0.05, "config": driver}], **overrides})


def stored_weights(context) -> list[float]:
    rows = context.readings.query(ReadingQuery(sensors=["seq-scale"], limit=100_000))
    return sorted(r.values["weight_kg"] for r in rows)


async def run_until(agent: EdgeAgent, condition, timeout_s: float, state=lambda: "") -> None:
    task = asyncio.create_task(agent.run())
    try:
        await until(condition, timeout_s, state)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_a_refused_batch_does_not_block_the_ones_after_it(tmp_path, mosquitto):
    private_path, public_path = new_key_pair(tmp_path / "keys", "gw-sf")
    context, backend_pem = signing_backend(tmp_path, mosquitto, public_path.read_text())
    context.ingest.start()
    # One reading per batch: reading n is seq n + 1; reading 1 (seq 2) is an hour ahead.
    agent = EdgeAgent(agent_settings(tmp_path, mosquitto, private_path, backend_pem,
                                     {"total": 5, "per_read": 1, "ahead_s": {1: 3600}}))
    metric = agent.metrics.registry.get_sample_value
    try:
        assert context.ingest.connected.wait(10)
        asyncio.run(run_until(
            agent, lambda: metric("pw_edge_readings_total") == 5 and agent.outbox.depth() == 0, 30,
            lambda: f"outbox {[b.seq for b in agent.outbox.pending()]}, stored {stored_weights(context)}"))
        assert stored_weights(context) == [0.0, 2.0, 3.0, 4.0]
        refused = Outbox(tmp_path / "edge" / "outbox.sqlite").refused()  # the agent closed its own
        assert [(e, s, reason) for e, s, reason, _ in refused] == [(1, 2, "future_timestamp")]
        assert metric("pw_edge_refused_batches_total") == 1
        assert metric("pw_edge_dropped_total") == 0
        status = context.ledger.gateways()[0]
        assert (status.acked_seq, status.missing_seqs, status.refused_seqs) == (5, 0, 1)
    finally:
        context.close()


def test_batches_evicted_by_the_size_cap_are_announced_and_counted_as_dropped(tmp_path, mosquitto):
    private_path, public_path = new_key_pair(tmp_path / "keys", "gw-sf")
    context, backend_pem = signing_backend(tmp_path, mosquitto, public_path.read_text())
    context.ingest.start()
    total, per_batch = 1500, 10
    agent = EdgeAgent(agent_settings(
        tmp_path, mosquitto, private_path, backend_pem, {"total": total, "per_read": per_batch},
        batch={"max_readings": per_batch, "max_delay_s": 0.01}, outbox={"max_bytes": 64 * 1024}))
    metric = agent.metrics.registry.get_sample_value
    broker = mosquitto

    async def scenario():
        nonlocal broker
        task = asyncio.create_task(agent.run())
        try:
            await until(lambda: context.readings.count() >= 2 * per_batch, 10)
            await asyncio.to_thread(broker.stop)  # what is produced now piles up past the cap
            await until(lambda: metric("pw_edge_readings_total") == total, 30)
            assert agent.outbox.evicted(), "the cap should have evicted batches"
            broker = await asyncio.to_thread(start_broker, tmp_path / "broker", broker.port, "mosquitto")
            await until(lambda: agent.outbox.depth() == 0 and not agent.outbox.evicted(), 30,
                        lambda: f"outbox {agent.outbox.depth()}, evicted {len(agent.outbox.evicted())}")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    try:
        assert context.ingest.connected.wait(10)
        asyncio.run(scenario())
        weights = stored_weights(context)
        assert len(weights) == len(set(weights))  # each once
        dropped = total - len(weights)
        assert dropped > 0 and metric("pw_edge_dropped_total") == dropped
        assert metric("pw_edge_evicted_total") >= dropped
        status = context.ledger.gateways()[0]
        assert status.missing_seqs == 0 and status.dropped_seqs * per_batch == dropped
        assert status.acked_seq == total // per_batch
    finally:
        context.close()
        broker.stop()
