"""Benchmark (not a test): the ingest ledger's commit rate, SQLite file vs PostgreSQL.

    .venv/bin/python tests/bench/bench_sql_ledger.py [--batches 60] [--batch 1000] [--gateways 500]

Records batches of new messages (as one ingest commit does: `--batch` messages over
`--gateways` gateways, seqs in order) into the SQLite file ledger and the database ledger on
its own PostgreSQL (fsync on, as in production), in one process on one core. Prints one
JSON line: messages recorded per second by each (multiply by the readings a message
carries, 50 in `pledgewatch bench ingest`, for the readings/s the ledger admits).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from backend.adapters.db.engine import make_engine, migrate  # noqa: E402
from backend.adapters.db.ledger_repo import SqlIngestLedger  # noqa: E402
from backend.adapters.sqlite_ledger import SqliteIngestLedger  # noqa: E402
from backend.ports.ingest import AcceptedMessage  # noqa: E402
from edge.protocol import Envelope, Reading  # noqa: E402

READING = (Reading("s-1", "weight", 1_000, {"weight_kg": 1.0}),)


def batches(count: int, size: int, gateways: int) -> list[list[AcceptedMessage]]:
    seq, out = {}, []
    for n in range(count):
        batch = []
        for k in range(size):
            gateway = f"gw-{(n * size + k) % gateways}"
            seq[gateway] = seq.get(gateway, 0) + 1
            batch.append(AcceptedMessage(Envelope(gateway, 1, seq[gateway], 1_000, READING), 2_000, 0))
        out.append(batch)
    return out


def rate(ledger, work: list[list[AcceptedMessage]]) -> float:
    ledger.record(work[0], [])  # warm: tables, connections
    started = time.perf_counter()
    for batch in work[1:]:
        assert len(ledger.record(batch, []).new_keys) == len(batch)
    return sum(map(len, work[1:])) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--gateways", type=int, default=500)
    args = parser.parse_args()
    work = batches(args.batches, args.batch, args.gateways)
    folder = Path(tempfile.mkdtemp(prefix="pw-bench-ledger-"))
    result = {"messages_per_batch": args.batch, "gateways": args.gateways,
              "sqlite_file_messages_per_s": round(rate(SqliteIngestLedger(folder / "state.sqlite"), work))}
    from tests_pg import PostgresServer
    server = PostgresServer(fsync=True)
    server.start()
    try:
        engine = make_engine(server.new_database())
        migrate(engine)
        result["postgresql_messages_per_s"] = round(rate(SqlIngestLedger(engine), work))
        engine.dispose()
    finally:
        server.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
