"""Benchmark (not a test): a Monte Carlo stress test of a synthetic book.

    .venv/bin/python tests/bench/bench_stress.py --loans 100000 --paths 1000 --days 30
    .venv/bin/python tests/bench/bench_stress.py --loans 10000 --paths 10000 --days 30
    .venv/bin/python tests/bench/bench_stress.py --several 1.0           # every loan on 2-3 commodities
    .venv/bin/python tests/bench/bench_stress.py --commodities 1         # a single-commodity book

Builds a book (1-3 lots per loan; 5 commodities (--commodities) priced in CNY or USD; loans in CNY and USD
owed to 20 lenders at LTVs from 0.30 to 0.78; a share of the loans, 10 % by default, on
several commodities), then times what POST /api/v1/stress does after loading: the
exposure (every lot valued by the monitor's Decimal rules), the model from 250 days of
returns, the paths and the loan-level evaluation. Prints one JSON line: the seconds of each
part, their total (the target is ≤ 20 s), the CPU seconds they took (steadier than wall time
when other work shares the machine) and the peak RSS of the process (≤ 4 GB).
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backend.domain import stress_paths  # noqa: E402
from backend.domain.observations import PriceTick  # noqa: E402
from backend.domain.registry import Commodity, Lender, Loan, Lot, Registry, Thresholds, Warehouse  # noqa: E402
from backend.domain.stress import parse_shock, stress_book  # noqa: E402
from backend.services.stress import cyclic_gc_paused  # noqa: E402

COMMODITIES = {"steel_coil": ("CNY", 4000), "copper_cathode": ("CNY", 68000), "aluminium": ("USD", 2300),
               "nickel": ("USD", 16000), "soybeans": ("CNY", 4200)}
FX = {("USD", "CNY"): Decimal("7.1")}
HAIRCUT = Decimal("0.1")


def synthetic_registry(loan_count: int, several_share: float, seed: int = 1,
                       commodities: int = len(COMMODITIES)) -> tuple[Registry, dict[str, Decimal]]:
    """The book on the last `commodities` commodities by name and the valued quantity of each lot
    (lots carry no tagged items here)."""
    rng = random.Random(seed)
    thresholds = Thresholds(Decimal("0.70"), Decimal("0.80"), Decimal("0.90"))
    names = sorted(COMMODITIES)[-commodities:]             # steel_coil, the one shocked, stays in
    lots, loans, quantities = {}, {}, {}
    for n in range(loan_count):
        several = rng.random() < several_share
        commodity = rng.choice(names)
        currency = rng.choice(("CNY", "USD"))
        value = Decimal(0)
        lot_ids = []
        for k in range(rng.randint(2, 3) if several else rng.randint(1, 3)):
            lot_id = f"lot-{n}-{k}"
            name = names[(names.index(commodity) + k) % len(names)] if several else commodity
            quantity = Decimal(rng.randint(10, 500))
            lots[lot_id] = Lot(lot_id, f"wh-{n % 50}", name, (), f"s-{lot_id}", f"r-{lot_id}")
            quantities[lot_id] = quantity
            price_currency, price = COMMODITIES[name]
            rate = Decimal(1) if price_currency == currency else (FX[("USD", "CNY")] if currency == "CNY"
                                                                  else 1 / FX[("USD", "CNY")])
            value += quantity * price * rate * (1 - HAIRCUT)
            lot_ids.append(lot_id)
        outstanding = (value * Decimal(str(round(rng.uniform(0.30, 0.78), 3)))).quantize(Decimal("0.01"))
        loans[f"loan-{n}"] = Loan(f"loan-{n}", f"bank-{n % 20}", "borrower", outstanding, currency, tuple(lot_ids),
                                  HAIRCUT, thresholds, Decimal("0.6"), 86_400)
    return Registry(lenders={f"bank-{k}": Lender(f"bank-{k}") for k in range(20)},
                    warehouses={f"wh-{k}": Warehouse(f"wh-{k}", f"gw-{k}") for k in range(50)},
                    commodities={name: Commodity(name, "t") for name in names}, lots=lots, loans=loans), quantities


def synthetic_returns(days: int = 250, seed: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(days)
    return {name: 0.015 * (0.6 * common + 0.8 * rng.standard_normal(days)) for name in COMMODITIES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--several", type=float, default=0.10, help="share of loans on several commodities")
    parser.add_argument("--commodities", type=int, choices=range(1, len(COMMODITIES) + 1), default=len(COMMODITIES))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    registry, quantities = synthetic_registry(args.loans, args.several, commodities=args.commodities)
    prices = {name: PriceTick(name, Decimal(price), currency, "t", 0.0)
              for name, (currency, price) in COMMODITIES.items() if name in registry.commodities}
    timings = {}
    cpu_started = time.process_time()
    started = time.perf_counter()
    with cyclic_gc_paused():                   # as StressService values the book
        book = stress_book(registry, lender=None, prices=prices, fx_rates=FX, quantities=quantities)
        exposure, ids, _ = stress_paths.exposure_of(book, parse_shock(["steel_coil=-10%"]))
    timings["exposure_s"] = time.perf_counter() - started
    mark = time.perf_counter()
    model = stress_paths.estimate_model({name: returns for name, returns in synthetic_returns().items() if name in ids})
    relatives = stress_paths.simulate(model, horizon_days=args.days, paths=args.paths, seed=args.seed)
    timings["paths_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    risk = stress_paths.evaluate(exposure, relatives, ids)
    timings["evaluate_s"] = time.perf_counter() - mark
    several = int(((exposure.weights > 0).sum(axis=1) > 1).sum())
    print(json.dumps({
        "loans": args.loans, "paths": args.paths, "days": args.days, "commodities": len(ids),
        "loans_on_several_commodities": several,
        **{name: round(seconds, 2) for name, seconds in timings.items()},
        "total_s": round(sum(timings.values()), 2),
        "cpu_s": round(time.process_time() - cpu_started, 2),   # every thread's; on a shared machine
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "mean_p_default": round(float(risk.p_default.mean()), 4),
        "mean_p_margin_call": round(float(risk.p_margin_call.mean()), 4)}))


if __name__ == "__main__":
    main()
