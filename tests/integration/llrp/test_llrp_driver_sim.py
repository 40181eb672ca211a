"""The rfid_llrp driver against our simulated LLRP reader, over real TCP on a free port."""
from __future__ import annotations

import asyncio
import math
import time

import pytest
from llrp_sim_helpers import RecordingRfidModel, wait_until

from edge.drivers import DriverError, Sample
from edge.drivers.rfid_llrp import RfidLlrpConfig, RfidLlrpDriver
from firmware_sim.llrp_reader import SimulatedLlrpReader

pytestmark = pytest.mark.integration
ROUND_MS = 40


def make_driver(port: int, **overrides) -> RfidLlrpDriver:
    settings = dict(sensor="lot-1-rfid", host="127.0.0.1", port=port, antennas=[1, 2],
                    keepalive_ms=200, response_timeout_s=2.0, connect_timeout_s=2.0,
                    reconnect_min_s=0.05, reconnect_max_s=0.2, dead_after_s=10.0)
    settings.update(overrides)
    return RfidLlrpDriver(RfidLlrpConfig(**settings), time.time)


async def collect_rounds(driver: RfidLlrpDriver, count: int, timeout_s: float = 5.0,
                         tolerate_errors: bool = False) -> list[Sample]:
    rounds: list[Sample] = []

    async def poll() -> None:
        while len(rounds) < count:
            try:
                rounds.extend(await driver.read())
            except DriverError:
                if not tolerate_errors:
                    raise
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout_s)
    return rounds


def epcs(sample: Sample) -> set[str]:
    return {tag["epc"] for tag in sample.values["tags"]}


def test_rounds_match_the_model_read_for_read():
    async def scenario():
        model = RecordingRfidModel(items=8, read_rate=0.7)
        async with SimulatedLlrpReader(model, round_period_ms=ROUND_MS) as reader:
            driver = make_driver(reader.port)
            try:
                rounds = await collect_rounds(driver, 6)
            finally:
                await driver.aclose()
        assert len(model.history) >= 6
        for sample, (now_s, reads) in zip(rounds, model.history):
            assert sample.sensor == "lot-1-rfid" and sample.kind == "rfid" and sample.quality == "good"
            assert sample.time_ms == int(now_s * 1_000_000) // 1000
            expected = sorted(({"epc": r.epc.lower(), "antenna": r.antenna, "rssi_dbm": r.rssi_dbm,
                                "seen_count": r.seen_count} for r in reads), key=lambda t: t["epc"])
            assert sample.values == {"tags": expected}

    asyncio.run(scenario())


def test_round_period_from_config_sets_the_readers_round():
    async def scenario():
        model = RecordingRfidModel()
        async with SimulatedLlrpReader(model, round_period_ms=1000) as reader:
            driver = make_driver(reader.port, round_period_ms=30)
            try:
                rounds = await collect_rounds(driver, 5, timeout_s=3.0)  # 5 s at the reader's default
            finally:
                await driver.aclose()
        assert all(epcs(sample) == model.present_epcs() for sample in rounds)

    asyncio.run(scenario())


def test_removed_tag_disappears_and_cloned_tag_appears():
    async def scenario():
        model = RecordingRfidModel(items=5, read_rate=1.0)
        everything = model.present_epcs()
        async with SimulatedLlrpReader(model, round_period_ms=ROUND_MS) as reader:
            driver = make_driver(reader.port, report_every_n_tags=2)
            try:
                before = await collect_rounds(driver, 2)
                (removed,) = model.lot.remove(1)
                clone = "E28011606000020000000001"
                model.extra_epcs.add(clone)
                await driver.read()  # drop rounds that may predate the change
                after = await collect_rounds(driver, 3)
            finally:
                await driver.aclose()
        assert all(epcs(sample) == everything for sample in before)
        assert all(removed.lower() not in epcs(sample) for sample in after[-2:])
        assert all(epcs(sample) == (everything - {removed.lower()}) | {clone.lower()} for sample in after[-2:])

    asyncio.run(scenario())


