"""The agent's /metrics port and its disk bound: drops are counted, served and reported."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from backend.demo.ports import free_port
from edge.agent import EdgeAgent
from edge.config import EdgeSettings

pytestmark = pytest.mark.integration


def test_disk_bound_evictions_are_counted_on_metrics_and_in_the_birth_info(tmp_path):
    """Evicted, not yet dropped: only the backend can say it never got them (issue 19)."""
    settings = EdgeSettings(
        gateway_id="gw-m", state_dir=tmp_path / "edge", clock_source="synced",
        broker={"port": free_port()},  # unreachable: the outbox only grows
        outbox={"max_bytes": 64 * 1024}, metrics={"port": 0},
        batch={"max_readings": 50, "max_delay_s": 0.01},
        drivers=[{"driver": "sim_lot", "every_s": 0.001, "config": {
            "lot": "l1", "items": 20, "item_weight_kg": 5, "epc_prefix": "AB", "rfid_read_rate": 1}}])
    agent = EdgeAgent(settings)

    async def scenario():
        task = asyncio.create_task(agent.run())
        try:
            for _ in range(200):
                await asyncio.sleep(0.05)
                if agent.metrics.registry.get_sample_value("pw_edge_evicted_total"):
                    break
            async with httpx.AsyncClient() as client:
                text = (await client.get(f"http://127.0.0.1:{agent.metrics_port}/metrics")).text
            return text, agent._birth_info()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    text, birth = asyncio.run(scenario())
    dropped = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
               if line.startswith("pw_edge_")}
    assert dropped["pw_edge_evicted_total"] > 0 and dropped["pw_edge_readings_total"] > 0
    assert dropped["pw_edge_dropped_total"] == 0 and birth["dropped_readings"] == 0
    assert dropped["pw_edge_outbox_depth"] >= 1
    assert birth["evicted_readings"] >= dropped["pw_edge_evicted_total"]
    assert birth["outbox_bytes"] <= 64 * 1024 + 16 * 1024  # the bound, plus the newest batch
