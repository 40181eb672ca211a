"""Two ingest workers (separate processes, as on two hosts) append the same messages at once
to the database readings window, while a monitor-like reader follows it by id: each reading
is stored once, and the reader, moving its cursor past every id it saw, misses none (ids
become visible in id order, whatever order the writers commit in). And two hosts expiring at
once fold each reading into its hourly row once."""
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


def expirer(url: str, before_ms: int, start, results) -> None:
    window = SqlReadingWindow(make_engine(url))
    start.wait()
    results.put(window.expire(before_ms))


def test_two_hosts_expiring_at_once_fold_each_reading_into_its_hour_once(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    window = SqlReadingWindow(engine)
    messages = [accepted(gateway, seq) for gateway in GATEWAYS for seq in range(1, 3001)]  # 50 min a gateway
    for n in range(0, len(messages), 500):
        window.append(messages[n:n + 500])
    cut_ms = T0_MS + 2_400 * 1000  # 40 minutes: 2,399 s of each sensor, 1 to 2,399
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    expirers = [context.Process(target=expirer, args=(database_url, cut_ms, start, results)) for _ in range(2)]
    for process in expirers:
        process.start()
    expired = [results.get(timeout=120) for _ in expirers]
    for process in expirers:
        process.join(timeout=30)
    per_sensor = 2_399
    assert sum(expired) == per_sensor * len(GATEWAYS) * READINGS
    assert window.count() == (3000 - per_sensor) * len(GATEWAYS) * READINGS
    folded = window.hourly("gw-a-s0")
    assert sum(count for _, _, count, _, _, _ in folded) == per_sensor
    assert sum(total for *_, total in folded) == float(sum(range(1, per_sensor + 1)))
    engine.dispose()
