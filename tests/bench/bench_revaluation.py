"""Benchmark (not a test): revalue a 100,000-loan book on one price tick, vectorised.

    .venv/bin/python tests/bench/bench_revaluation.py [--loans 100000] [--rounds 20]

Builds a synthetic book (1-3 lots per loan, 5 commodities priced in CNY or USD, loans in
CNY and USD), flattens it once, then times a full revaluation (price grid, collateral
values, LTVs, threshold zones) per tick. Prints one JSON line; the target is ≤ 1 s a tick.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backend.domain import revaluation  # noqa: E402
from backend.domain.observations import PriceTick  # noqa: E402
from backend.domain.registry import Commodity, Loan, Lot, Registry, Thresholds  # noqa: E402

COMMODITIES = {"steel_coil": ("CNY", 4000), "copper_cathode": ("CNY", 68000), "aluminium": ("USD", 2300),
               "nickel": ("USD", 16000), "soybeans": ("CNY", 4200)}
FX = {("USD", "CNY"): Decimal("7.1")}


def synthetic_registry(loan_count: int, seed: int = 1) -> tuple[Registry, dict[str, Decimal]]:
    rng = random.Random(seed)
    thresholds = Thresholds(Decimal("0.70"), Decimal("0.80"), Decimal("0.90"))
    lots, loans, quantities = {}, {}, {}
    names = sorted(COMMODITIES)
    for n in range(loan_count):
        lot_ids = []
        for k in range(rng.randint(1, 3)):
            lot_id = f"lot-{n}-{k}"
            lots[lot_id] = Lot(lot_id, "wh", rng.choice(names), (), f"s-{lot_id}", f"r-{lot_id}")
            quantities[lot_id] = Decimal(rng.randint(10, 500))
            lot_ids.append(lot_id)
        loans[f"loan-{n}"] = Loan(f"loan-{n}", "bank", "borrower", Decimal(rng.randint(100_000, 5_000_000)),
                                  rng.choice(("CNY", "USD")), tuple(lot_ids), Decimal("0.1"), thresholds,
                                  Decimal("0.6"), 86_400)
    commodities = {name: Commodity(name, "t") for name in names}
    return Registry(commodities=commodities, lots=lots, loans=loans), quantities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    registry, quantities = synthetic_registry(args.loans)
    started = time.perf_counter()
    book = revaluation.book_arrays(registry, quantities)
    build_s = time.perf_counter() - started
    rng = random.Random(2)
    tick_s = []
    for _ in range(args.rounds):
        ticks = {name: PriceTick(name, Decimal(price) * Decimal(rng.uniform(0.7, 1.1)).quantize(Decimal("0.01")),
                                 ccy, "t", 0.0) for name, (ccy, price) in COMMODITIES.items()}
        started = time.perf_counter()
        grid = revaluation.price_grid(book, registry, ticks, FX)
        values, ltv = revaluation.revalue(book, grid)
        zones = revaluation.zones(book, ltv)
        tick_s.append(time.perf_counter() - started)
    print(json.dumps({"loans": len(book.loan_ids), "positions": int(book.position_loan.size),
                      "build_s": round(build_s, 3), "tick_median_ms": round(statistics.median(tick_s) * 1000, 2),
                      "tick_max_ms": round(max(tick_s) * 1000, 2),
                      "in_margin_call_or_worse": int((zones >= 2).sum()), "target_ms": 1000,
                      "ok": max(tick_s) <= 1.0}))


if __name__ == "__main__":
    main()
