"""Benchmark (not a test): the readings window's append rate, the embedded SQLite file vs the
database window on PostgreSQL (`timeseries.window: sqlite | database`).

    .venv/bin/python tests/bench/bench_window.py [--batches 40] [--batch 100] [--gateways 200]

Appends the same batches of fresh messages (`--batch` messages of 50 scale readings over
`--gateways` gateways, 50 sensors each, decoded as ingest decodes them) to both windows,
alternating batch by batch (which goes first alternates too), in one process: the SQLite
file (synchronous=FULL) and the database window on its own PostgreSQL (fsync on, as in
production, on this machine). Prints one JSON line: readings appended per second by each
and their ratio. `--writers 2` adds the database window with two processes appending at
once (two ingest hosts), timed after the interleaved run.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from backend.adapters.db.engine import make_engine, migrate  # noqa: E402
from backend.adapters.db.readings_window_repo import SqlReadingWindow  # noqa: E402
from backend.adapters.sqlite_readings import SqliteReadingStore  # noqa: E402
from backend.ports.ingest import AcceptedMessage  # noqa: E402
from edge import protocol  # noqa: E402
from edge.protocol import wire_fast  # noqa: E402
from firmware_sim.fleet import fleet_readings  # noqa: E402

READINGS_PER_MESSAGE = 50
T0_MS = 1_800_000_000_000


def batches(count: int, size: int, gateways: int, gateway_prefix: str = "gw") -> list[list[AcceptedMessage]]:
    rng, seqs, out = random.Random(7), {}, []
    for n in range(count):
        batch = []
        for k in range(size):
            index = (n * size + k) % gateways
            gateway = f"{gateway_prefix}-{index}"
            seqs[gateway] = seqs.get(gateway, 0) + 1
            now_ms = T0_MS + n * 1000
            readings = fleet_readings(index, READINGS_PER_MESSAGE, READINGS_PER_MESSAGE, now_ms, rng)
            payload = protocol.encode(gateway, 1, seqs[gateway], now_ms, readings, None)
            envelope = wire_fast.decode_plain(payload, protocol.topic(gateway, "data"))
            assert envelope is not None
            batch.append(AcceptedMessage(envelope, now_ms, T0_MS))
        out.append(batch)
    return out


def interleaved(stores: dict, work: list[list[AcceptedMessage]]) -> dict[str, float]:
    """Readings per second of each store, batch by batch in turn."""
    for store in stores.values():
        store.append(work[0])  # warm: tables, connections, caches
    seconds, stored = dict.fromkeys(stores, 0.0), dict.fromkeys(stores, 0)
    for n, batch in enumerate(work[1:]):
        for name in (list(stores) if n % 2 == 0 else list(reversed(stores))):
            started = time.perf_counter()
            stored[name] += stores[name].append(batch)
            seconds[name] += time.perf_counter() - started
    assert len(set(stored.values())) == 1, stored
    return {name: stored[name] / seconds[name] for name in stores}


def writer(url: str, prefix: str, count: int, size: int, gateways: int, start, results) -> None:
    window = SqlReadingWindow(make_engine(url))
    work = batches(count, size, gateways, prefix)
    window.append(work[0])
    start.wait()
    started = time.perf_counter()
    stored = sum(window.append(batch) for batch in work[1:])
    results.put((stored, started, time.perf_counter()))


def two_writers(url: str, count: int, size: int, gateways: int) -> float:
    """Readings per second of two processes appending other gateways' messages at once."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    processes = [context.Process(target=writer, args=(url, f"w{n}", count, size, gateways, start, results))
                 for n in range(2)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    return sum(o[0] for o in outcomes) / (max(o[2] for o in outcomes) - min(o[1] for o in outcomes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--gateways", type=int, default=200)
    parser.add_argument("--writers", type=int, choices=(1, 2), default=1)
    args = parser.parse_args()
    work = batches(args.batches + 1, args.batch, args.gateways)
    folder = Path(tempfile.mkdtemp(prefix="pw-bench-window-"))
    from tests_pg import PostgresServer
    server = PostgresServer(fsync=True)
    server.start()
    try:
        engine = make_engine(server.new_database())
        migrate(engine)
        sqlite = SqliteReadingStore(folder / "readings.sqlite")
        rates = interleaved({"sqlite": sqlite, "postgresql": SqlReadingWindow(engine)}, work)
        sqlite.close()
        engine.dispose()
        result = {"readings_per_batch": args.batch * READINGS_PER_MESSAGE, "batches": args.batches,
                  "sqlite_readings_per_s": round(rates["sqlite"]),
                  "postgresql_readings_per_s": round(rates["postgresql"]),
                  "postgresql_over_sqlite": round(rates["postgresql"] / rates["sqlite"], 2)}
        if args.writers == 2:
            url = server.new_database()
            migrate(make_engine(url))
            result["postgresql_two_writers_readings_per_s"] = round(
                two_writers(url, args.batches + 1, args.batch, args.gateways))
    finally:
        server.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
