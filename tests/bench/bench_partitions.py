"""Benchmark (not a test): the monitor and the loan listing at portfolio scale on PostgreSQL.

    .venv/bin/python tests/bench/bench_partitions.py [--lots 100000] [--loans 50000]
        [--gateways 10000] [--items 10] [--partitions 2] [--profile] [--compare ../other-checkout]
        [--lot-views on|off|both] [--tick-rounds 1]

Starts its own PostgreSQL (as the tests do), writes a synthetic book straight into it
(10 lots a warehouse, a gateway each; 4 loans in 5 with 2 lots, the rest with 1; the other
lots back no loan; one lender, bank-big, holds 5,000 loans), one reporting round of every
lot (scale + RFID) in a readings window, and a price per commodity. Then, in a fresh
process (so its peak memory is the monitor's): the registry load, the ticks of every
partition until the round is read (a monitor reads at most 50,000 readings a tick), and a
steady tick (2 s of a 60 s reporting period: 1/30 of the lots report). Last, the API
listing of bank-big's loans, timed (with `--compare CHECKOUT`, also with that checkout's
code, interleaved: before and after a change under the same load). The monitors store their
lot views as a backend's do (`--lot-views off`: not; `both`: ticks timed without and with,
alternating, `--tick-rounds` times each). Prints one JSON line (and a profile with --profile).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from backend.adapters.db.engine import make_engine, migrate  # noqa: E402
from backend.domain import registry as reg  # noqa: E402

COMMODITIES = ("steel_coil", "copper_cathode", "aluminium", "nickel", "soybeans")
PRICE = Decimal(4000)  # CNY per t, every commodity
ITEM_T = Decimal(1)
ITEM_KG = 1000.0


def synthetic_book(lots: int, loans: int, gateways: int, items: int) -> reg.Registry:
    warehouses = {f"wh-{n}": reg.Warehouse(f"wh-{n}", f"gw-{n}") for n in range(gateways)}
    book_lots = {}
    for n in range(lots):
        lot_id = f"lot-{n}"
        tagged = tuple(reg.TaggedItem(f"{lot_id}-{k}", ITEM_T, ITEM_KG) for k in range(items))
        book_lots[lot_id] = reg.Lot(lot_id, f"wh-{n % gateways}", COMMODITIES[n % len(COMMODITIES)], tagged,
                                    f"{lot_id}-scale", f"{lot_id}-rfid")
    thresholds = reg.Thresholds(Decimal("0.70"), Decimal("0.80"), Decimal("0.90"))
    book_loans, next_lot = {}, 0
    for n in range(loans):
        count = 2 if n % 5 else 1
        lot_ids = tuple(f"lot-{k}" for k in range(next_lot, min(next_lot + count, lots)))
        next_lot += count
        value = PRICE * ITEM_T * items * len(lot_ids) * Decimal("0.9")
        lender = "bank-big" if n % 10 == 0 else f"bank-{n % 19}"
        book_loans[f"loan-{n}"] = reg.Loan(f"loan-{n}", lender, f"borrower-{n % 1000}", value / 2, "CNY",
                                           lot_ids, Decimal("0.10"), thresholds, Decimal("0.60"), 86_400)
    return reg.Registry(
        lenders={x: reg.Lender(x) for x in ["bank-big", *(f"bank-{n}" for n in range(19))]},
        borrowers={f"borrower-{n}": reg.Borrower(f"borrower-{n}") for n in range(1000)},
        warehouses=warehouses, commodities={c: reg.Commodity(c, "t") for c in COMMODITIES},
        lots=book_lots, loans=book_loans)


def reporting_round(book: reg.Registry, lot_ids: list[str], at_ms: int, seq: int) -> list:
    """One message per gateway: each of its lots' scale and RFID reader, all goods present."""
    from backend.ports.ingest import AcceptedMessage
    from edge import protocol
    by_gateway: dict[str, list] = {}
    for lot_id in lot_ids:
        lot = book.lots[lot_id]
        readings = by_gateway.setdefault(book.warehouses[lot.warehouse_id].gateway_id, [])
        readings.append(protocol.Reading(lot.scale_id, "weight", at_ms, {"weight_kg": lot.total_weight_kg + seq % 3 / 10}))
        readings.append(protocol.Reading(lot.reader_id, "rfid", at_ms, {"tags": [{"epc": e} for e in lot.epc_order]}))
    return [AcceptedMessage(protocol.Envelope(gw, 1, seq, at_ms, tuple(rs)), at_ms, at_ms - 300_000)
            for gw, rs in by_gateway.items()]


