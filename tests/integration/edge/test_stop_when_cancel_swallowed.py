"""A gateway asked to stop stops, even when Python 3.11's asyncio.wait_for (which aiomqtt awaits
for every publish, and the LLRP driver for every frame) swallows the cancel because its result
arrived at the same moment (CPython gh-86296). Seen in the suite: an agent over TLS that never
finished after `task.cancel()`. Here the swallow is made certain: an await that answers the
cancel by returning, as that wait_for does."""
from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from backend.demo.ports import free_port
from edge import protocol
from edge.agent import EdgeAgent
from edge.config import EdgeSettings
from edge.drivers.simulated import SimulatedLot

pytestmark = pytest.mark.integration
STOP_S = 20  # an agent stops in well under a second; a machine 3x slower still does


def settings(tmp_path, broker_port: int, **extra) -> EdgeSettings:
    return EdgeSettings(
        gateway_id="gw-stop", state_dir=tmp_path / "edge", clock_source="synced", broker={"port": broker_port},
        watchdog_s=600,  # a test that fails hangs on purpose: the watchdog must not end the run first
        batch={"max_readings": 10, "max_delay_s": 0.05},
        drivers=[{"driver": "sim_lot", "every_s": 0.05,
                  "config": {"lot": "lot-s", "items": 3, "item_weight_kg": 100, "epc_prefix": "AC"}}], **extra)


class SwallowOnce:
    """Stands in for an await that returns when cancelled (once); later ones behave."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()
        self.swallowed = False

    async def wait(self) -> None:
        if self.swallowed:
            return
        self.waiting.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.swallowed = True  # the result "arrived" with the cancel: returned, not raised


async def cancel_and_wait(task: asyncio.Task, gate: SwallowOnce) -> bool:
    """Cancel `task` once the swallowing await holds it; True if it then ends by itself."""
    await asyncio.wait_for(gate.waiting.wait(), STOP_S)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=STOP_S)
    if not done:  # the old behaviour; a second cancel of the agent would not reach its tasks
        others = asyncio.all_tasks() - {asyncio.current_task()}
        for other in others:
            other.cancel()
        await asyncio.gather(*others, return_exceptions=True)
    return bool(done) and gate.swallowed


def test_a_driver_read_that_swallows_the_stop_does_not_keep_the_agent_running(tmp_path, monkeypatch):
    gate = SwallowOnce()
    read = SimulatedLot.read

    async def read_as_3_11_may(self):
        await gate.wait()
        return await read(self)

    monkeypatch.setattr(SimulatedLot, "read", read_as_3_11_may)
    agent = EdgeAgent(settings(tmp_path, free_port()))  # no broker: the sampling side alone

    async def scenario() -> bool:
        return await cancel_and_wait(asyncio.create_task(agent.run()), gate)

    assert asyncio.run(scenario())


def test_a_publish_that_swallows_the_stop_does_not_keep_the_agent_running(tmp_path, monkeypatch, mosquitto):
    gate = SwallowOnce()
    publish = aiomqtt.Client.publish
    heartbeats = protocol.topic("gw-stop", "heartbeat")

    async def publish_as_3_11_may(self, topic, *args, **kwargs):
        if topic == heartbeats:
            await gate.wait()
        return await publish(self, topic, *args, **kwargs)

    monkeypatch.setattr(aiomqtt.Client, "publish", publish_as_3_11_may)
    agent = EdgeAgent(settings(tmp_path, mosquitto.port, uplink={"heartbeat_s": 0.05}))

    async def scenario() -> bool:
        return await cancel_and_wait(asyncio.create_task(agent.run()), gate)

    assert asyncio.run(scenario())
