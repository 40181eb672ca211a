"""Two ingest workers (separate processes, as on two hosts) record the same messages at the
same time through the database ledger: each key is recorded by exactly one of them, the
other sees it as already stored, and the seq progress counts every message once."""
from __future__ import annotations

import multiprocessing
import random

import pytest

from backend.adapters.db.engine import make_engine, migrate
from backend.adapters.db.ledger_repo import SqlIngestLedger
from backend.ports.ingest import AcceptedMessage
from edge.protocol import Envelope, Reading

GATEWAYS, SEQS, BATCH = ("gw-a", "gw-b", "gw-c"), 150, 20


def accepted(gateway: str, seq: int) -> AcceptedMessage:
    readings = (Reading("s-1", "weight", 1_000, {"weight_kg": float(seq)}),)
    return AcceptedMessage(Envelope(gateway, 1, seq, 1_000, readings), 2_000, 0)


def worker(url: str, seed: int, start, results) -> None:
    """Record every message once, in a shuffled order of batches; report what it recorded."""
    rng = random.Random(seed)
    ledger = SqlIngestLedger(make_engine(url))
    messages = [accepted(gateway, seq) for gateway in GATEWAYS for seq in range(1, SEQS + 1)]
    batches = [messages[n:n + BATCH] for n in range(0, len(messages), BATCH)]
    rng.shuffle(batches)
    start.wait()
    mine = set()
    for batch in batches:
        mine |= ledger.record(batch, []).new_keys
    results.put(sorted(mine))


@pytest.mark.parametrize("run", range(3))
def test_two_processes_racing_record_each_key_exactly_once(database_url, run):
    migrate(make_engine(database_url))
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=worker, args=(database_url, run * 10 + n, start, results))
               for n in range(2)]
    for process in workers:
        process.start()
    recorded = [set(map(tuple, results.get(timeout=120))) for _ in workers]
    for process in workers:
        process.join(timeout=30)
    everything = {(gateway, 1, seq) for gateway in GATEWAYS for seq in range(1, SEQS + 1)}
    assert recorded[0] & recorded[1] == set()
    assert recorded[0] | recorded[1] == everything
    ledger = SqlIngestLedger(make_engine(database_url))
    assert ledger.already_stored(sorted(everything)) == everything
    status = {g.gateway: g for g in ledger.gateways()}
    assert {g: (s.last_seq, s.acked_seq, s.missing_seqs) for g, s in status.items()} == \
        {g: (SEQS, SEQS, 0) for g in GATEWAYS}
    assert ledger.contiguous_seqs([(g, 1) for g in GATEWAYS]) == {(g, 1): SEQS for g in GATEWAYS}
