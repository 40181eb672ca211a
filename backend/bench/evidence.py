"""`pledgewatch bench evidence`: what the evidence log costs.

1. Ingest with the log on and off (`evidence.log_ingest`): the same recorded stream of signed
   50-reading batches through real `backend --role ingest` processes and Mosquitto, in
   interleaved rounds (off, on, on, off, ...), as `bench ingest` measures it.
2. A 30-day dispute pack of a 2-lot loan read at 1 Hz: the demo book's loan-river-1 (lots
   lot-qd-1 and lot-qd-2, both on gateway gw-qingdao). The gateway sends one signed envelope
   per second holding both scales' readings (the edge agent's default batching:
   `batch.max_delay_s` 1 s). Those envelopes are synthesized directly into the database
   through the archive's own `keep` (signed, logged, nodes and all), with hourly price marks,
   then `evidence export` is timed.
"""
from __future__ import annotations

import base64
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.signing import SigningKey

from backend.bench.ingest import BenchError, ingest_round, record_stream
from backend.demo.broker import start_broker
from backend.domain import evidence
from backend.ports.evidence import ArchivedEnvelope
from backend.ports.prices import PriceQuote
from backend.services.evidence_pack import signed_sha256
from edge import protocol
from edge.protocol.keys import private_key_pem, public_key_pem

BOOK = Path(__file__).resolve().parents[2] / "seeds" / "demo.yaml"
LOAN, GATEWAY, SCALES = "loan-river-1", "gw-qingdao", ("lot-qd-1-scale", "lot-qd-2-scale")


def run_ingest_compare(messages: int, rounds: int, processes: int,
                       progress: Callable[[str], None] = lambda line: None) -> dict:
    with tempfile.TemporaryDirectory(prefix="pw-bench-evidence-") as tmp:
        root = Path(tmp)
        stream_path, registry, positions = record_stream(root, messages, 100)
        broker = start_broker(root / "broker", prefer="mosquitto")
        if broker.kind != "mosquitto":
            broker.stop()
            raise BenchError("the bench needs Mosquitto (apt-get install mosquitto)")
        rates: dict[bool, list[float]] = {False: [], True: []}
        try:
            for n in range(rounds):
                for log_on in ((False, True) if n % 2 == 0 else (True, False)):
                    folder = root / f"round-{n}-{'on' if log_on else 'off'}"
                    folder.mkdir()
                    result = ingest_round(stream_path, registry, positions, broker, folder, processes,
                                          extra={"evidence": {"log_ingest": log_on}})
                    if result.lost or result.duplicates_stored:
                        raise BenchError(f"round {n}: {result.lost} lost, {result.duplicates_stored} duplicated")
                    rates[log_on].append(result.readings_per_s)
                    progress(f"round {n + 1}/{rounds}: log {'on ' if log_on else 'off'} "
                             f"{result.readings_per_s:,.0f} readings/s")
        finally:
            broker.stop()
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    return {"messages": messages, "rounds": rounds, "ingest_processes": processes,
            "log_off_readings_per_s": round(off), "log_on_readings_per_s": round(on),
            "cost_fraction": round(1 - on / off, 3),
            "log_off_rounds": [round(r) for r in rates[False]], "log_on_rounds": [round(r) for r in rates[True]]}


