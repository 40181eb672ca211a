"""Render a scenario result: one JSON object (`--json`) or a human timeline."""
from __future__ import annotations

import json
from decimal import Decimal

from backend.domain.alerts import Alert
from backend.scenario.runner import ScenarioResult


def _plain(value: object) -> object:
    """Decimals become floats; an infinite LTV (no collateral) becomes null."""
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    return value


def format_duration(seconds: float) -> str:
    """`1d02:03:04` style clock for the timeline."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86_400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d{clock}" if days else clock


def _alert(alert: Alert) -> dict:
    return {"id": alert.id, "type": alert.type, "severity": alert.severity,
            "opened_at_s": alert.opened_at_s, "resolved_at_s": alert.resolved_at_s,
            "state": alert.state, "loan": alert.loan, "lot": alert.lot, "lender": alert.lender,
            "gateway": alert.gateway, "details": {k: _plain(v) for k, v in alert.details.items()}}


def _ratio(ltv: Decimal | None) -> float | None:
    return None if ltv is None or not ltv.is_finite() else round(float(ltv), 4)


def result_document(result: ScenarioResult) -> dict:
    scenario, state = result.scenario, result.state
    loans = {loan_id: {"status": view.status, "ltv": _ratio(view.ltv),
                       "collateral_value": _plain(view.collateral_value),
                       "outstanding": _plain(view.outstanding)}
             for loan_id, view in state.loan_views.items()}
    lots = {lot_id: {"pledged_items": view.pledged_items, "observed_items": view.observed_items,
                     "pledged_quantity": _plain(view.pledged_quantity),
                     "observed_quantity": _plain(view.observed_quantity)}
            for lot_id, view in state.lot_views.items()}
    actions = [{"at_s": a.at_s, "type": a.type, "loan": a.loan, "lot": a.lot, "outcome": a.outcome,
                "reason": a.reason} for a in result.actions]
    return {"scenario": scenario.name, "seed": scenario.seed, "duration_s": scenario.duration,
            "alerts": [_alert(a) for a in result.alerts.values()], "loans": loans, "lots": lots,
            "actions": actions}


def render_json(result: ScenarioResult) -> str:
    return json.dumps(result_document(result))


def render_timeline(result: ScenarioResult) -> str:
    document = result_document(result)
    lines = [f"scenario {document['scenario']} (seed {document['seed']}, "
             f"{format_duration(document['duration_s'])} simulated)"]
    lines += [f"  {format_duration(entry.at_s):>12}  {entry.text}" for entry in result.timeline]
    open_alerts = [a for a in document["alerts"] if a["state"] != "resolved"]
    lines.append(f"alerts: {len(document['alerts'])} raised, {len(open_alerts)} still open")
    lines.append("loans:")
    for loan_id, loan in document["loans"].items():
        lines.append(f"  {loan_id}: {loan['status']}, LTV {loan['ltv']}, collateral "
                     f"{loan['collateral_value']}, outstanding {loan['outstanding']}")
    lines.append("lots:")
    for lot_id, lot in document["lots"].items():
        lines.append(f"  {lot_id}: {lot['observed_items']}/{lot['pledged_items']} items, "
                     f"{lot['observed_quantity']}/{lot['pledged_quantity']} observed/pledged")
    return "\n".join(lines)
