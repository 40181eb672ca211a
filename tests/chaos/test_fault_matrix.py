"""The fault matrix of issue 19, each fault on real processes: Mosquitto, a `pledgewatch
backend --role ingest` process and a `pledgewatch edge` process whose driver witnesses
every sample (witness_agent.py). Edge kill -9 x10 is test_edge_kill9.py.

For each fault: the agent streams (~200 readings/s), the fault lasts a few seconds, then
the books must balance once the agent is stopped: produced = stored + in the outbox (+ the
readings the outbox size cap dropped and the backend confirmed it never got, for that
fault only), nothing lost, nothing stored twice. Printed: the books and the recovery time,
from the end of the fault to every reading sampled before that end being stored.
"""
from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from backend.adapters.sqlite_ledger import SqliteIngestLedger
from backend.bench.ingest import start_ingest_process
from backend.demo.broker import start_broker
from edge.protocol.keys import new_key_pair
from tests.chaos import harness
from tests.integration.edge.rig import fill, tmpfs

pytestmark = pytest.mark.e2e

GATEWAY = "gw-chaos"
EVERY_S = 0.01
FAULT_S = 2.0


class Rig:
    """Broker, ingest process and agent process for one fault; `stored` reads the backend."""

    def __init__(self, tmp_path: Path, broker, state_dir: Path | None = None, ingest_extra: dict | None = None,
                 **agent_settings) -> None:
        self.tmp, self.broker, self.ingest_extra = tmp_path, broker, ingest_extra
        key_file, public = new_key_pair(tmp_path / "keys", GATEWAY)
        self.registry = [{"id": GATEWAY, "public_key_pem": public.read_text()}]
        self.data_dir, self.state_dir = tmp_path / "data", state_dir or tmp_path / "edge"
        self.witness, self.log = tmp_path / "witness.txt", tmp_path / "agent.log"
        self.restarted_brokers, self.agent, self.ingest = [], None, None
        self.config = harness.agent_config(tmp_path / "agent.yaml", GATEWAY, self.state_dir, broker.port,
                                           key_file, EVERY_S, **agent_settings)
        self.stored = lambda: harness.stored(self.data_dir, GATEWAY)

    def start(self) -> None:
        self.start_ingest()
        self.agent = harness.start_agent(self.config, self.log, self.witness)
        harness.wait(lambda: harness.ledger_keys(self.data_dir, GATEWAY), 30, "the first batch stored")

    def sampled(self) -> int:
        return sum(harness.witnessed(self.witness).values())

    def restart_broker(self, signum: int) -> None:
        self.broker.process.send_signal(signum)
        self.broker.process.wait(timeout=20)
        time.sleep(FAULT_S)
        self.broker = start_broker(self.tmp / "broker", port=self.broker.port, prefer="mosquitto")
        self.restarted_brokers.append(self.broker)

    def kill_ingest(self) -> None:
        self.ingest.send_signal(signal.SIGKILL)
        self.ingest.wait()

    def start_ingest(self) -> None:
        self.ingest = start_ingest_process(self.tmp, self.broker, self.registry, 0, extra=self.ingest_extra)

    def recovery_s(self, sampled_before: int, fault_ended: float) -> float:
        """Seconds from the end of the fault until every reading sampled before it is stored."""
        before = harness.witnessed(self.witness, sampled_before)
        done = harness.wait(lambda: not before - self.stored(), 60, "the backlog to be stored")
        return done - fault_ended

    def books(self, name: str, recovery_s: float, dropped_readings: int = 0) -> Counter:
        """Stop the agent, let ingest settle, and check produced = stored + in the outbox."""
        self.agent.terminate()
        assert self.agent.wait(timeout=30) == 0, f"the agent did not stop cleanly; see {self.log}"
        recorded = [-1]  # in flight when the agent stopped: recorded by ingest within moments
        harness.wait(lambda: time.sleep(0.5) or recorded.append(harness.ledger_readings(self.data_dir, GATEWAY))
                     or recorded[-1] == recorded[-2], 30, "ingest to settle")
        # What ingest acknowledged is in the store (the TSDB's spool may still be flushing).
        harness.wait(lambda: sum(self.stored().values()) >= recorded[-1], 30, "the store to catch up")
        produced, stored = harness.witnessed(self.witness), self.stored()
        pending = harness.in_outbox(self.state_dir, harness.ledger_keys(self.data_dir, GATEWAY))
        duplicates = sum(stored.values()) - len(stored)
        unknown = stored + pending - produced
        lost = sum(produced.values()) - sum((stored + pending).values()) - dropped_readings
        print(f"\n[chaos] {name}: produced {sum(produced.values())}, stored {sum(stored.values())}, "
              f"in outbox {sum(pending.values())}, dropped by the cap {dropped_readings}, lost {lost}, "
              f"duplicates {duplicates}, recovery {recovery_s:.1f} s")
        assert duplicates == 0 and not unknown, f"stored twice or never produced: {list(unknown)[:5]}"
        assert lost == 0, f"{lost} readings lost"
        return produced

    def close(self) -> None:
        for process in (self.agent, self.ingest):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        for broker in self.restarted_brokers:
            broker.stop()


