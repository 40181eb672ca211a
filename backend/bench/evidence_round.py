"""One in-process round of `pledgewatch bench evidence --cpu`, in a fresh interpreter whose
working directory is the checkout measured (this one, or `--baseline`'s): the bench runs this
file's text with `python -c`, so `backend` is imported from that directory.

    python -c "<this file>" STREAM REGISTRY DATA_DIR OUT [DATABASE_URL]

Two IngestServices in this one process, the evidence log off and on, each with its own stores
in DATA_DIR (the log: DATABASE_URL's registry database, else DATA_DIR's), take the recorded
stream in commits of 1,000 messages as under load, batch by batch in turn (which goes first
alternates): both see the machine as it is within a second of each other, so what other
processes on a shared machine do falls on both alike. Writes to OUT, per setting, the CPU
(this process's, the archive's commit thread included) and wall seconds the service's
`ingest` calls took. Only what every version of the backend since the log came offers is
used (build_context, IngestService's archive).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

COMMIT = 1000


def run(stream_path: Path, registry_path: Path, data_dir: Path, database_url: str | None) -> dict:
    import orjson

    from backend.bootstrap import build_context, tune_collector_for_ingest
    from backend.metrics import Metrics
    from backend.ports.ingest import InboundMessage
    from backend.services.ingest import IngestService
    from backend.settings import BackendSettings
    from edge.protocol.keys import load_public_key

    # As the broker hands them over (bytes), in tuples the collector stops tracking.
    stream = [(topic, payload.encode()) for topic, payload in orjson.loads(stream_path.read_bytes())]
    registry = json.loads(registry_path.read_text())
    keys = {g["id"]: load_public_key(g["public_key_pem"]) for g in registry}
    contexts, services = {}, {}
    for name in ("off", "on"):
        settings = BackendSettings(data_dir=data_dir / name, roles=[], gateways=registry, database_url=database_url)
        contexts[name] = context = build_context(settings)
        services[name] = IngestService(context.readings, context.ledger, keys, settings.ingest, Metrics(),
                                       archive=context.exporter.archive if name == "on" else None)
    tune_collector_for_ingest()  # as `backend --role ingest` does
    cpu, wall = {"off": 0.0, "on": 0.0}, {"off": 0.0, "on": 0.0}
    try:
        for k, start in enumerate(range(0, len(stream), COMMIT)):
            for name in (("off", "on") if k % 2 == 0 else ("on", "off")):
                now = time.time()
                batch = [InboundMessage(topic, payload, now) for topic, payload in stream[start:start + COMMIT]]
                cpu_before, wall_before = time.process_time(), time.perf_counter()
                services[name].ingest(batch, now)
                cpu[name] += time.process_time() - cpu_before
                wall[name] += time.perf_counter() - wall_before
    finally:
        for context in contexts.values():
            context.close()
    return {"cpu_s": cpu, "wall_s": wall, "messages": len(stream)}


if __name__ == "__main__":
    stream_arg, registry_arg, data_arg, out_arg = sys.argv[1:5]
    figures = run(Path(stream_arg), Path(registry_arg), Path(data_arg),
                  sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None)
    Path(out_arg).write_text(json.dumps(figures))
