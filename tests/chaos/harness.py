"""What the chaos tests share: a real edge agent process whose driver witnesses every
sample it hands over (witness_agent.py), and the books: what was produced, stored, and is
still in the outbox."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

WITNESS_AGENT = Path(__file__).with_name("witness_agent.py")
Reading = tuple[str, str]  # (sensor, device time ms): what a witness line and a stored row share


def agent_config(path: Path, gateway: str, state_dir: Path, broker_port: int, key_file: Path,
                 every_s: float, **overrides) -> Path:
    """A `sim_witness` lot read every `every_s` (a scale reading and an RFID round each)."""
    settings = {
        "gateway_id": gateway, "state_dir": str(state_dir), "key_file": str(key_file),
        "broker": {"port": broker_port}, "clock_source": "synced",
        "batch": {"max_readings": 50, "max_delay_s": 0.25},
        "uplink": {"max_messages_per_s": 50, "burst_messages": 20, "ack_timeout_s": 2.0},
        "drivers": [{"driver": "sim_witness", "every_s": every_s,
                     "config": {"lot": f"lot-{gateway}", "items": 4, "item_weight_kg": 1000.0,
                                "epc_prefix": "6FED9BE4", "rfid_read_rate": 1.0}}]}
    path.write_text(yaml.safe_dump({**settings, **overrides}))
    return path


def start_agent(config: Path, log: Path, witness: Path) -> subprocess.Popen:
    env = {**os.environ, "WITNESS_FILE": str(witness)}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, str(WITNESS_AGENT), "edge", "--config", str(config)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)


def witnessed(witness: Path, first_lines: int | None = None) -> Counter[Reading]:
    lines = witness.read_text().splitlines() if witness.exists() else []
    return Counter(tuple(line.split()) for line in lines[:first_lines])


def stored(data_dir: Path, gateway: str) -> Counter[Reading]:
    path = data_dir / "readings.sqlite"
    if not path.exists():
        return Counter()
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        return Counter((sensor, str(t)) for sensor, t in db.execute(
            "SELECT sensor, time_ms FROM readings WHERE gateway = ?", (gateway,)))


def ledger_keys(data_dir: Path, gateway: str) -> set[tuple[int, int]]:
    path = data_dir / "state.sqlite"
    if not path.exists():
        return set()
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        return set(db.execute("SELECT epoch, seq FROM messages WHERE gateway = ?", (gateway,)))


def ledger_readings(data_dir: Path, gateway: str) -> int:
    """Readings in the messages the backend recorded (and so acknowledged)."""
    with sqlite3.connect(f"file:{data_dir / 'state.sqlite'}?mode=ro", uri=True, timeout=10) as db:
        return db.execute("SELECT coalesce(sum(readings), 0) FROM messages WHERE gateway = ?",
                          (gateway,)).fetchone()[0]


def in_outbox(state_dir: Path, not_in: set[tuple[int, int]]) -> Counter[Reading]:
    """Readings of the batches still in the outbox that the backend has not stored."""
    with sqlite3.connect(f"file:{state_dir / 'outbox.sqlite'}?mode=ro", uri=True, timeout=10) as db:
        rows = db.execute("SELECT epoch, seq, payload FROM batches").fetchall()
    return Counter((r["sensor"], str(r["time_ms"])) for epoch, seq, payload in rows
                   if (epoch, seq) not in not_in for r in json.loads(payload)["readings"])


def outbox_meta(state_dir: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{state_dir / 'outbox.sqlite'}?mode=ro", uri=True, timeout=10) as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        meta["evicted_readings"] = db.execute("SELECT coalesce(sum(readings), 0) FROM evicted").fetchone()[0]
    return meta


def wait(condition, timeout_s: float, what: str) -> float:
    """Polls `condition` until it holds; returns when (monotonic s)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic()