@pytest.fixture
def rig_factory(tmp_path, mosquitto):
    rigs = []

    def make(**kwargs) -> Rig:
        rigs.append(Rig(tmp_path, mosquitto, **kwargs))
        rigs[-1].start()  # registered first: a failed start is cleaned up too
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["broker-stop", "broker-sigkill"])
def test_broker_down_then_back(rig_factory, signum):
    rig = rig_factory()
    time.sleep(1)
    rig.restart_broker(signum)
    ended, sampled = time.monotonic(), rig.sampled()
    rig.books(f"broker {signal.Signals(signum).name} for {FAULT_S:.0f} s", rig.recovery_s(sampled, ended))


def test_ingest_sigkilled_during_a_backlog_drain(rig_factory):
    rig = rig_factory()
    rig.kill_ingest()
    time.sleep(FAULT_S)  # a backlog piles up in ingest's session at the broker
    backlog_from = len(harness.ledger_keys(rig.data_dir, GATEWAY))
    rig.start_ingest()
    harness.wait(lambda: len(harness.ledger_keys(rig.data_dir, GATEWAY)) > backlog_from, 30, "the drain to start")
    rig.kill_ingest()  # mid-drain
    rig.start_ingest()
    ended, sampled = time.monotonic(), rig.sampled()
    rig.books("ingest SIGKILLed, then again during the drain", rig.recovery_s(sampled, ended))


def test_tsdb_down(rig_factory, victoria):
    victoria.start()
    rig = rig_factory(ingest_extra={"timeseries": {"store": "influxdb", "influx_url": victoria.url}})
    rig.stored = lambda: tsdb_readings(victoria)
    harness.wait(lambda: rig.stored(), 30, "the first readings in victoria-metrics")
    victoria.stop()  # ingest spools to disk meanwhile, and keeps acknowledging
    time.sleep(FAULT_S)
    victoria.start()
    ended, sampled = time.monotonic(), rig.sampled()
    rig.books(f"victoria-metrics down for {FAULT_S:.0f} s", rig.recovery_s(sampled, ended))


def tsdb_readings(victoria) -> Counter:
    """(sensor, time_ms) of every point of the lot's two series, each point counted."""
    try:
        series = victoria.export("weight_weight_kg") + victoria.export("rfid_tag_count")
    except httpx.HTTPError:
        return Counter()
    return Counter((s["metric"]["sensor"], str(t)) for s in series for t in s["timestamps"]
                   if s["metric"]["gateway"] == GATEWAY)


def test_disk_full_at_the_edge(tmp_path, rig_factory):
    with tmpfs(tmp_path / "state", "16m") as state:
        rig = rig_factory(state_dir=state, metrics={"port": None})
        rig.kill_ingest()  # no acks: the outbox must grow into the full disk
        filler = fill(state)
        harness.wait(lambda: "storage failing" in rig.log.read_text(), 30, "the agent to notice the full disk")
        time.sleep(1)
        filler.unlink()
        rig.start_ingest()
        ended, sampled = time.monotonic(), rig.sampled()
        assert rig.agent.poll() is None, "the agent died of a full disk"
        rig.books("edge state_dir full (16 MiB tmpfs)", rig.recovery_s(sampled, ended))
        assert rig.log.read_text().count("storage failing") <= 3


def test_outbox_cap_with_a_gap(rig_factory):
    rig = rig_factory(outbox={"max_bytes": 64 * 1024})
    rig.restart_broker(signal.SIGKILL)  # meanwhile the cap evicts the oldest unsent batches
    ended = time.monotonic()

    def status():
        return next(s for s in SqliteIngestLedger(rig.data_dir / "state.sqlite").gateways() if s.gateway == GATEWAY)

    # Every evicted batch settled, and no gap the backend cannot explain.
    harness.wait(lambda: not harness.outbox_meta(rig.state_dir)["evicted_readings"] and status().missing_seqs == 0,
                 30, "the backend to settle the evicted batches")
    recovery_s = time.monotonic() - ended
    assert status().dropped_seqs > 0
    dropped = harness.outbox_meta(rig.state_dir).get("dropped_readings", 0)
    assert dropped > 0, "the cap should have dropped batches"
    rig.books("outbox cap 64 KiB through a broker SIGKILL", recovery_s, dropped_readings=dropped)