def run_ingest_cpu_compare(messages: int, rounds: int, progress: Callable[[str], None] = lambda line: None) -> dict:
    """The same stream through IngestService in this process, the log off and on in turn,
    commits of 1,000 messages as under load: CPU seconds per 100,000 readings (what other
    processes on a shared machine cannot disturb), and wall seconds."""
    import orjson

    from backend.bootstrap import build_context
    from backend.metrics import Metrics
    from backend.ports.ingest import InboundMessage
    from backend.services.ingest import IngestService
    from backend.settings import BackendSettings
    from edge.protocol.keys import load_public_key

    with tempfile.TemporaryDirectory(prefix="pw-bench-cpu-") as tmp:
        root = Path(tmp)
        stream_path, registry, _ = record_stream(root, messages, 100)
        stream = orjson.loads(stream_path.read_bytes())
        keys = {g["id"]: load_public_key(g["public_key_pem"]) for g in registry}
        figures: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for n in range(rounds):
            for log_on in ((False, True) if n % 2 == 0 else (True, False)):
                settings = BackendSettings(data_dir=root / f"data-{n}-{log_on}", roles=[], gateways=registry)
                context = build_context(settings)
                service = IngestService(context.readings, context.ledger, keys, settings.ingest, Metrics(),
                                        archive=context.exporter.archive if log_on else None)
                cpu, wall = time.process_time(), time.monotonic()
                for start in range(0, len(stream), 1000):
                    now = time.time()
                    service.ingest([InboundMessage(topic, payload.encode(), now)
                                    for topic, payload in stream[start:start + 1000]], now)
                cpu, wall = time.process_time() - cpu, time.monotonic() - wall
                context.close()
                per = 100_000 / (len(stream) * 50)
                figures[log_on].append((cpu * per, wall * per))
                progress(f"cpu round {n + 1}/{rounds}: log {'on ' if log_on else 'off'} "
                         f"{cpu * per:.2f} CPU s, {wall * per:.2f} wall s per 100,000 readings")
    off_cpu, on_cpu = (statistics.median(c for c, _ in figures[flag]) for flag in (False, True))
    off_wall, on_wall = (statistics.median(w for _, w in figures[flag]) for flag in (False, True))
    return {"messages": messages, "rounds": rounds, "log_off_cpu_s_per_100k": round(off_cpu, 3),
            "log_on_cpu_s_per_100k": round(on_cpu, 3), "cpu_cost_fraction": round(on_cpu / off_cpu - 1, 3),
            "log_off_wall_s_per_100k": round(off_wall, 3), "log_on_wall_s_per_100k": round(on_wall, 3),
            "wall_cost_fraction": round(on_wall / off_wall - 1, 3)}


def run_bytes_per_reading(messages: int = 2000) -> dict:
    """What the archive and the log add to the (SQLite) database per reading, for the 50-reading
    batches of `bench ingest`, stored through the real IngestService; vacuumed before and after."""
    import sqlite3

    import orjson

    from backend.bootstrap import build_context
    from backend.metrics import Metrics
    from backend.ports.ingest import InboundMessage
    from backend.services.ingest import IngestService
    from backend.settings import BackendSettings
    from edge.protocol.keys import load_public_key

    def database_bytes(path: Path) -> int:
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("VACUUM")
            return db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]

    with tempfile.TemporaryDirectory(prefix="pw-bench-bytes-") as tmp:
        root = Path(tmp)
        stream_path, registry, _ = record_stream(root, messages, 20)
        settings = BackendSettings(data_dir=root / "data", roles=[], gateways=registry)
        context = build_context(settings)
        database = root / "data" / "registry.sqlite"
        before = database_bytes(database)
        keys = {g["id"]: load_public_key(g["public_key_pem"]) for g in registry}
        service = IngestService(context.readings, context.ledger, keys, settings.ingest, Metrics(),
                                archive=context.exporter.archive)
        stream = orjson.loads(stream_path.read_bytes())
        payload_bytes = 0
        for start in range(0, len(stream), 200):
            batch = [InboundMessage(topic, payload.encode(), time.time()) for topic, payload in stream[start:start + 200]]
            payload_bytes += sum(len(m.payload) for m in batch)
            service.ingest(batch, time.time())
        context.close()
        readings = len(stream) * 50
        return {"messages": len(stream), "readings": readings,
                "envelope_bytes_per_reading": round(payload_bytes / readings, 1),
                "database_bytes_per_reading": round((database_bytes(database) - before) / readings, 1)}


