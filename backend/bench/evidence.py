"""`pledgewatch bench evidence`: what the evidence log costs.

1. Ingest with the log on and off (`evidence.log_ingest`): the same recorded stream of signed
   50-reading batches through real `backend --role ingest` processes and Mosquitto, in
   interleaved rounds (off, on, on, off, ...), as `bench ingest` measures it: the rate, and
   the ingest process's own CPU per reading. With `--cpu`, also two IngestServices in one
   process, log off and on, taking the commits in turn (`evidence_round.py`): the log's CPU
   cost with the machine's other load falling on both alike.
   `--baseline DIR` adds, in the same rounds, the log on in another checkout (the version
   before a change); `--log-size N` starts the rounds with a log of N entries (the append's
   cost must not grow with the log). Without `--json` the figures end as Markdown for
   docs/evidence.md.
2. A 30-day dispute pack of a 2-lot loan read at 1 Hz: the demo book's loan-river-1 (lots
   lot-qd-1 and lot-qd-2, both on gateway gw-qingdao). The gateway sends one signed envelope
   per second holding both scales' readings (the edge agent's default batching:
   `batch.max_delay_s` 1 s). Those envelopes are synthesized directly into the database
   through the archive's own `keep` (signed, logged, nodes and all), with hourly price marks,
   then `evidence export` is timed.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.signing import SigningKey

from backend.bench.ingest import BenchError, checkout, ingest_round, record_stream
from backend.demo.broker import start_broker
from backend.domain import evidence
from backend.ports.evidence import ArchivedEnvelope
from backend.ports.prices import PriceQuote
from backend.services.evidence_pack import signed_sha256
from edge import protocol
from edge.protocol.keys import private_key_pem, public_key_pem

BOOK = Path(__file__).resolve().parents[2] / "seeds" / "demo.yaml"
LOAN, GATEWAY, SCALES = "loan-river-1", "gw-qingdao", ("lot-qd-1-scale", "lot-qd-2-scale")


SETTINGS = ("off", "on", "baseline")  # the log off; on; on, in the --baseline checkout
FILLER = "bench-filler"  # the gateway of the envelopes a pre-filled log holds


def fill_log(database: Path, entries: int, revision: str = "head") -> None:
    """A SQLite database at `revision` whose log holds `entries` batch.ingested entries, with
    their (small) archived envelopes, written through the archive's own `keep`."""
    import os

    from alembic import command

    from backend.adapters.db.engine import alembic_config, make_engine
    from backend.adapters.db.evidence_repo import SqlEnvelopeArchive

    engine = make_engine(f"sqlite:///{database}")
    try:
        command.upgrade(alembic_config(engine), revision)
        archive = SqlEnvelopeArchive(engine)
        for start in range(0, entries, 50_000):
            chunk = []
            for seq in range(start + 1, min(entries, start + 50_000) + 1):
                leaf = evidence.batch_leaf(FILLER, 1, seq, signed_sha256=os.urandom(32).hex(), readings=50,
                                           key_id=None, received_s=1_700_000_000 + seq // 10)
                chunk.append(ArchivedEnvelope(FILLER, 1, seq, 0, 0, 0, os.urandom(64), leaf))
            archive.keep(chunk)
        with engine.connect() as db:
            db.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()


def _migrated(database: Path) -> None:
    from alembic import command

    from backend.adapters.db.engine import alembic_config, make_engine
    engine = make_engine(f"sqlite:///{database}")
    try:
        command.upgrade(alembic_config(engine), "head")
        with engine.connect() as db:
            db.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()


def _head_revision(tree: Path) -> str:
    from alembic.script import ScriptDirectory
    head = ScriptDirectory(str(tree / "backend" / "adapters" / "db" / "migrations")).get_current_head()
    if head is None:
        raise BenchError(f"{tree} holds no migrations: is it a checkout of this project?")
    return head


def _databases(root: Path, log_size: int, baseline: Path | None,
               progress: Callable[[str], None]) -> dict[str, str | None]:
    """Per setting, the database URL its rounds share (None: each round a new, empty one). With
    a pre-filled log, the log-on rounds write on top of it (a round adds `messages` entries);
    the baseline's is filled at its own latest migration, this checkout's is a copy of that one
    migrated on."""
    if not log_size:
        return {name: None for name in SETTINGS}
    began = time.monotonic()
    here = root / "log-registry.sqlite"
    if baseline is None:
        fill_log(here, log_size)
        progress(f"a log of {log_size:,} entries filled in {time.monotonic() - began:,.0f} s")
        return {"off": f"sqlite:///{here}", "on": f"sqlite:///{here}", "baseline": None}
    old = root / "log-registry-baseline.sqlite"
    fill_log(old, log_size, _head_revision(baseline))
    progress(f"a log of {log_size:,} entries filled in {time.monotonic() - began:,.0f} s (at the baseline's "
             f"migration {_head_revision(baseline)})")
    began = time.monotonic()
    shutil.copyfile(old, here)
    _migrated(here)
    progress(f"... a copy migrated to this checkout's latest in {time.monotonic() - began:,.0f} s")
    return {"off": f"sqlite:///{here}", "on": f"sqlite:///{here}", "baseline": f"sqlite:///{old}"}


class _Streams:
    """Round n's recorded stream: one for every round when each round starts a new database;
    else one per round in its own epoch (the archive would take a message it holds for a resend)."""

    def __init__(self, root: Path, messages: int, per_round: bool) -> None:
        self.root, self.messages, self.per_round = root, messages, per_round
        self.made: dict[int, tuple[Path, list[dict], dict]] = {}

    def __call__(self, n: int) -> tuple[Path, list[dict], dict]:
        key = n if self.per_round else 0
        if key not in self.made:
            folder = self.root / f"stream-{key}"
            folder.mkdir()
            self.made[key] = record_stream(folder, self.messages, 100, epoch=key + 1)
        return self.made[key]


def _order(settings: list[str], n: int) -> list[str]:
    """Round n's order: rotated by n, so that each setting runs first, second, ... in turn."""
    return settings[n % len(settings):] + settings[:n % len(settings)]


def _compare(values: dict[str, list[float]], higher_is_better: bool) -> dict:
    """Medians, and per round the cost of the log (on, and the baseline's on) against that
    round's log-off figure: a pair measured minutes apart on the same machine."""
    figures: dict = {}
    for name, series in values.items():
        figures[f"{name}_median"] = statistics.median(series)
        figures[f"{name}_rounds"] = series
    off = values["off"]
    for name in ("on", "baseline"):
        if name not in values:
            continue
        costs = [1 - v / o if higher_is_better else v / o - 1 for v, o in zip(values[name], off)]
        median_ratio = figures[f"{name}_median"] / figures["off_median"]
        figures[f"{name}_cost"] = {"of_medians": 1 - median_ratio if higher_is_better else median_ratio - 1,
                                   "pairs": costs, "pairs_median": statistics.median(costs),
                                   "pairs_min": min(costs), "pairs_max": max(costs)}
    return figures


def _settings(baseline: Path | None) -> list[str]:
    return ["off", "on"] + (["baseline"] if baseline is not None else [])


def run_ingest_compare(messages: int, rounds: int, processes: int,
                       progress: Callable[[str], None] = lambda line: None, log_size: int = 0,
                       baseline: Path | None = None) -> dict:
    """Interleaved rounds through Mosquitto and `backend --role ingest` processes: the log off,
    on, and (with `baseline`, another checkout) on in that version; with `log_size`, the rounds
    start with a log of that many entries."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="pw-bench-evidence-") as tmp:
        root = Path(tmp)
        streams = _Streams(root, messages, per_round=log_size > 0)
        streams(0)
        databases = _databases(root, log_size, baseline, progress)
        broker = start_broker(root / "broker", prefer="mosquitto")
        if broker.kind != "mosquitto":
            broker.stop()
            raise BenchError("the bench needs Mosquitto (apt-get install mosquitto)")
        settings = _settings(baseline)
        rates: dict[str, list[float]] = {name: [] for name in settings}
        cpus: dict[str, list[float]] = {name: [] for name in settings}
        per = 100_000 / (messages * 50)
        try:
            for n in range(rounds):
                stream_path, registry, positions = streams(n)
                for name in _order(settings, n):
                    folder = root / f"round-{n}-{name}"
                    folder.mkdir()
                    extra: dict = {"evidence": {"log_ingest": name != "off"}}
                    if databases[name]:
                        extra["database_url"] = databases[name]
                    result = ingest_round(stream_path, registry, positions, broker, folder, processes, extra=extra,
                                          tree=baseline if name == "baseline" else None)
                    shutil.rmtree(folder / "data")
                    if result.lost or result.duplicates_stored:
                        raise BenchError(f"round {n}: {result.lost} lost, {result.duplicates_stored} duplicated")
                    rates[name].append(round(result.readings_per_s))
                    if result.cpu_s is not None:
                        cpus[name].append(round(result.cpu_s * per, 4))
                    progress(f"round {n + 1}/{rounds}: log {name:<8} {result.readings_per_s:,.0f} readings/s"
                             + (f", {result.cpu_s * per:.3f} CPU s per 100,000" if result.cpu_s is not None else ""))
        finally:
            broker.stop()
    figures = _compare(rates, higher_is_better=True)
    if all(len(series) == rounds for series in cpus.values()):
        figures["cpu"] = _compare(cpus, higher_is_better=False)
    return {"messages": messages, "rounds": rounds, "ingest_processes": processes, "log_size": log_size,
            "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "log_off_readings_per_s": round(figures["off_median"]), "log_on_readings_per_s": round(figures["on_median"]),
            "cost_fraction": round(figures["on_cost"]["of_medians"], 3),
            "log_off_rounds": rates["off"], "log_on_rounds": rates["on"], "figures": figures}


def run_ingest_cpu_compare(messages: int, rounds: int, progress: Callable[[str], None] = lambda line: None,
                           log_size: int = 0, baseline: Path | None = None) -> dict:
    """The same stream through two IngestServices, the log off and on, in one fresh process per
    round taking the commits of 1,000 messages in turn (`evidence_round.py`); with `baseline`,
    rounds of that checkout's process interleaved: CPU and wall seconds per 100,000 readings,
    and per round the log's cost, measured within one process at the same moments."""
    load_before = os.getloadavg()
    source = Path(__file__).with_name("evidence_round.py").read_text()
    here = Path(__file__).resolve().parents[2]
    checkouts = ["this"] + (["baseline"] if baseline is not None else [])
    with tempfile.TemporaryDirectory(prefix="pw-bench-cpu-") as tmp:
        root = Path(tmp)
        streams = _Streams(root, messages, per_round=log_size > 0)
        streams(0)
        databases = _databases(root, log_size, baseline, progress)
        cpu: dict[str, dict[str, list[float]]] = {c: {"off": [], "on": []} for c in checkouts}
        wall: dict[str, dict[str, list[float]]] = {c: {"off": [], "on": []} for c in checkouts}
        per = 100_000 / (messages * 50)
        for n in range(rounds):
            stream_path, registry, _ = streams(n)
            registry_path = stream_path.with_name("registry.json")
            registry_path.write_text(json.dumps(registry))
            for name in _order(checkouts, n):
                data, out = root / f"data-{n}-{name}", root / f"round-{n}-{name}.json"
                tree = baseline if name == "baseline" else None
                database = databases["baseline" if tree else "on"]
                subprocess.run([sys.executable, "-c", source, str(stream_path), str(registry_path), str(data),
                                str(out), database or ""], check=True, **(checkout(tree) if tree else {"cwd": here}))
                shutil.rmtree(data)
                measured = json.loads(out.read_text())
                for setting in ("off", "on"):
                    cpu[name][setting].append(round(measured["cpu_s"][setting] * per, 4))
                    wall[name][setting].append(round(measured["wall_s"][setting] * per, 4))
                progress(f"cpu round {n + 1}/{rounds}: {name} checkout, CPU s per 100,000 readings: "
                         f"log off {cpu[name]['off'][-1]:.3f}, on {cpu[name]['on'][-1]:.3f}")
    cpu_figures = {name: _compare(cpu[name], higher_is_better=False) for name in checkouts}
    wall_figures = {name: _compare(wall[name], higher_is_better=False) for name in checkouts}
    this_cpu, this_wall = cpu_figures["this"], wall_figures["this"]
    return {"messages": messages, "rounds": rounds, "log_size": log_size,
            "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "log_off_cpu_s_per_100k": round(this_cpu["off_median"], 3),
            "log_on_cpu_s_per_100k": round(this_cpu["on_median"], 3),
            "cpu_cost_fraction": round(this_cpu["on_cost"]["pairs_median"], 3),
            "log_off_wall_s_per_100k": round(this_wall["off_median"], 3),
            "log_on_wall_s_per_100k": round(this_wall["on_median"], 3),
            "wall_cost_fraction": round(this_wall["on_cost"]["pairs_median"], 3),
            "cpu_figures": cpu_figures, "wall_figures": wall_figures}


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.1f} %".replace("-", "−")


