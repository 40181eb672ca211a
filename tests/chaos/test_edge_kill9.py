"""Chaos: kill -9 the real edge agent 10 times mid-stream: every reading it sampled is
stored exactly once.

A real `pledgewatch edge` process reads an in-process simulated lot (`sim_lot`, a scale
reading and an RFID round every 10 ms: ~200 readings/s) and publishes through a real
Mosquitto to a real `pledgewatch backend --role ingest` process. It is SIGKILLed at a
random moment (seeded; KILL9_SEED replays a run) after its boot epoch has written its
first batch, and restarted, 10 times; a last start (one read, then idle) drains the backlog.
Between the first batch and the kill, in a shuffled schedule, twice each: the agent just
streams; the ingest process is paused (SIGSTOP: no acks, so published but unacknowledged
batches are left behind); ingest is stopped, and started again after the kill; the broker
is paused (no PUBACK: batches never published are left behind); ingest is paused and the
broker is SIGKILLed right after the agent and restarted on its port (what it had PUBACKed
but not yet delivered is gone: only the agent's outbox still has it). The next boot replays
them alongside its own stream through the token bucket (10 messages/s, bursts of 5: 2.5x
the stream's ~4 batches/s); late acks for an old epoch reach a newer boot.

What "batched" means, observed from outside the agent: a batch exists once it is in
outbox.sqlite. A watcher copies every row it sees there (polling every 20 ms), and after
each kill copies the outbox exactly as the kill left it. A batch acknowledged and deleted
between two polls is in the backend's ledger anyway. So for each boot epoch e,
N_e = the highest seq seen in the outbox or the ledger, and the backend must hold exactly
the seqs 1..N_e of every epoch (missing_seqs 0), each message once, each reading once
(gateway, epoch, seq, idx), and each batch the watcher saw with the same readings.

Every sampled reading, not only the batched ones: the driver (`sim_witness`, in
witness_agent.py) appends each sample to a witness file before handing it to the agent,
and the backend must hold exactly the witnessed readings, each once. Readings sampled but
not yet batched when the kill lands are in the agent's sample journal; the next boot
batches them in its own epoch. (The only window left is between the witness's write and
the journal's, a few instructions of the same synchronous step.)

Not covered here: a SIGKILL leaves the OS page cache intact, so `synchronous=FULL` (what a
power cut needs) is not exercised; only the process dies.
"""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from waiting import wait_for

from backend.adapters.sqlite_ledger import SqliteIngestLedger
from backend.bench.ingest import start_ingest_process
from backend.demo.broker import start_broker
from edge.protocol.keys import new_key_pair
from tests.chaos import harness

pytestmark = pytest.mark.e2e

GATEWAY = "gw-kill9"
KILLS = 10
EVERY_S = 0.01
BATCH_READINGS, BATCH_DELAY_S = 50, 0.25
MAX_KILL_DELAY_S = 1.5


def agent_config(tmp_path: Path, broker_port: int, key_file: Path, every_s: float, name: str) -> Path:
    return harness.agent_config(tmp_path / f"{name}.yaml", GATEWAY, tmp_path / "edge", broker_port, key_file,
                                every_s, reconnect_min_s=0.1, reconnect_max_s=0.5,
                                batch={"max_readings": BATCH_READINGS, "max_delay_s": BATCH_DELAY_S},
                                uplink={"max_messages_per_s": 10, "burst_messages": 5, "ack_timeout_s": 2.0})


def start_agent(config: Path, log: Path) -> subprocess.Popen:
    return harness.start_agent(config, log, log.with_name("witness.txt"))