class _Envelopes:
    """Signed data messages of gw-qingdao, built from a template and checked once against the
    codec (the bytes `protocol.encode` makes)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.signer = SigningKey(key.private_bytes_raw())
        self.key_id = protocol.key_fingerprint(key.public_key())
        self.reference = protocol.Signer(key)

    def body(self, seq: int, at_ms: int) -> bytes:
        readings = ",".join(
            f'{{"kind":"weight","quality":"good","sensor":"{sensor}","time_ms":{at_ms},'
            f'"values":{{"weight_kg":{weight!r}}}}}' for sensor, weight in zip(SCALES, (150.0 + seq % 7 / 10, 375.5)))
        return f'{{"epoch":1,"gateway":"{GATEWAY}","readings":[{readings}],"sent_at_ms":{at_ms},"seq":{seq}'.encode()

    def message(self, seq: int, at_ms: int) -> tuple[bytes, bytes]:
        """(wire bytes, the bytes the signature covers)."""
        body = self.body(seq, at_ms)
        signed = body + b',"v":1}'
        value = base64.b64encode(self.signer.sign(protocol.DATA_SIGNING_CONTEXT + signed).signature).decode()
        wire = body + f',"sig":{{"alg":"ed25519","kid":"{self.key_id}","value":"{value}"}},"v":1}}'.encode()
        return wire, signed

    def check(self) -> None:
        at_ms = 1_700_000_000_000
        readings = [protocol.Reading(sensor, "weight", at_ms, {"weight_kg": weight})
                    for sensor, weight in zip(SCALES, (150.1, 375.5))]
        if protocol.encode(GATEWAY, 1, 1, at_ms, readings, self.reference) != self.message(1, at_ms)[0]:
            raise BenchError("the synthesized envelope differs from what the codec makes")


def synthesize(context, key: Ed25519PrivateKey, start_s: int, days: float,
               progress: Callable[[str], None]) -> int:
    """One envelope a second for `days` from `start_s` into the archive and the log; an hourly
    price mark. Returns the envelopes written."""
    envelopes = _Envelopes(key)
    envelopes.check()
    archive, total = context.exporter.archive, int(days * 86_400)
    chunk: list[ArchivedEnvelope] = []
    began = time.monotonic()
    for n in range(total):
        at_s = start_s + n
        wire, signed = envelopes.message(n + 1, at_s * 1000)
        leaf = evidence.batch_leaf(GATEWAY, 1, n + 1, signed_sha256=signed_sha256(signed), readings=2,
                                   key_id=envelopes.key_id, received_s=at_s)
        chunk.append(ArchivedEnvelope(GATEWAY, 1, n + 1, at_s * 1000, at_s * 1000, at_s * 1000, wire, leaf))
        if len(chunk) == 20_000 or n == total - 1:
            archive.keep(chunk)
            chunk = []
        if n % 3600 == 1800:
            context.clock.now_s = at_s
            context.price_service.submit(PriceQuote("copper_cathode", Decimal("68000") + n % 977, "CNY", "t", at_s),
                                         "bench")
        if n and n % 432_000 == 0:
            progress(f"synthesized {n:,} envelopes ({time.monotonic() - began:,.0f} s)")
    return total


class _Clock:
    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def run_export_bench(days: float = 30, verify: bool = False, folder: Path | None = None,
                     progress: Callable[[str], None] = lambda line: None) -> dict:
    from backend.adapters.zip_pack import ZipPackReader
    from backend.bootstrap import build_context
    from backend.services.evidence_pack import verify_pack
    from backend.settings import BackendSettings
    with tempfile.TemporaryDirectory(prefix="pw-bench-pack-", dir=folder) as tmp:
        root = Path(tmp)
        key = Ed25519PrivateKey.generate()
        (root / "gw.key").write_bytes(private_key_pem(key))
        start_s = int(time.time()) - int(days * 86_400) - 3600
        clock = _Clock(start_s)
        settings = BackendSettings(data_dir=root / "data", book=BOOK, roles=[],
                                   gateways=[{"id": GATEWAY, "public_key_pem": public_key_pem(key.public_key()).decode()}])
        context = build_context(settings, clock)
        try:
            began = time.monotonic()
            written = synthesize(context, key, start_s, days, progress)
            synthesized_s = time.monotonic() - began
            progress(f"synthesized {written:,} envelopes in {synthesized_s:,.0f} s; exporting ...")
            clock.now_s = start_s + days * 86_400 + 60
            began = time.monotonic()
            summary = context.exporter.export(LOAN, start_s, int(start_s + days * 86_400), str(root / "pack.zip"))
            export_s = time.monotonic() - began
            result = {"days": days, "envelopes": summary.envelopes, "readings": summary.envelopes * 2,
                      "entries": summary.entries, "log_size": summary.head_size,
                      "database_bytes": sum(p.stat().st_size for p in (root / "data").glob("registry.sqlite*")),
                      "pack_bytes": (root / "pack.zip").stat().st_size, "export_s": round(export_s, 1),
                      "synthesize_s": round(synthesized_s, 1)}
            progress(f"exported in {export_s:,.1f} s")
            if verify:
                began = time.monotonic()
                reader = ZipPackReader(root / "pack.zip")
                verdict = verify_pack(reader)
                reader.close()
                result |= {"verify_s": round(time.monotonic() - began, 1), "verified": verdict.ok,
                           "failures": verdict.failures[:5]}
        finally:
            context.close()
    return result
