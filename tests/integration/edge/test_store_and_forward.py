"""Store-and-forward through a real Mosquitto and the real ingest: outages lose nothing.

- the broker stops mid-stream and comes back on the same port: every reading arrives
  exactly once, and the backlog replays no faster than the token bucket. (Not necessarily
  in seq order: Mosquitto interleaves the queue it kept for ingest's session with what the
  gateway resends once both are back, and ingest reconnects within ~1 s now.)
- the gateway restarts with a backlog: the new boot epoch streams and the old epoch's
  backlog is still delivered.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from backend.demo.broker import start_broker
from backend.ports.ingest import ReadingQuery
from edge.agent import EdgeAgent
from edge.config import EdgeSettings
from edge.protocol.keys import new_key_pair
from tests.integration.edge.rig import backend, until

pytestmark = pytest.mark.integration

RATE_PER_S, BURST = 100.0, 10


def agent_settings(tmp_path, broker, key_file, first: int, total: int) -> EdgeSettings:
    return EdgeSettings(
        gateway_id="gw-sf", broker={"port": broker.port}, state_dir=tmp_path / "edge",
        key_file=key_file, clock_source="synced", reconnect_min_s=0.1, reconnect_max_s=0.5,
        batch={"max_readings": 10, "max_delay_s": 0.05},
        uplink={"max_messages_per_s": RATE_PER_S, "burst_messages": BURST, "ack_timeout_s": 2.0},
        drivers=[{"driver": "test_sequence", "every_s": 0.02,
                  "config": {"first": first, "total": total, "per_read": 20}}])


def stored_weights_in_arrival_order(context) -> list[float]:
    rows = context.readings.query(ReadingQuery(sensors=["seq-scale"], limit=100_000))
    return [r.values["weight_kg"] for r in sorted(rows, key=lambda r: r.id)]


def test_broker_outage_replays_everything_once_in_order_and_rate_limited(tmp_path, mosquitto):
    private_path, public_path = new_key_pair(tmp_path / "keys", "gw-sf")
    context = backend(tmp_path, mosquitto, public_path.read_text())
    context.ingest.start()
    total = 1200
    agent = EdgeAgent(agent_settings(tmp_path, mosquitto, private_path, 0, total))
    broker = mosquitto

    async def scenario():
        nonlocal broker
        task = asyncio.create_task(agent.run())
        try:
            await until(lambda: context.readings.count() > 0, 10)
            await asyncio.to_thread(broker.stop)  # the uplink dies mid-stream
            await until(lambda: agent.metrics.registry.get_sample_value("pw_edge_readings_total") == total, 20)
            backlog = agent.outbox.depth()
            broker = await asyncio.to_thread(start_broker, tmp_path / "broker", broker.port, "mosquitto")
            restarted = time.monotonic()
            await until(lambda: context.readings.count() >= total and agent.outbox.depth() == 0, 40)
            return backlog, time.monotonic() - restarted
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    try:
        backlog, drain_s = asyncio.run(scenario())
        weights = stored_weights_in_arrival_order(context)
        assert sorted(weights) == [float(n) for n in range(total)]  # all, once
        # A batch in flight at the cut may be sent twice; the backend stores it once.
        assert context.metrics.registry.get_sample_value("pw_readings_stored_total") == total
        assert backlog > 3 * BURST
        assert drain_s >= (backlog - BURST) / RATE_PER_S * 0.9  # the token bucket held
        status = context.ledger.gateways()[0]
        assert status.missing_seqs == 0
    finally:
        context.close()
        broker.stop()


def test_a_gateway_restart_mid_backlog_delivers_both_epochs(tmp_path, mosquitto):
    private_path, public_path = new_key_pair(tmp_path / "keys", "gw-sf")
    first = EdgeAgent(agent_settings(tmp_path, mosquitto, private_path, 0, 300))

    async def run_until(agent, condition, timeout_s):
        task = asyncio.create_task(agent.run())
        try:
            await until(condition, timeout_s, lambda: f"outbox {agent.outbox.depth()}, "
                        f"stored {context.readings.count() if context else '-'}")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    context = None
    # No backend yet: nothing is acknowledged, epoch 1 stays in the outbox.
    asyncio.run(run_until(first, lambda: first.metrics.registry.get_sample_value(
        "pw_edge_readings_total") == 300, 10))
    context = backend(tmp_path, mosquitto, public_path.read_text())
    context.ingest.start()
    try:
        assert context.ingest.connected.wait(10)
        second = EdgeAgent(agent_settings(tmp_path, mosquitto, private_path, 300, 300))
        assert (first.epoch, second.epoch) == (1, 2)
        outbox = second.outbox
        asyncio.run(run_until(second, lambda: context.readings.count() >= 600 and outbox.depth() == 0, 30))
        assert sorted(stored_weights_in_arrival_order(context)) == [float(n) for n in range(600)]
        status = context.ledger.gateways()[0]
        assert status.boot_epoch == 2 and status.missing_seqs == 0
    finally:
        context.close()
