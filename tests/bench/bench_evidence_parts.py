"""Benchmark (not a test): where the evidence path's time goes on ingest, part by part.

    .venv/bin/python tests/bench/bench_evidence_parts.py [--messages 10000] [--log-size 0]

One IngestService with the evidence archive on, in this process with the collector tuned as
`backend --role ingest` tunes it, takes the recorded stream of `bench ingest` (signed
50-reading batches over 100 gateways) in commits of 1,000 messages; with `--log-size N` the
registry database starts with a log of N entries (`bench evidence`'s filler). The archive's
functions are wrapped with timers, so each part is measured where it runs. Prints one JSON
line: microseconds per message for

- `leaf`: the batch.ingested leaf (SHA-256 of what the gateway signed, the canonical bytes);
- `compress`: the envelope's LZ4 compression;
- `log`: the log's append (the log lock, the right edge, leaf and node hashes, the inserts
  into log_entries and log_nodes, the new size);
- `envelope`: the envelope row (three b-trees: by log index, by message, by gateway and time);
- `commit`: the archive's commit, on its own thread while the readings are written;
- `ingest`: the whole `IngestService.ingest` call on the ingest thread (decode, verify,
  dedup, the readings' write, the ledger) for comparison;

and each part as a fraction of `ingest`. The main-thread parts add up to the archive's cost on
the ingest thread; `commit` runs beside the readings' write (it costs CPU, not latency).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]

import orjson  # noqa: E402

import backend.adapters.db.evidence_repo as repo  # noqa: E402
import backend.services.ingest as ingest_module  # noqa: E402
from backend.bench.evidence import fill_log  # noqa: E402
from backend.bench.ingest import record_stream  # noqa: E402
from backend.bootstrap import build_context, tune_collector_for_ingest  # noqa: E402
from backend.metrics import Metrics  # noqa: E402
from backend.ports.ingest import InboundMessage  # noqa: E402
from backend.settings import BackendSettings  # noqa: E402
from edge.protocol.keys import load_public_key  # noqa: E402

COMMIT = 1000
spent: dict[str, float] = {}


def _timed(owner, name: str, part: str, select: Callable[..., bool] = lambda *args: True) -> None:
    """Wrap owner.name so its wall time adds to `part` (when `select(*args)`)."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            if select(*args):
                spent[part] = spent.get(part, 0.0) + time.perf_counter() - began
    setattr(owner, name, wrapper)


def _instrument() -> None:
    _timed(ingest_module, "archived", "leaf")
    _timed(repo, "_stored", "compress")
    _timed(repo, "_append", "log")
    _timed(repo, "_insert", "envelope", select=lambda db, into, rows: into.startswith("evidence_envelopes"))
    _timed(repo, "_commit", "commit")
    _timed(ingest_module.IngestService, "ingest", "ingest")


def run(messages: int, log_size: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="pw-bench-evparts-") as tmp:
        root = Path(tmp)
        (root / "stream").mkdir()
        stream_path, registry, _ = record_stream(root / "stream", messages, 100)
        database_url = None
        if log_size:
            fill_log(root / "registry.sqlite", log_size)
            database_url = f"sqlite:///{root / 'registry.sqlite'}"
        stream = [(topic, payload.encode()) for topic, payload in orjson.loads(stream_path.read_bytes())]
        keys = {g["id"]: load_public_key(g["public_key_pem"]) for g in registry}
        settings = BackendSettings(data_dir=root / "data", roles=[], gateways=registry, database_url=database_url)
        context = build_context(settings)
        service = ingest_module.IngestService(context.readings, context.ledger, keys, settings.ingest, Metrics(),
                                              archive=context.exporter.archive)
        _instrument()
        tune_collector_for_ingest()
        try:
            for start in range(0, len(stream), COMMIT):
                now = time.time()
                service.ingest([InboundMessage(topic, payload, now) for topic, payload in stream[start:start + COMMIT]],
                               now)
        finally:
            context.close()
    per_message_us = {part: round(seconds * 1e6 / messages, 1) for part, seconds in spent.items()}
    whole = spent["ingest"]
    # `log` includes its own inserts; the envelope's insert is timed apart from it
    on_thread = sum(spent.get(part, 0.0) for part in ("leaf", "compress", "log", "envelope"))
    return {"messages": messages, "log_size": log_size, "us_per_message": per_message_us,
            "fraction_of_ingest": {part: round(spent[part] / whole, 4) for part in spent if part != "ingest"},
            "archive_on_ingest_thread_fraction": round(on_thread / whole, 4),
            "archive_with_commit_fraction": round((on_thread + spent.get("commit", 0.0)) / whole, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--log-size", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(run(args.messages, args.log_size)))


if __name__ == "__main__":
    main()
