"""Benchmark (not a test): the SQLite readings store's append as its table of stored message
keys grows (each batch first asks which of its messages are stored already).

    .venv/bin/python tests/bench/bench_readings_dedup.py [--stored 1000000] [--batch 50]

Prints one JSON line: ms per appended batch after `--stored` messages, first and last rounds.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backend.adapters.sqlite_readings import SqliteReadingStore  # noqa: E402
from backend.ports.ingest import AcceptedMessage  # noqa: E402
from edge.protocol import Envelope, Reading  # noqa: E402


def message(gateway: str, seq: int) -> AcceptedMessage:
    reading = Reading(f"{gateway}-scale", "weight", 1_000 + seq, {"weight_kg": float(seq)})
    return AcceptedMessage(Envelope(gateway, 1, seq, 1_000 + seq, (reading,)), 2_000 + seq, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    store = SqliteReadingStore(Path(tempfile.mkdtemp(prefix="pw-bench-dedup-")) / "readings.sqlite")
    gateways = [f"gw-{n}" for n in range(10)]
    per_gateway = args.stored // len(gateways)
    rounds_ms = []
    for start in range(1, per_gateway + 1, args.batch * 100):  # fill, timing one batch every 100
        for gateway in gateways:
            store.append([message(gateway, seq) for seq in range(start, min(start + args.batch * 100, per_gateway + 1))])
        probe = [message("gw-probe", seq) for seq in range(start, start + args.batch)]
        started = time.perf_counter()
        store.append(probe)
        rounds_ms.append(round((time.perf_counter() - started) * 1000, 2))
    print(json.dumps({"stored_messages": per_gateway * len(gateways), "batch": args.batch,
                      "first_batch_ms": rounds_ms[0], "last_batch_ms": rounds_ms[-1]}))


if __name__ == "__main__":
    main()
