"""Two ingest workers (separate processes, as on two hosts) append the same messages at once
to the database readings window, while a monitor-like reader follows it by id: each reading
is stored once, and the reader, moving its cursor past every id it saw, misses none (ids
become visible in id order, whatever order the writers commit in)."""
from __future__ import annotations

import multiprocessing
import random
import threading

import pytest

from backend.adapters.db.engine import make_engine, migrate
from backend.adapters.db.readings_window_repo import SqlReadingWindow
from backend.ports.ingest import AcceptedMessage, ReadingQuery
from edge.protocol import Envelope, Reading

GATEWAYS, SEQS, READINGS, BATCH = ("gw-a", "gw-b", "gw-c"), 300, 10, 5
T0_MS = 1_800_000_000_000


def accepted(gateway: str, seq: int) -> AcceptedMessage:
    t_ms = T0_MS + seq * 1000
    readings = tuple(Reading(f"{gateway}-s{i}", "weight", t_ms, {"weight_kg": float(seq)}) for i in range(READINGS))
    return AcceptedMessage(Envelope(gateway, 1, seq, t_ms, readings), t_ms, T0_MS)


def worker(url: str, seed: int, start, results) -> None:
    """Append every message once, batches in a shuffled order; report how many it stored."""
    rng = random.Random(seed)
    window = SqlReadingWindow(make_engine(url))
    messages = [accepted(gateway, seq) for gateway in GATEWAYS for seq in range(1, SEQS + 1)]
    batches = [messages[n:n + BATCH] for n in range(0, len(messages), BATCH)]
    rng.shuffle(batches)
    start.wait()
    results.put(sum(window.append(batch) for batch in batches))


@pytest.mark.parametrize("run", range(3))
def test_two_processes_racing_store_each_reading_once_and_a_follower_misses_none(database_url, run):
    engine = make_engine(database_url)
    migrate(engine)
    window = SqlReadingWindow(engine)
    total = len(GATEWAYS) * SEQS * READINGS
    seen: list[tuple[int, str, int]] = []
    done = threading.Event()

    def follow() -> None:  # as the monitor does: after the last id it read
        cursor = 0
        while True:
            finished = done.is_set()
            rows = window.query(ReadingQuery(after_id=cursor, limit=500))
            if rows:
                cursor = rows[-1].id
                seen.extend((r.id, r.sensor, r.time_ms) for r in rows)
            elif finished:
                return

    follower = threading.Thread(target=follow)
    follower.start()
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=worker, args=(database_url, run * 10 + n, start, results)) for n in range(2)]
    try:
        for process in workers:
            process.start()
        stored = [results.get(timeout=120) for _ in workers]
        for process in workers:
            process.join(timeout=30)
    finally:
        done.set()
        follower.join(timeout=60)
    assert sum(stored) == total and window.count() == total
    assert len({(sensor, t_ms) for _, sensor, t_ms in seen}) == len(seen) == total  # every reading, once
    assert [i for i, _, _ in seen] == sorted(i for i, _, _ in seen)
    engine.dispose()
