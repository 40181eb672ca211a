"""The agent on real device protocols: a device power cut becomes `bad` readings, not silence."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from backend.demo.ports import free_port
from edge import protocol
from edge.agent import EdgeAgent
from edge.config import EdgeSettings
from firmware_sim.devices import DeviceSimulator, SimDevicesSettings

pytestmark = pytest.mark.integration


def devices() -> SimDevicesSettings:
    return SimDevicesSettings(gateway="gw-f", lots=[{
        "id": "lot-f", "items": 4, "item_weight_kg": 500.0, "epc_prefix": "CD34",
        "scale": {"sigma": 0.0}, "rfid": {"round_period_ms": 50}}])


def agent_settings(tmp_path, ports: dict) -> EdgeSettings:
    fast = {"host": "127.0.0.1"}
    return EdgeSettings(
        gateway_id="gw-f", state_dir=tmp_path / "edge", clock_source="unsynced",
        broker={"port": free_port()},  # nobody listens: everything stays in the outbox
        batch={"max_readings": 50, "max_delay_s": 0.05},
        drivers=[
            {"driver": "scale_modbus", "every_s": 0.05, "filter": {"deadband": 1.0},
             "config": {**fast, "sensor": "lot-f-scale", "port": ports["scale_port"], "timeout_s": 0.2}},
            {"driver": "rfid_llrp", "every_s": 0.05,
             "config": {**fast, "sensor": "lot-f-rfid", "port": ports["rfid_port"], "round_period_ms": 50,
                        "reconnect_min_s": 0.05, "reconnect_max_s": 0.1, "dead_after_s": 0.3}}])


def outbox_readings(agent: EdgeAgent) -> list[protocol.Reading]:
    return [r for batch in agent.outbox.pending(limit=10_000)
            for r in protocol.decode(batch.payload).readings]


async def wait_for(condition, timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def test_power_cut_of_the_devices_is_a_sensor_fault_then_readings_resume(tmp_path):
    async def scenario():
        async with DeviceSimulator(devices()) as sim:
            agent = EdgeAgent(agent_settings(tmp_path, sim.status()["lots"]["lot-f"]))
            task = asyncio.create_task(agent.run())
            control = httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.control_port}")
            try:
                def of(sensor, quality):
                    return [r for r in outbox_readings(agent) if r.sensor == sensor and r.quality == quality]

                await wait_for(lambda: of("lot-f-scale", "good") and of("lot-f-rfid", "good"))
                # The deadband keeps a steady scale quiet: one reading, not one per 50 ms.
                await asyncio.sleep(0.3)
                assert len(of("lot-f-scale", "good")) == 1
                await control.post("/lots/lot-f/power_cut", json={"device": "all"})
                await wait_for(lambda: of("lot-f-scale", "bad") and of("lot-f-rfid", "bad"))
                assert {r.error for r in of("lot-f-scale", "bad")} == {"unreachable"}
                assert {r.error for r in of("lot-f-rfid", "bad")} == {"no_rounds"}
                await control.post("/lots/lot-f/power_restore", json={})
                await wait_for(lambda: len(of("lot-f-scale", "good")) == 2)
                assert all(not r.clock_synced for r in outbox_readings(agent))
            finally:
                await control.aclose()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
