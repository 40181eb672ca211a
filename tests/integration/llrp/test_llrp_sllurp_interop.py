"""sllurp's LLRPReaderClient (a third-party LLRP client, test-only) reads our simulated reader."""
from __future__ import annotations

import asyncio
import threading

import pytest
from llrp_sim_helpers import RecordingRfidModel, wait_until

from firmware_sim.llrp_reader import SimulatedLlrpReader

sllurp_llrp = pytest.importorskip("sllurp.llrp")
pytestmark = pytest.mark.integration

SELECTOR = {"EnableROSpecID": True, "EnableAntennaID": True, "EnablePeakRSSI": True,
            "EnableFirstSeenTimestamp": True, "EnableLastSeenTimestamp": True,
            "EnableTagSeenCount": True, "EnableChannelIndex": True}


class TagCollector:
    """sllurp calls back on its own thread."""

    def __init__(self) -> None:
        self.tags: list[dict] = []
        self._lock = threading.Lock()

    def __call__(self, reader, tags: list[dict]) -> None:
        with self._lock:
            self.tags.extend(tags)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.tags)


async def read_with_sllurp(port: int, antennas: list[int], enough: int) -> list[dict]:
    collector = TagCollector()
    config = sllurp_llrp.LLRPReaderConfig({"antennas": antennas, "tag_content_selector": SELECTOR,
                                           "keepalive_interval": 200})
    client = sllurp_llrp.LLRPReaderClient("127.0.0.1", port, config)
    client.add_tag_report_callback(collector)
    try:
        await asyncio.to_thread(client.connect)
        await wait_until(lambda: len(collector.snapshot()) >= enough, what=f"{enough} tags via sllurp")
    finally:
        client.hard_disconnect()
        await asyncio.to_thread(client.join, 5)
    return collector.snapshot()


def test_sllurp_receives_the_models_tags_with_antenna_and_rssi():
    async def scenario():
        model = RecordingRfidModel(items=6, read_rate=1.0, antennas=2)
        async with SimulatedLlrpReader(model, round_period_ms=40) as reader:
            tags = await read_with_sllurp(reader.port, [1, 2], enough=18)
            await wait_until(lambda: reader.connection_count == 0, what="sllurp's connection to close")
        model_reads = {(r.epc.lower(), r.antenna, r.rssi_dbm, r.seen_count)
                       for _, reads in model.history for r in reads}
        seen = {(t["EPC"].decode(), t["AntennaID"], t["PeakRSSI"], t["TagSeenCount"]) for t in tags}
        assert seen <= model_reads  # every tag sllurp got is a read the model made
        assert {epc for epc, *_ in seen} == model.present_epcs()
        assert {antenna for _, antenna, *_ in seen} == {1, 2}
        assert all(t["ROSpecID"] == 1 and t["ChannelIndex"] == 1 for t in tags)
        assert all(t["FirstSeenTimestampUTC"] == t["LastSeenTimestampUTC"] > 0 for t in tags)

    asyncio.run(scenario())


def test_sllurp_gets_only_the_antennas_it_asked_for():
    async def scenario():
        model = RecordingRfidModel(items=6, read_rate=1.0, antennas=2)
        async with SimulatedLlrpReader(model, round_period_ms=40) as reader:
            tags = await read_with_sllurp(reader.port, [2], enough=6)
        assert {t["AntennaID"] for t in tags} == {2}

    asyncio.run(scenario())
