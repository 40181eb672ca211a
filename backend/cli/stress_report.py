"""`pledgewatch stress` as text: the answer of POST /api/v1/stress for a terminal."""
from __future__ import annotations

from typing import Any


def _pct(value: float | None) -> str:
    return "  n/a " if value is None else f"{value * 100:5.1f}%"


def _shock_lines(shock: dict[str, Any]) -> list[str]:
    moves = [f"{name} {float(move) * 100:+g}%" for part in ("prices", "fx") for name, move in shock["shock"][part].items()]
    moves += [f"{warehouse} lost" for warehouse in shock["shock"]["warehouses_lost"]]
    lines = [f"stress of {shock['scope']}: {shock['loans_total']} loans; shock: {', '.join(moves) or 'none'}",
             "loans by status   " + "  ".join(f"{s}: {shock['by_status_before'][s]} → {n}"
                                             for s, n in shock["by_status_after"].items())]
    calls = shock["margin_calls"]
    lines.append(f"margin calls: {len(calls)}" + (" (largest cure first)" if calls else ""))
    lines += [f"  {c['loan']:<24} {c['lender']:<16} {c['status']:<12} LTV {_pct(c['ltv'])}  cure "
              f"{c['cure_amount']} {c['currency']}{'  new' if c['new'] else ''}" for c in calls[:20]]
    lines.append("shortfall per lender after the shock:")
    lines += [f"  {row['lender']:<16} {row['shortfall']:>16} {row['currency']}" for row in shock["shortfall_by_lender"]]
    return lines


def _monte_carlo_lines(run: dict[str, Any]) -> list[str]:
    model = ", ".join(f"{c['commodity']} σ {c['volatility_daily'] * 100:.2f}%/day"
                      + (" (fallback)" if c["fallback"] else f" ({c['returns']} returns)")
                      for c in run["model"]["commodities"])
    lines = [f"Monte Carlo: {run['paths']} paths × {run['horizon_days']} days, seed {run['seed']}, "
             f"EWMA λ {run['decay']}; {model}",
             f"  {'loan':<24} {'LTV now':>8} {'p50':>7} {'p99':>7} {'P(call)':>8} {'P(default)':>10} {'E[short]':>14}"]
    p50, p99 = run["percentiles"].index(50.0), run["percentiles"].index(99.0)
    lines += [f"  {row['loan']:<24} {_pct(row['ltv']):>8} {_pct(row['ltv_percentiles'][p50]):>7} "
              f"{_pct(row['ltv_percentiles'][p99]):>7} {row['p_margin_call'] * 100:7.2f}% {row['p_default'] * 100:9.2f}% "
              f"{row['expected_shortfall']:>14}" for row in run["loans"][:20]]
    for key, title in (("shortfall_by_lender", "lender"), ("shortfall_by_commodity", "commodity")):
        lines.append(f"shortfall per {title} (expected / 99 % percentile / 99 % tail mean):")
        lines += [f"  {row[title]:<16} {row['expected']:>14} {row['p99']:>14} {row['tail_99']:>14} {row['currency']}"
                  for row in run[key]]
    return lines


def render_text(answer: dict[str, Any]) -> str:
    lines = _shock_lines(answer["shock"])
    if answer.get("monte_carlo"):
        lines += _monte_carlo_lines(answer["monte_carlo"])
    return "\n".join(lines)
