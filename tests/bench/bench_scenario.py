"""Benchmark (not a test): a 30-day, 100-lot book at 1-minute steps, no events.

    python3 tests/bench/bench_scenario.py [--days 30] [--lots 100] [--step 1m]

Prints one JSON line: lot-steps, seconds, microseconds per lot-step, alerts raised.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backend.book.durations import parse_duration  # noqa: E402
from backend.scenario.runner import run_scenario  # noqa: E402
from backend.scenario.synthetic import synthetic_book  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--lots", type=int, default=100)
    parser.add_argument("--step", default="1m")
    args = parser.parse_args()
    scenario = synthetic_book(lots=args.lots, duration=f"{args.days}d", step=args.step)
    started = time.perf_counter()
    result = run_scenario(scenario)
    seconds = time.perf_counter() - started
    lot_steps = args.lots * (scenario.duration // parse_duration(args.step) + 1)
    print(json.dumps({"days": args.days, "lots": args.lots, "step": args.step,
                      "lot_steps": lot_steps, "seconds": round(seconds, 2),
                      "us_per_lot_step": round(seconds / lot_steps * 1e6, 2),
                      "alerts": len(result.alerts)}))


if __name__ == "__main__":
    main()
