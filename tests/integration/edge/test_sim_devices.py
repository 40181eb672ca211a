"""`sim devices`: real drivers read the simulated devices; faults go through the control port."""
from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time

import httpx
import pytest

from edge.drivers import DriverError
from edge.drivers.rfid_llrp import RfidLlrpConfig, RfidLlrpDriver
from edge.drivers.scale_modbus import ScaleModbus, ScaleModbusConfig
from edge.drivers.temperature_modbus import TemperatureModbus, TemperatureModbusConfig
from edge.protocol.settings import ConfigError, load_settings
from firmware_sim.devices import DeviceSimulator, SimDevicesSettings

pytestmark = pytest.mark.integration

ITEMS, ITEM_KG = 10, 1000.0


def settings(**extra) -> SimDevicesSettings:
    return SimDevicesSettings(gateway="gw-sim", seed=3, lots=[{
        "id": "lot-a", "items": ITEMS, "item_weight_kg": ITEM_KG, "epc_prefix": "AB12",
        "scale": {"sigma": 0.0}, "probe": {"setpoint_c": -20.0, "sigma_c": 0.0, "time_constant_s": 0.01},
        "rfid": {"round_period_ms": 50, "read_rate": 1.0}}], **extra)


class Rig:
    """The simulator plus one driver per device, and the control port as a client."""

    def __init__(self, sim: DeviceSimulator) -> None:
        ports = sim.status()["lots"]["lot-a"]
        self.control = httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.control_port}")
        self.scale = ScaleModbus(ScaleModbusConfig(sensor="lot-a-scale", host="127.0.0.1",
                                                   port=ports["scale_port"], timeout_s=0.3), _clock)
        self.probe = TemperatureModbus(TemperatureModbusConfig(
            sensor="lot-a-temp", host="127.0.0.1", port=ports["probe_port"], timeout_s=0.3), _clock)
        self.rfid = RfidLlrpDriver(RfidLlrpConfig(
            sensor="lot-a-rfid", host="127.0.0.1", port=ports["rfid_port"], round_period_ms=50,
            reconnect_min_s=0.05, reconnect_max_s=0.1, dead_after_s=0.5), _clock)

    async def post(self, action: str, **body) -> httpx.Response:
        return await self.control.post(f"/lots/lot-a/{action}", json=body)

    async def rfid_sees(self, count: int, timeout_s: float = 15) -> None:
        """Wait until the reader's latest round reports `count` tags (a round already under way
        when the goods moved may still show the old count)."""
        deadline = time.monotonic() + timeout_s
        while len(seen := await self.rfid_round()) != count:
            assert time.monotonic() < deadline, f"the reader still reports {len(seen)} tags, not {count}"
            await asyncio.sleep(0.03)

    async def probe_reads(self, temperature_c: float, timeout_s: float = 15) -> None:
        deadline = time.monotonic() + timeout_s
        while abs((await self.probe.read())[0].values["temperature_c"] - temperature_c) > 0.5:
            assert time.monotonic() < deadline, f"the probe never came within 0.5 °C of {temperature_c}"
            await asyncio.sleep(0.03)

    async def rfid_round(self) -> list[str]:
        for _ in range(100):
            rounds = await self.rfid.read()
            if rounds:
                return [tag["epc"] for tag in rounds[-1].values["tags"]]
            await asyncio.sleep(0.03)
        raise AssertionError("no RFID round")

    async def aclose(self) -> None:
        for driver in (self.scale, self.probe, self.rfid):
            await driver.aclose()
        await self.control.aclose()


def _clock() -> float:
    return time.time()


async def with_rig(test) -> None:
    async with DeviceSimulator(settings()) as sim:
        rig = Rig(sim)
        try:
            await test(rig)
        finally:
            await rig.aclose()


def test_drivers_read_the_models_and_faults_change_what_they_see():
    async def test(rig: Rig):
        (weight,) = await rig.scale.read()
        assert weight.values["weight_kg"] == ITEMS * ITEM_KG
        assert len(await rig.rfid_round()) == ITEMS

        assert (await rig.post("remove_items", count=2)).json()["items"] == ITEMS - 2
        (weight,) = await rig.scale.read()
        assert weight.values["weight_kg"] == (ITEMS - 2) * ITEM_KG
        await rig.rfid_sees(ITEMS - 2)

        await rig.post("tag_loss", count=3)  # tags gone, goods still on the scale
        await rig.rfid_sees(ITEMS - 5)
        assert (await rig.scale.read())[0].values["weight_kg"] == (ITEMS - 2) * ITEM_KG

        await rig.post("replace_contents", fraction=0.5)
        assert (await rig.scale.read())[0].values["weight_kg"] == (ITEMS - 2) * ITEM_KG / 2

        assert (await rig.probe.read())[0].values["temperature_c"] == -20.0
        await rig.post("temperature", setpoint_c=5.0)
        await rig.probe_reads(5.0)

    asyncio.run(with_rig(test))