class OutboxWatcher(threading.Thread):
    """Every (epoch, seq) -> (readings, payload) ever seen in the agent's outbox."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.seen, self.conflicts = path, {}, []
        self._lock, self._halt = threading.Lock(), threading.Event()

    def snapshot(self) -> dict[tuple[int, int], tuple[int, bytes]]:
        """The outbox now (read-only: never checkpoints or recovers the agent's WAL)."""
        if not self.path.exists():
            return {}
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
            try:
                rows = {(e, s): (n, bytes(p)) for e, s, n, p in
                        db.execute("SELECT epoch, seq, readings, payload FROM batches")}
            finally:
                db.close()
        except sqlite3.OperationalError:  # created but no schema yet
            return {}
        with self._lock:
            for key, row in rows.items():
                if key in self.seen and self.seen[key] != row:
                    self.conflicts.append(key)  # one (epoch, seq), two different batches
                self.seen.setdefault(key, row)
        return rows

    def epochs_seen(self) -> set[int]:
        with self._lock:
            return {epoch for epoch, _ in self.seen}

    def run(self) -> None:
        while not self._halt.wait(0.02):
            self.snapshot()

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def ledger_messages(data_dir: Path) -> dict[tuple[int, int], int]:
    path = data_dir / "state.sqlite"
    if not path.exists():
        return {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        return {(e, s): n for e, s, n in db.execute(
            "SELECT epoch, seq, readings FROM messages WHERE gateway = ?", (GATEWAY,))}


def boot_epoch(log: Path, boot: int, agent: subprocess.Popen) -> int:
    """The epoch the `boot`-th start of the agent logged."""
    until(lambda: log.read_text().count("boot epoch") >= boot or agent.poll() is not None, 30, "the agent to start")
    assert agent.poll() is None, f"the agent died by itself; see {log}"
    return int(log.read_text().split("boot epoch ")[boot].split()[0])



def until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_kill9_ten_times_mid_stream_every_sampled_reading_is_stored_exactly_once(tmp_path, mosquitto):
    seed = int(os.environ.get("KILL9_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    print(f"KILL9_SEED={seed}")
    private_path, public_path = new_key_pair(tmp_path / "keys", GATEWAY)
    data_dir = tmp_path / "data"
    registry = [{"id": GATEWAY, "public_key_pem": public_path.read_text()}]
    ingest = start_ingest_process(tmp_path, mosquitto, registry, 0)
    schedule = ["streaming", "ingest-paused", "ingest-down", "broker-paused", "broker-crash"] * 2
    rng.shuffle(schedule)
    streaming = agent_config(tmp_path, mosquitto.port, private_path, EVERY_S, "edge-stream")
    draining = agent_config(tmp_path, mosquitto.port, private_path, 3600.0, "edge-drain")
    log = tmp_path / "edge.log"
    watcher = OutboxWatcher(tmp_path / "edge" / "outbox.sqlite")
    watcher.start()
    kills = []  # (epoch, killed at (unix s), batches left in the outbox by the kill, mode)
    agent, epochs, broker, restarted = None, [], mosquitto, []
    try:
        for boot in range(1, KILLS + 1):
            agent = start_agent(streaming, log)
            epoch = boot_epoch(log, boot, agent)
            epochs.append(epoch)
            until(lambda: epoch in watcher.epochs_seen() or any(e == epoch for e, _ in ledger_messages(data_dir))
                  or agent.poll() is not None, 30, f"epoch {epoch}'s first batch")
            assert agent.poll() is None, f"the agent died by itself; see {log}"
            mode = schedule[boot - 1]
            if mode in ("ingest-paused", "broker-crash"):  # no acks: published, unacked batches left
                ingest.send_signal(signal.SIGSTOP)
            elif mode == "ingest-down":  # its session queues at the broker; acks only after its restart
                ingest.terminate()
                ingest.wait(timeout=30)
            elif mode == "broker-paused":  # no PUBACK: batches never published left behind
                broker.process.send_signal(signal.SIGSTOP)
            time.sleep(rng.uniform(0.0, MAX_KILL_DELAY_S))
            killed_at = time.time()
            agent.send_signal(signal.SIGKILL)
            agent.wait()
            left = watcher.snapshot()  # the outbox exactly as the kill left it
            if mode == "broker-crash":  # what the broker held for ingest (PUBACKed) is gone
                broker.process.send_signal(signal.SIGKILL)
                broker.process.wait()
                broker = start_broker(tmp_path / "broker", port=broker.port, prefer="mosquitto")
                restarted.append(broker)
            if mode in ("ingest-paused", "broker-crash"):
                ingest.send_signal(signal.SIGCONT)
            elif mode == "ingest-down":
                ingest = start_ingest_process(tmp_path, broker, registry, 0)
            elif mode == "broker-paused":
                broker.process.send_signal(signal.SIGCONT)
            kills.append((epoch, killed_at, len(left), mode))
        drain_started = time.monotonic()
        agent = start_agent(draining, log)  # one read, then idle: its outbox empties
        drain_epoch = boot_epoch(log, KILLS + 1, agent)
        epochs.append(drain_epoch)
        # Its first batches are what the journal kept from the last kill; then its one read.
        witness = tmp_path / "witness.txt"
        drained = wait_for(lambda: (drain_epoch, 1) in ledger_messages(data_dir) and not watcher.snapshot()
                           and sum(ledger_messages(data_dir).values()) >= len(witness.read_text().splitlines()),
                           120)  # one run in several, after an ingest restart, a batch waited over 30 s (not yet explained)
        recovery_s = time.monotonic() - drain_started
        agent.terminate()
        assert agent.wait(timeout=15) == 0
    finally:
        if agent is not None and agent.poll() is None:
            agent.kill()
            agent.wait()
        if broker.process.poll() is None:
            broker.process.send_signal(signal.SIGCONT)
        if ingest.poll() is None:
            ingest.send_signal(signal.SIGCONT)
            ingest.terminate()
            ingest.wait(timeout=30)
        for started in restarted:  # the fixture stops the first one
            started.stop()
        watcher.stop()

    stored = ledger_messages(data_dir)
    seen, left = watcher.seen, sorted(watcher.snapshot())
    with sqlite3.connect(data_dir / "readings.sqlite") as db:
        count, distinct = db.execute(
            "SELECT count(*), count(DISTINCT epoch || '/' || seq || '/' || idx) FROM readings "
            "WHERE gateway = ?", (GATEWAY,)).fetchone()
        rows = db.execute("SELECT epoch, seq, sensor, time_ms FROM readings WHERE gateway = ? "
                          "ORDER BY epoch, seq, idx", (GATEWAY,)).fetchall()
    db.close()
    by_batch: dict[tuple[int, int], list] = {}
    for epoch, seq, sensor, time_ms in rows:
        by_batch.setdefault((epoch, seq), []).append((sensor, time_ms))
    witnessed = Counter(tuple(line.split()) for line in witness.read_text().splitlines())
    stored_readings = Counter((sensor, str(time_ms)) for _, _, sensor, time_ms in rows)
    print(f"kills: {len(kills)}, batches stored: {len(stored)}, readings stored: {count}, "
          f"sampled: {sum(witnessed.values())}, lost: {sum((witnessed - stored_readings).values())}, "
          f"duplicates: {count - distinct}, recovery after the last kill (drain): {recovery_s:.1f} s, "
          f"(mode, outbox rows left) at each kill: {[(m, n) for *_, n, m in kills]}")

    assert epochs == list(range(1, KILLS + 2)), f"boot epochs {epochs}: not a new one per start"
    assert not watcher.conflicts, f"a seq was reused for different batches: {watcher.conflicts[:5]}"
    never_stored = witnessed - stored_readings
    assert not never_stored, f"{sum(never_stored.values())} sampled readings lost, e.g. {list(never_stored)[:5]}"
    assert stored_readings == witnessed, "stored readings nobody sampled, or sampled once and stored twice"
    expected = set()
    for epoch in epochs:
        last = max([s for e, s in [*seen, *stored] if e == epoch], default=0)
        assert last > 0, f"epoch {epoch} batched nothing"
        expected.update((epoch, seq) for seq in range(1, last + 1))
    lost = sorted(expected - stored.keys())
    assert not lost, f"{len(lost)} batches batched but never stored, e.g. {lost[:10]}"
    assert stored.keys() == expected
    assert drained and not left, f"{len(left)} batches never acknowledged, e.g. {left[:10]}"
    for key, (readings, payload) in seen.items():  # the very readings the agent batched
        batched = [(r["sensor"], r["time_ms"]) for r in json.loads(payload)["readings"]]
        assert stored[key] == readings and by_batch[key] == batched, f"batch {key} stored otherwise"
    assert count == distinct, f"{count - distinct} readings stored twice"
    assert count == sum(stored.values()), "readings lost between the ledger and the store"
    status = next(s for s in SqliteIngestLedger(data_dir / "state.sqlite").gateways() if s.gateway == GATEWAY)
    assert status.missing_seqs == 0 and status.boot_epoch == epochs[-1]