def test_empty_round_is_still_a_round():
    async def scenario():
        model = RecordingRfidModel(items=3)
        async with SimulatedLlrpReader(model, round_period_ms=ROUND_MS) as reader:
            driver = make_driver(reader.port)
            try:
                await collect_rounds(driver, 1)
                model.lot.remove(3)
                await driver.read()
                rounds = await collect_rounds(driver, 3)
            finally:
                await driver.aclose()
        assert rounds[-1].values == {"tags": []} and rounds[-1].quality == "good"

    asyncio.run(scenario())


def test_driver_reconnects_after_reader_restart():
    async def scenario():
        model = RecordingRfidModel()
        reader = SimulatedLlrpReader(model, round_period_ms=ROUND_MS)
        await reader.start()
        port = reader.port
        driver = make_driver(port)
        try:
            await collect_rounds(driver, 2)
            await reader.stop()
            await wait_until(lambda: not driver.is_connected, what="driver to notice the drop")
            await driver.read()
            reader = SimulatedLlrpReader(model, port=port, round_period_ms=ROUND_MS)
            await reader.start()
            rounds = await collect_rounds(driver, 3)
            assert all(epcs(sample) == model.present_epcs() for sample in rounds)
            assert reader.connection_count == 1
        finally:
            await driver.aclose()
            await reader.stop()

    asyncio.run(scenario())


def test_dead_reader_raises_driver_error_then_recovers():
    async def scenario():
        model = RecordingRfidModel()
        async with SimulatedLlrpReader(model, round_period_ms=ROUND_MS) as reader:
            driver = make_driver(reader.port, dead_after_s=0.5)
            try:
                await collect_rounds(driver, 1)
                model.dead_from_s, model.dead_until_s = time.time(), math.inf
                with pytest.raises(DriverError, match="no inventory round.*closed the connection"):
                    await asyncio.wait_for(_read_until_error(driver), 5.0)
                model.dead_until_s = time.time()  # power is back
                rounds = await collect_rounds(driver, 2, tolerate_errors=True)
            finally:
                await driver.aclose()
        assert all(epcs(sample) == model.present_epcs() for sample in rounds)

    asyncio.run(scenario())


async def _read_until_error(driver: RfidLlrpDriver) -> None:
    while True:
        await driver.read()
        await asyncio.sleep(0.02)


def test_unreachable_reader_raises_driver_error_with_the_reason():
    async def scenario():
        async with SimulatedLlrpReader(RecordingRfidModel()) as reader:
            port = reader.port  # a port that was free a moment ago and is closed now
        driver = make_driver(port, dead_after_s=0.3)
        try:
            with pytest.raises(DriverError, match="connection refused"):
                await asyncio.wait_for(_read_until_error(driver), 5.0)
        finally:
            await driver.aclose()

    asyncio.run(scenario())


def test_aclose_leaves_the_reader_without_connections():
    async def scenario():
        async with SimulatedLlrpReader(RecordingRfidModel(), round_period_ms=ROUND_MS) as reader:
            driver = make_driver(reader.port)
            await collect_rounds(driver, 1)
            assert reader.connection_count == 1
            await asyncio.wait_for(driver.aclose(), 3.0)
            await wait_until(lambda: reader.connection_count == 0, what="reader to see the close")
            assert not driver.is_connected

    asyncio.run(scenario())


class FakeClock:
    def __init__(self, now_s: float = 1_700_000_000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def test_silence_is_measured_on_the_injected_clock_from_the_first_read():
    async def scenario():
        async with SimulatedLlrpReader(RecordingRfidModel()) as reader:
            port = reader.port  # closed again: nothing listens there
        clock = FakeClock()
        config = RfidLlrpConfig(sensor="lot-1-rfid", host="127.0.0.1", port=port, dead_after_s=30)
        driver = RfidLlrpDriver(config, clock)
        try:
            clock.now_s += 3600  # constructed long before the agent starts reading
            assert await driver.read() == []
            clock.now_s += 29.9
            assert await driver.read() == []
            clock.now_s += 0.1
            with pytest.raises(DriverError, match="no inventory round for 30 s"):
                await driver.read()
        finally:
            await driver.aclose()

    asyncio.run(scenario())