def synthesize(url: str, args, folder: Path, now_s: float) -> dict:
    from backend.adapters.db.monitor_repo import SqlPriceMarks
    from backend.adapters.db.registry_repo import SqlRegistry
    from backend.adapters.sqlite_readings import SqliteReadingStore
    from backend.domain.observations import PriceTick
    engine = make_engine(url)
    migrate(engine)
    started = time.perf_counter()
    book = synthetic_book(args.lots, args.loans, args.gateways, args.items)
    SqlRegistry(engine).add(book, [])  # a synthetic book: nothing to log
    marks = SqlPriceMarks(engine)
    for commodity in COMMODITIES:
        marks.add(PriceTick(commodity, PRICE, "CNY", "t", now_s - 60), "bench")
    registry_s = time.perf_counter() - started
    started = time.perf_counter()
    store = SqliteReadingStore(folder / "readings.sqlite")
    store.append(reporting_round(book, sorted(book.lots), int((now_s - 30) * 1000), 1))
    store.close()
    engine.dispose()
    return {"synthesize_registry_s": round(registry_s, 1), "synthesize_readings_s": round(time.perf_counter() - started, 1)}


def monitor_ticks(url: str, folder: Path, partitions: int, now_s: float, profile: bool, lot_views: bool = True) -> dict:
    """In its own process: load, tick every partition until the round is read, one steady tick."""
    from backend.adapters.db.inspections_repo import SqlInspections
    from backend.adapters.db.ledger_repo import SqlIngestLedger
    from backend.adapters.db.lot_views_repo import SqlLotViews
    from backend.adapters.db.monitor_repo import SqlAlerts, SqlPriceMarks, SqlStandings
    from backend.adapters.db.registry_repo import SqlRegistry
    from backend.adapters.sqlite_readings import SqliteReadingStore
    from backend.domain.config import MonitorConfig
    from backend.domain.partitions import Partition
    from backend.metrics import Metrics
    from backend.services.monitor import MonitorService
    from backend.services.prices import FxRates
    from backend.services.registry import RegistryService
    engine, clock = make_engine(url), Clock(now_s)
    registry = RegistryService(SqlRegistry(engine), clock)
    started = time.perf_counter()
    book = registry.snapshot()
    load_s = time.perf_counter() - started
    readings = SqliteReadingStore(folder / "readings.sqlite")
    config = MonitorConfig()
    monitors = [MonitorService(
        registry=registry, readings=readings, ledger=SqlIngestLedger(engine), alerts=SqlAlerts(engine),
        standings=SqlStandings(engine), prices=SqlPriceMarks(engine), config=config, clock=clock, metrics=Metrics(),
        fx_rates=FxRates(SqlPriceMarks(engine), config), inspections=SqlInspections(engine),
        partition=Partition(n, partitions), views=SqlLotViews(engine) if lot_views else None)
        for n in range(partitions)]
    catch_up = []
    for _ in range(8):  # the warm-up round, 50,000 readings a tick
        catch_up.append([_timed(m.tick) for m in monitors])
        clock.now_s += 2
    readings.append(reporting_round(book, sorted(book.lots)[::30], int(clock() * 1000), 2))
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    steady = [_timed(m.tick) for m in monitors]
    if profiler:
        profiler.disable()
    with engine.connect() as db:
        from sqlalchemy import func, select

        from backend.adapters.db import tables as t
        alerts = db.execute(select(func.count()).select_from(t.alerts)).scalar_one()
    result = {"registry_load_s": round(load_s, 2),
              "catch_up_ticks_s": [[round(s, 2) for s in tick] for tick in catch_up],
              "steady_tick_s": [round(s, 2) for s in steady],
              "steady_tick_all_partitions_s": round(sum(steady), 2),
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
              "alerts_stored": alerts}
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        result["profile"] = out.getvalue()
    return result