def test_dead_stuck_and_power_cut_at_run_time():
    async def test(rig: Rig):
        await rig.post("dead", device="scale")
        (weight,) = await rig.scale.read()
        assert weight.quality == "bad" and "weight_kg" not in weight.values
        status = (await rig.post("clear", device="scale")).json()
        assert status["faults"]["scale"] == []
        assert (await rig.scale.read())[0].quality == "good"

        await rig.post("stuck", device="probe")
        before = (await rig.probe.read())[0].values["temperature_c"]
        await rig.post("temperature", setpoint_c=30.0)
        await asyncio.sleep(0.05)
        assert (await rig.probe.read())[0].values["temperature_c"] == before

        status = (await rig.post("power_cut", device="all")).json()
        assert status["powered"] == {"scale": False, "probe": False, "rfid": False}
        with pytest.raises(DriverError):
            await rig.scale.read()
        with pytest.raises(DriverError):
            await rig.probe.read()
        await rig.post("power_restore")
        assert (await rig.scale.read())[0].quality == "good"
        assert len(await rig.rfid_round()) == ITEMS  # same port, the driver reconnected

    asyncio.run(with_rig(test))


def test_bad_control_requests_are_refused_with_the_reason():
    async def test(rig: Rig):
        assert (await rig.control.post("/lots/nope/dead", json={})).status_code == 404
        assert (await rig.post("explode")).status_code == 404
        refused = await rig.post("remove_items", count=0)
        assert refused.status_code == 400 and "count" in refused.json()["error"]
        assert (await rig.post("drift", device="rfid")).status_code == 400
        assert (await rig.control.post("/lots/lot-a/dead", content=b"[1]")).status_code == 400

    asyncio.run(with_rig(test))


def test_named_items_leave_and_the_reader_misses_exactly_those():
    """A warehouse hands out the items of a delivery order: `remove_items` with their EPCs."""
    async def test(rig: Rig):
        epcs = sorted(await rig.rfid_round())
        handed_out = [epcs[1], epcs[4]]
        assert (await rig.post("remove_items", epcs=handed_out)).json()["items"] == ITEMS - 2
        await rig.rfid_sees(ITEMS - 2)
        assert sorted(await rig.rfid_round()) == sorted(set(epcs) - set(handed_out))
        assert (await rig.scale.read())[0].values["weight_kg"] == (ITEMS - 2) * ITEM_KG
        again = await rig.post("remove_items", epcs=[epcs[0], epcs[1]])  # one already gone: nothing leaves
        assert again.status_code == 400 and epcs[1] in again.json()["error"]
        assert (await rig.post("remove_items", count=1, epcs=[epcs[0]])).status_code == 400
        await rig.rfid_sees(ITEMS - 2)

    asyncio.run(with_rig(test))


def test_a_bad_config_names_the_field(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text("gateway: gw-1\nlots:\n  - {id: l1, items: 3, item_weight_kg: 5, epc_prefix: ab}\n")
    with pytest.raises(ConfigError, match=r"lots\.0\.epc_prefix"):
        load_settings(SimDevicesSettings, path)


def test_the_cli_prints_its_ports_and_stops_on_sigterm(tmp_path):
    config = tmp_path / "sim.yaml"
    config.write_text(json.dumps(settings(status_file=tmp_path / "ports.json").model_dump(mode="json")))
    process = subprocess.Popen([sys.executable, "-m", "backend.cli", "sim", "devices", "--config",
                                str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        status = json.loads(process.stdout.readline())
        assert status == json.loads((tmp_path / "ports.json").read_text())
        answer = httpx.get(f"http://127.0.0.1:{status['control_port']}/status", timeout=5).json()
        assert answer["lots"]["lot-a"]["scale_port"] == status["lots"]["lot-a"]["scale_port"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
