"""One in-process round of `pledgewatch bench evidence --cpu`, in a fresh interpreter whose
working directory is the checkout measured (this one, or `--baseline`'s): the bench runs this
file's text with `python -c`, so `backend` is imported from that directory.

    python -c "<this file>" STREAM REGISTRY DATA_DIR on|off OUT [DATABASE_URL]

The recorded stream through IngestService, commits of 1,000 messages as under load, the
evidence log on or off, the registry database (the log) DATABASE_URL or DATA_DIR's; writes
{"cpu_s", "wall_s", "messages"} to OUT (CPU: this process's, what other processes on a shared
machine disturb least). Only what every version of the backend since the log came offers is
used (build_context, IngestService's archive).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def run(stream_path: Path, registry_path: Path, data_dir: Path, log_on: bool, database_url: str | None) -> dict:
    import orjson

    from backend.bootstrap import build_context
    from backend.metrics import Metrics
    from backend.ports.ingest import InboundMessage
    from backend.services.ingest import IngestService
    from backend.settings import BackendSettings
    from edge.protocol.keys import load_public_key

    # As the broker hands them over (bytes), and as tuples the collector stops tracking: the
    # round's own 10,000 lists would otherwise be walked by every full collection of the run.
    stream = [(topic, payload.encode()) for topic, payload in orjson.loads(stream_path.read_bytes())]
    registry = json.loads(registry_path.read_text())
    keys = {g["id"]: load_public_key(g["public_key_pem"]) for g in registry}
    settings = BackendSettings(data_dir=data_dir, roles=[], gateways=registry, database_url=database_url)
    context = build_context(settings)
    try:
        service = IngestService(context.readings, context.ledger, keys, settings.ingest, Metrics(),
                                archive=context.exporter.archive if log_on else None)
        cpu, wall = time.process_time(), time.monotonic()
        for start in range(0, len(stream), 1000):
            now = time.time()
            service.ingest([InboundMessage(topic, payload, now) for topic, payload in stream[start:start + 1000]], now)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    finally:
        context.close()
    return {"cpu_s": cpu, "wall_s": wall, "messages": len(stream)}


if __name__ == "__main__":
    stream_arg, registry_arg, data_arg, log_arg, out_arg = sys.argv[1:6]
    figures = run(Path(stream_arg), Path(registry_arg), Path(data_arg), log_arg == "on",
                  sys.argv[6] if len(sys.argv) > 6 and sys.argv[6] else None)
    Path(out_arg).write_text(json.dumps(figures))
