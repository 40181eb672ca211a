"""Cases: a closed alert episode, what it was made of and what it turned out to be.

An *episode* is a group of linked alerts: those on one lot or loan, the gateway-level alerts
of the gateways that watch its lots and the price alerts of its commodities, chained while
their open spans overlap (or follow within `LINK_GAP_S`). When a supervisor closes an alert
with an **outcome**, its episode becomes a case: the alert types in order, the blind
periods, the LTV path, the durations, the actions taken, and the outcome with its note (and,
for a confirmed loss, the amount). Cases feed the matching of new alerts
(backend/domain/case_features.py, docs/risk-cases.md) and the risk scores.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

OUTCOMES = ("false_alarm", "sensor_fault", "confirmed_loss", "fraud", "recovered", "cured", "inconclusive")
AMOUNT_OUTCOMES = frozenset({"confirmed_loss", "fraud"})   # may carry the money lost
LINK_GAP_S = 3600          # alerts this close in time (and linked by what they are about) are one episode
BLIND_TYPES = frozenset({"sensor_fault", "gateway_offline", "monitoring_blind", "collateral_unverified",
                         "tamper_detected"})
LOSS_TYPES = frozenset({"stock_shortfall", "unauthorized_removal", "weight_count_mismatch"})
LTV_TYPES = ("ltv_warning", "margin_call", "liquidation")


class OutcomeError(ValueError):
    """An outcome that cannot be recorded as given (the message says why)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str                                  # one of OUTCOMES
    note: str = ""
    loss_amount: Decimal | None = None         # confirmed_loss (required) or fraud (optional)
    loss_currency: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in OUTCOMES:
            raise OutcomeError(f"unknown outcome {self.kind!r}; one of {', '.join(OUTCOMES)}")
        if self.kind == "confirmed_loss" and self.loss_amount is None:
            raise OutcomeError("a confirmed_loss needs loss_amount and loss_currency")
        if self.loss_amount is not None:
            self._check_amount()
        elif self.loss_currency is not None:
            raise OutcomeError("loss_currency without loss_amount")

    def _check_amount(self) -> None:
        if self.kind not in AMOUNT_OUTCOMES:
            raise OutcomeError(f"a {self.kind} outcome carries no loss amount")
        try:
            finite = self.loss_amount is not None and self.loss_amount.is_finite()
        except (AttributeError, InvalidOperation) as exc:
            raise OutcomeError("loss_amount is not a decimal amount") from exc
        if not finite or self.loss_amount is None or self.loss_amount <= 0:
            raise OutcomeError("loss_amount must be a positive amount")
        if not (self.loss_currency and len(self.loss_currency) == 3 and self.loss_currency.isalpha()
                and self.loss_currency.isupper()):
            raise OutcomeError("loss_currency must be a three-letter code such as CNY")


@dataclass(frozen=True, slots=True)
class EpisodeAlert:
    """An alert as an episode sees it (from the core's Alert or a stored record)."""
    id: str
    type: str
    opened_at_s: float
    resolved_at_s: float | None
    lot: str | None
    loan: str | None
    gateway: str | None
    lender: str | None
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, alert: Any) -> EpisodeAlert:
        return cls(alert.id, alert.type, float(alert.opened_at_s),
                   None if alert.resolved_at_s is None else float(alert.resolved_at_s),
                   alert.lot, alert.loan, alert.gateway, alert.lender, MappingProxyType(dict(alert.details or {})))

    def end_s(self, now_s: float) -> float:
        return now_s if self.resolved_at_s is None else self.resolved_at_s


@dataclass(frozen=True, slots=True)
class EpisodeAction:
    """Something people did during the episode: a pledge, release, repayment or inspection."""
    at_s: float
    type: str                                  # pledge | release | repayment | inspection
    outcome: str                               # approved | refused | recorded
    loan: str | None = None
    lot: str | None = None
    reason: str | None = None                  # an inspection's finding, a refusal's why


@dataclass(frozen=True, slots=True)
class Scope:
    """What the episode's first alert is about, and what links other alerts to it."""
    lots: frozenset[str]
    loans: frozenset[str]
    gateways: frozenset[str]
    commodities: frozenset[str]


def _scope_of(alert: EpisodeAlert, commodity_of_lot: Mapping[str, str], lots_of_loan: Mapping[str, Sequence[str]],
              gateway_of_lot: Mapping[str, str]) -> Scope:
    lots = set([alert.lot] if alert.lot else []) | set(lots_of_loan.get(alert.loan or "", ()))
    gateways = {gateway_of_lot[lot] for lot in lots if lot in gateway_of_lot} | ({alert.gateway} if alert.gateway else set())
    commodities = {commodity_of_lot[lot] for lot in lots if lot in commodity_of_lot}
    if alert.details.get("commodity"):
        commodities.add(str(alert.details["commodity"]))
    return Scope(frozenset(lots), frozenset([alert.loan] if alert.loan else []), frozenset(gateways),
                 frozenset(commodities))


