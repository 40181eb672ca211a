"""Benchmark (not a test): how long a short broker outage costs, end to end.

    .venv/bin/python tests/bench/bench_reconnect.py [--outage-s 5] [--rounds 5]

Real Mosquitto, one `pledgewatch backend --role ingest` process and one `pledgewatch edge`
process (a simulated lot, 2 readings every 50 ms, batches flushed every 0.25 s), all with
their default reconnect and ack settings. Each round stops the broker (SIGTERM; it saves
its persistence file, ingest's session with it), starts it again on the same port
`--outage-s` later, and measures from the stop:
- back_s: the first batch the agent wrote DURING the outage is stored (the backlog moves);
- caught_up_s: every batch written before the restart is stored.
Prints one JSON line per round and a summary.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backend.bench.ingest import start_ingest_process  # noqa: E402
from backend.demo.broker import start_broker  # noqa: E402
from edge.protocol.keys import new_key_pair  # noqa: E402
from tests.bench.bench_edge_agent import agent_config, sim_lots, start_agent, stop  # noqa: E402

GATEWAY = "gw-reconnect"


def outbox_max_seq(path: Path) -> tuple[int, int]:
    """(epoch, highest seq) the agent has written (acked rows are gone: also ask the ledger)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        row = db.execute("SELECT epoch, max(seq) FROM batches GROUP BY epoch ORDER BY epoch DESC").fetchone()
    return row or (0, 0)


def stored_seqs(ledger: Path) -> set[tuple[int, int]]:
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5) as db:
        return set(db.execute("SELECT epoch, seq FROM messages WHERE gateway = ?", (GATEWAY,)))


def highest_written(outbox: Path, ledger: Path) -> tuple[int, int]:
    return max([outbox_max_seq(outbox), *stored_seqs(ledger)])


def wait_until(condition, timeout_s: float) -> float:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.02)
    return time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage-s", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reconnect-") as tmp:
        folder = Path(tmp)
        key_file, public = new_key_pair(folder / "keys", GATEWAY)
        broker = start_broker(folder / "broker", prefer="mosquitto")
        ingest = start_ingest_process(folder, broker, [{"id": GATEWAY, "public_key_pem": public.read_text()}], 0)
        config = agent_config(folder, GATEWAY, broker.port, key_file, sim_lots(1, 0.05), 50.0, None)
        settings = yaml.safe_load(config.read_text())
        del settings["uplink"]["ack_timeout_s"]  # the default, as deployed
        settings["batch"]["max_delay_s"] = 0.25
        config.write_text(yaml.safe_dump(settings))
        agent = start_agent(config, folder / "agent.log")
        outbox, ledger = folder / "edge" / "outbox.sqlite", folder / "data" / "state.sqlite"
        results = []
        try:
            wait_until(lambda: ledger.exists() and stored_seqs(ledger), 30)
            for _ in range(args.rounds):
                time.sleep(2)
                before = highest_written(outbox, ledger)
                stopped = time.monotonic()
                broker.stop()
                wait_until(lambda: outbox_max_seq(outbox) > before, 10)  # written during the outage
                during = outbox_max_seq(outbox)
                time.sleep(max(0.0, args.outage_s - (time.monotonic() - stopped)))
                broker = start_broker(folder / "broker", port=broker.port, prefer="mosquitto")
                restarted = time.monotonic()
                written = outbox_max_seq(outbox)
                back = wait_until(lambda: during in stored_seqs(ledger), 120)
                caught_up = wait_until(lambda: all((written[0], s) in stored_seqs(ledger)
                                                   for s in range(1, written[1] + 1)), 120)
                results.append({"outage_s": round(restarted - stopped, 2), "back_s": round(back - stopped, 2),
                                "caught_up_s": round(caught_up - stopped, 2)})
                print(json.dumps(results[-1]), flush=True)
        finally:
            stop(agent)
            stop(ingest)
            broker.stop()
    print(json.dumps({"rounds": len(results), "back_s_median": statistics.median(r["back_s"] for r in results),
                      "back_s_max": max(r["back_s"] for r in results),
                      "caught_up_s_max": max(r["caught_up_s"] for r in results)}), flush=True)


if __name__ == "__main__":
    main()
