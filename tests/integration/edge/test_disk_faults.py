"""Issue 19, item 3: the agent's state_dir full, read-only or corrupt.

Disk full (a 16 MiB tmpfs: SQLite's WAL alone grows to 4 MiB before a checkpoint; filled while no ack empties the outbox): one error line, the
storage metrics, the agent keeps sampling (readings wait in memory), and once room returns
it resumes by itself: every reading stored exactly once.
"""
from __future__ import annotations

import asyncio
import logging

import pytest

from backend.ports.ingest import ReadingQuery
from edge.agent import EdgeAgent
from edge.config import EdgeSettings
from edge.outbox import Outbox, OutboxUnavailable
from edge.protocol.keys import new_key_pair
from tests.integration.edge.rig import backend, fill, tmpfs, until

pytestmark = pytest.mark.integration


def settings(state_dir, broker, key_file, total: int) -> EdgeSettings:
    return EdgeSettings(
        gateway_id="gw-sf", broker={"port": broker.port}, state_dir=state_dir, key_file=key_file,
        clock_source="synced", reconnect_min_s=0.1, reconnect_max_s=0.5,
        batch={"max_readings": 10, "max_delay_s": 0.02},
        uplink={"max_messages_per_s": 1000, "burst_messages": 100, "ack_timeout_s": 1.0},
        drivers=[{"driver": "test_sequence", "every_s": 0.01, "config": {"total": total, "per_read": 5}}])


def test_disk_full_keeps_the_agent_alive_and_it_resumes_when_room_returns(tmp_path, mosquitto, caplog):
    caplog.set_level(logging.WARNING, logger="pledgewatch.edge.health")
    private_path, public_path = new_key_pair(tmp_path / "keys", "gw-sf")
    total = 3000
    with tmpfs(tmp_path / "state", "16m") as state:
        agent = EdgeAgent(settings(state, mosquitto, private_path, total))
        metric = agent.metrics.registry.get_sample_value
        context = None  # no backend yet: no acks, the outbox only grows

        async def scenario():
            nonlocal context
            task = asyncio.create_task(agent.run())
            try:
                await until(lambda: agent.outbox.depth() > 0, 10)
                filler = await asyncio.to_thread(fill, state)
                await until(lambda: metric("pw_edge_storage_ok") == 0, 20)
                await until(lambda: metric("pw_edge_readings_total") == total, 30)  # sampling goes on
                assert metric("pw_edge_unstored_readings") > 0 and not task.done()
                filler.unlink()
                await until(lambda: metric("pw_edge_storage_ok") == 1 and not agent._unstored, 20,
                            lambda: f"{len(agent._unstored)} batches waiting; agent ended: {task.done()}")
                context = backend(tmp_path, mosquitto, public_path.read_text())
                context.ingest.start()
                await until(lambda: context.readings.count() >= total and agent.outbox.depth() == 0, 30,
                            lambda: f"stored {context.readings.count()}, outbox {agent.outbox.depth()}")
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

        try:
            asyncio.run(scenario())
            rows = context.readings.query(ReadingQuery(sensors=["seq-scale"], limit=100_000))
        finally:
            if context is not None:
                context.close()
    assert sorted(r.values["weight_kg"] for r in rows) == [float(n) for n in range(total)]  # each once
    errors = [r for r in caplog.records if "storage failing" in r.getMessage()]
    again = [r for r in caplog.records if "writable again" in r.getMessage()]
    assert 1 <= len(errors) <= 3 and len(again) == len(errors), [r.getMessage() for r in caplog.records]
    assert metric("pw_edge_storage_errors_total") > len(errors)  # many failed writes, few lines


def test_a_read_only_state_dir_is_one_clear_error(tmp_path):
    with tmpfs(tmp_path / "state", "1m", read_only=True) as state:
        with pytest.raises(OutboxUnavailable, match="cannot hold the outbox"):
            Outbox(state / "outbox.sqlite")