class Clock:
    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def listing(url: str, folder: Path, rounds: int) -> dict:
    """GET /api/v1/loans as bank-big (5,000 of its loans), through the app in-process."""
    from fastapi.testclient import TestClient

    from backend.api.app import create_app
    from backend.bootstrap import build_context
    from backend.services.api_keys import hash_api_key
    from backend.settings import BackendSettings
    context = build_context(BackendSettings(
        data_dir=folder / "api", database_url=url, roles=["api"], demo_mode=True,
        api_keys=[{"name": "big", "role": "lender", "lender": "bank-big", "key_hash": hash_api_key("k-big")}]))
    client = TestClient(create_app(context))
    headers = {"Authorization": "Bearer k-big"}
    loans = len(client.get("/api/v1/loans", headers=headers).json())  # the first loads the registry
    times_ms = []
    for _ in range(rounds):
        started = time.perf_counter()
        assert client.get("/api/v1/loans", headers=headers).status_code == 200
        times_ms.append((time.perf_counter() - started) * 1000)
    context.close()
    return {"loans": loans, "times_ms": times_ms}


def listings(url: str, folder: Path, rounds: int, checkouts: list[Path]) -> dict:
    """The listing timed in a fresh process per checkout (this one, and `--compare` ones: the
    code before a change), alternating between them in batches of 10 so that they share
    the machine's load; p50 and p95 per checkout."""
    times: dict[str, list[float]] = {str(root): [] for root in checkouts}
    loans = {}
    for _ in range(max(1, rounds // 10)):
        for root in checkouts:
            child = subprocess.run([sys.executable, __file__, "--listing-only", url, str(folder), "--rounds", "10",
                                    "--code", str(root)], capture_output=True, text=True)
            if child.returncode:
                raise SystemExit(child.stderr)
            answer = json.loads(child.stdout.strip().splitlines()[-1])
            times[str(root)] += answer["times_ms"]
            loans[str(root)] = answer["loans"]
    result = {}
    for n, root in enumerate(checkouts):
        key = "listing" if n == 0 else f"listing_{root.name}"
        ordered = sorted(times[str(root)])
        result.update({f"{key}_loans": loans[str(root)], f"{key}_p50_ms": round(statistics.median(ordered)),
                       f"{key}_p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))])})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=100_000)
    parser.add_argument("--loans", type=int, default=50_000)
    parser.add_argument("--gateways", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=10, help="tagged items per lot")
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=40, help="listing requests timed")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--compare", type=Path, action="append", default=[], metavar="CHECKOUT",
                        help="also time the listing with this checkout's code (e.g. main's), interleaved")
    parser.add_argument("--lot-views", choices=("on", "off", "both"), default="on",
                        help="the monitors store their lot views (both: ticks timed off and on, alternating)")
    parser.add_argument("--tick-rounds", type=int, default=1, help="with --lot-views both: rounds of each")
    parser.add_argument("--ticks-only", nargs=2, metavar=("URL", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--listing-only", nargs=2, metavar=("URL", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--now", type=float, default=1_800_000_000.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.listing_only:
        sys.path.insert(0, str(args.code.resolve()))  # the backend package of that checkout
        for name in [m for m in sys.modules if m == "backend" or m.startswith("backend.")]:
            del sys.modules[name]
        url, folder = args.listing_only
        print(json.dumps(listing(url, Path(folder), args.rounds)))
        return
    if args.ticks_only:
        url, folder = args.ticks_only
        print(json.dumps(monitor_ticks(url, Path(folder), args.partitions, args.now, args.profile,
                                       args.lot_views != "off")))
        return
    from tests_pg import PostgresServer
    server = PostgresServer(fsync=True)
    server.start()
    try:
        url = server.new_database()
        folder = Path(tempfile.mkdtemp(prefix="pw-bench-partitions-"))
        result = {"lots": args.lots, "loans": args.loans, "gateways": args.gateways, "items_per_lot": args.items,
                  "partitions": args.partitions, **synthesize(url, args, folder, args.now)}
        modes = ["off", "on"] * args.tick_rounds if args.lot_views == "both" else [args.lot_views]
        for mode in modes:
            child = subprocess.run([sys.executable, __file__, "--ticks-only", url, str(folder), "--partitions",
                                    str(args.partitions), "--now", str(args.now + 60), "--lot-views", mode,
                                    *(["--profile"] if args.profile else [])], capture_output=True, text=True)
            if child.returncode:
                raise SystemExit(child.stderr)
            ticks = json.loads(child.stdout.strip().splitlines()[-1])
            if len(modes) == 1:
                result.update(ticks)
            else:
                result.setdefault(f"lot_views_{mode}", []).append(ticks)
        result.update(listings(url, folder, args.rounds, [ROOT, *args.compare]))
    finally:
        server.stop()
    profile = result.pop("profile", None)
    print(json.dumps(result))
    if profile:
        print(profile)


if __name__ == "__main__":
    main()