def _cost(cost: dict) -> str:
    return (f"{_percent(cost['pairs_median'])} ({_percent(cost['pairs_min'])} to {_percent(cost['pairs_max'])}; "
            f"of the medians {_percent(cost['of_medians'])})")


def _rounds(figures: dict, name: str, fmt: str) -> str:
    series = figures.get(f"{name}_rounds")
    return f"{figures[f'{name}_median']:{fmt}} ({' / '.join(f'{v:{fmt}}' for v in series)})" if series else "–"


def markdown(result: dict, command: str) -> str:
    """The ingest figures as lines to paste into docs/evidence.md ("Costs")."""
    ingest, cpu = result.get("ingest"), result.get("ingest_cpu")
    part = ingest or cpu
    if part is None:
        return ""
    loads = " and ".join(f"{p['load_average_1m'][0]:.1f} → {p['load_average_1m'][1]:.1f}" for p in (ingest, cpu) if p)
    lines = [f"`{command}` ({time.strftime('%Y-%m-%d')}; a log of {part['log_size']:,} entries at the start; "
             f"1-minute load average at the start → end of each part: {loads}). Medians (rounds); the log's cost "
             "is the median over rounds of each round's log-on figure against its log-off one (lowest to highest; "
             "the medians' ratio after the semicolon)."]
    labels = {"off": "log off", "on": "log on", "baseline": "log on, baseline checkout"}
    if ingest:
        figures = ingest["figures"]
        process_cpu = figures.get("cpu")
        lines += ["", "| through Mosquitto | readings/s | ingest process: CPU s per 100,000 readings |", "|---|---|---|"]
        lines += [f"| {label} | {_rounds(figures, name, ',.0f')} | "
                  f"{_rounds(process_cpu, name, '.3f') if process_cpu else '–'} |"
                  for name, label in labels.items() if f"{name}_rounds" in figures]
        lines += [f"| cost, {'this checkout' if name == 'on' else 'baseline'} | {_cost(figures[f'{name}_cost'])} | "
                  f"{_cost(process_cpu[f'{name}_cost']) if process_cpu else '–'} |"
                  for name in ("on", "baseline") if f"{name}_cost" in figures]
    if cpu:
        lines += ["", "| in one process, commits in turn | CPU s per 100,000 readings, log off | log on | "
                      "the log's cost: CPU | wall |", "|---|---|---|---|---|"]
        for name, label in (("this", "this checkout"), ("baseline", "baseline checkout")):
            if name in cpu["cpu_figures"]:
                figures, walls = cpu["cpu_figures"][name], cpu["wall_figures"][name]
                lines.append(f"| {label} | {_rounds(figures, 'off', '.3f')} | {_rounds(figures, 'on', '.3f')} | "
                             f"{_cost(figures['on_cost'])} | {_cost(walls['on_cost'])} |")
    return "\n".join(lines)


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