def _linked(alert: EpisodeAlert, scope: Scope) -> bool:
    if alert.lot is not None or alert.loan is not None:
        return alert.lot in scope.lots or alert.loan in scope.loans
    if alert.gateway is not None:            # a gateway-level alert: offline, tampered, skewed
        return alert.gateway in scope.gateways
    return str(alert.details.get("commodity", "")) in scope.commodities   # a price alert


def episode_of(seed: EpisodeAlert, candidates: Iterable[EpisodeAlert], now_s: float, *,
               commodity_of_lot: Mapping[str, str], lots_of_loan: Mapping[str, Sequence[str]],
               gateway_of_lot: Mapping[str, str]) -> list[EpisodeAlert]:
    """The seed's episode: the linked alerts whose spans chain to it in time, oldest first.
    A lot's loan joins the scope, so the loan's LTV alerts are part of a loss on its lot."""
    lots_of_loan = dict(lots_of_loan)
    scope = _scope_of(seed, commodity_of_lot, lots_of_loan, gateway_of_lot)
    loan_of_lot = {lot: loan for loan, lots in lots_of_loan.items() for lot in lots}
    scope = Scope(scope.lots, scope.loans | {loan_of_lot[lot] for lot in scope.lots if lot in loan_of_lot},
                  scope.gateways, scope.commodities)
    pool = sorted({a.id: a for a in (*candidates, seed) if a.id == seed.id or _linked(a, scope)}.values(),
                  key=lambda a: (a.opened_at_s, a.id))
    members = {seed.id: seed}
    start_s, end_s = seed.opened_at_s, seed.end_s(now_s)
    grew = True
    while grew:                               # a fixed point: each pass may widen the window
        grew = False
        for alert in pool:
            if alert.id not in members and alert.opened_at_s <= end_s + LINK_GAP_S \
                    and alert.end_s(now_s) >= start_s - LINK_GAP_S:
                members[alert.id] = alert
                start_s, end_s = min(start_s, alert.opened_at_s), max(end_s, alert.end_s(now_s))
                grew = True
    return sorted(members.values(), key=lambda a: (a.opened_at_s, a.id))


def blind_seconds(alerts: Sequence[EpisodeAlert], now_s: float) -> float:
    """How long the episode's collateral went unwatched: the union of its blind alerts' spans,
    each from when the gap began (`since_s`, `blind_from_s`) when the alert says so."""
    spans = []
    for alert in alerts:
        if alert.type in BLIND_TYPES:
            start = float(alert.details.get("since_s", alert.opened_at_s))
            spans.append((min(start, alert.opened_at_s), alert.end_s(now_s)))
        elif "blind_from_s" in alert.details and "blind_to_s" in alert.details:
            spans.append((float(alert.details["blind_from_s"]), float(alert.details["blind_to_s"])))
    total, cursor = 0.0, float("-inf")
    for start, end in sorted(spans):
        start = max(start, cursor)
        if end > start:
            total, cursor = total + end - start, end
    return total


def ltv_path(alerts: Sequence[EpisodeAlert], history: Sequence[tuple[float, float]] = ()) -> dict[str, Any]:
    """The LTV the episode's LTV alerts reported (first, peak, last, the statuses in order) and,
    from the loan's history over the episode, its first, lowest, highest and last value."""
    points = [(a.opened_at_s, float(a.details["ltv"]), a.type) for a in alerts
              if a.type in (*LTV_TYPES, "ltv_cured") and isinstance(a.details.get("ltv"), (int, float, str))]
    path: dict[str, Any] = {"first": None, "peak": None, "last": None, "statuses": []}
    if points:
        path = {"first": points[0][1], "peak": max(p[1] for p in points), "last": points[-1][1],
                "statuses": [p[2] for p in points]}
    values = [ltv for _, ltv in sorted(history)]
    path["history"] = {"first": values[0], "low": min(values), "high": max(values), "last": values[-1],
                       "points": len(values)} if values else None
    return path


def sensor_states(alerts: Sequence[EpisodeAlert]) -> list[dict[str, Any]]:
    """Each monitoring gap of the episode: which sensor or gateway, how it failed, for how long."""
    return [{"type": a.type, "lot": a.lot, "gateway": a.gateway,
             "sensor": a.details.get("sensor"), "mode": a.details.get("mode") or a.details.get("reason"),
             "opened_at_s": a.opened_at_s, "resolved_at_s": a.resolved_at_s}
            for a in alerts if a.type in BLIND_TYPES or a.type == "clock_skew"]


def action_counts(actions: Sequence[EpisodeAction]) -> dict[str, int]:
    """Inspections, refused and approved releases, refused pledges and repayments, counted."""
    counts: dict[str, int] = {}
    for action in actions:
        key = action.type if action.type in ("inspection", "repayment") else f"{action.type}_{action.outcome}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def case_id(alert_id: str) -> str:
    """One case per closing alert: a hash of it (recording twice finds the same case)."""
    return f"case-{hashlib.sha256(alert_id.encode()).hexdigest()[:16]}"
