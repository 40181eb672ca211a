"""Risk scores per warehouse, gateway, borrower and commodity, from what went wrong before.

Every past event counts with the weight of its kind times a decay 2^(−age / half-life),
age = now − when it happened (docs/risk-scores.md):

    score = Σ_types severity(type) · A_type + w_loss · L + w_fault · F + w_blind · B

- A_type: decayed count of alerts of that type (by opening time); the sensor and blind
  types are left to their own terms;
- L: decayed count of confirmed losses: the cases closed as `confirmed_loss` or `fraud`, and
  the inspections (physical counts) found short that no such case explains already;
- F: decayed count of `sensor_fault` alerts and of the cases closed as `sensor_fault` whose
  episode held no `sensor_fault` alert (that alert counts already);
- B: decayed blind hours: the union of `gateway_offline` and `monitoring_blind` episodes
  (opened → resolved, still open: → now), each instant t weighing 2^(−(now − t)/h).

An event counts for every entity it touches: its lot's warehouse, gateway, commodity and
borrower (through the loan the lot backs); a loan's event without a lot, for the loan's
borrower and the warehouses, gateways and commodities of its lots; a gateway's, for that
gateway and its warehouse; a price alert, for its commodity. A case counts for the
warehouse, gateway, borrower and commodity it recorded, from its closing time. Pure: `now`
is given.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Iterable, Literal, Mapping, Sequence, get_args

from backend.domain.alerts import POLICIES
from backend.domain.registry import Registry

Kind = Literal["warehouse", "gateway", "borrower", "commodity"]
KINDS: tuple[Kind, ...] = get_args(Kind)
SENSOR_TYPES = frozenset({"sensor_fault"})
BLIND_TYPES = frozenset({"gateway_offline", "monitoring_blind"})
LOSS_OUTCOMES = frozenset({"confirmed_loss", "fraud"})
FAULT_OUTCOME = "sensor_fault"
CENT = Decimal("0.01")
DAY_S = 86_400.0
LOOK_BACK_HALF_LIVES = 20          # older events weigh < 2^-20 (1e-6): not read


@dataclass(frozen=True, kw_only=True)
class ScoreWeights:
    half_life_s: float = 30 * DAY_S
    severity: Mapping[str, float] = field(default_factory=lambda: MappingProxyType(
        {"critical": 3.0, "warning": 1.0, "info": 0.0}))
    confirmed_loss: float = 10.0
    sensor_fault: float = 2.0
    blind_hour: float = 0.25

    def __post_init__(self) -> None:
        if not (self.half_life_s > 0 and math.isfinite(self.half_life_s)):
            raise ValueError(f"half_life_s must be a positive number of seconds, not {self.half_life_s!r}")

    def look_back_s(self) -> float:
        """How far back events still weigh something."""
        return LOOK_BACK_HALF_LIVES * self.half_life_s


@dataclass(frozen=True, slots=True)
class AlertEpisode:
    """One stored alert: what it was about and when it was open."""
    type: str
    subject: str
    opened_at_s: float
    resolved_at_s: float | None
    loan: str | None = None
    lot: str | None = None
    gateway: str | None = None


@dataclass(frozen=True, slots=True)
class CountResult:
    """An inspection: a lot counted at `at_s`, found short of its pledge or not."""
    lot_id: str
    at_s: float
    short: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseOutcome:
    """A closed case as the scores read it: what it was about, its episode, what it turned out to be."""
    outcome: str
    opened_at_s: float
    closed_at_s: float
    lot: str | None = None
    warehouse: str | None = None
    gateway: str | None = None
    borrower: str | None = None
    commodity: str | None = None
    loss_amount: Decimal | None = None
    loss_currency: str | None = None
    alert_types: tuple[str, ...] = ()

    def explains(self, count: CountResult) -> bool:
        """A short count on this loss case's lot while its episode was open is its evidence, not a second loss."""
        return self.outcome in LOSS_OUTCOMES and count.lot_id == self.lot \
            and self.opened_at_s <= count.at_s <= self.closed_at_s


@dataclass(frozen=True, slots=True)
class LossAmount:
    """Money lost in one currency: as recorded, and decayed like the cases it comes from."""
    amount: Decimal = Decimal(0)
    decayed: Decimal = Decimal(0)

    def plus(self, amount: Decimal, weight: float) -> LossAmount:
        return LossAmount(self.amount + amount, self.decayed + (amount * Decimal(weight)).quantize(CENT))


@dataclass(frozen=True, slots=True)
class Tally:
    count: int = 0
    decayed: float = 0.0

    def plus(self, weight: float) -> Tally:
        return Tally(self.count + 1, self.decayed + weight)


@dataclass(frozen=True, kw_only=True)
class RiskScore:
    kind: Kind
    entity_id: str
    score: float
    alerts: Mapping[str, Tally]                # by type, sensor and blind types excluded
    confirmed_losses: Tally                    # loss cases and the short counts they do not explain
    inspections: Tally                         # every count, short or not
    sensor_faults: Tally                       # sensor_fault alerts and sensor_fault cases without one
    cases: Mapping[str, Tally]                 # by outcome, every case read
    loss_amounts: Mapping[str, LossAmount]     # by currency, from the loss cases
    blind_hours: float                         # undecayed
    blind_hours_decayed: float
    contributions: Mapping[str, float]         # term -> points; they add up to the score


def decay(age_s: float, half_life_s: float) -> float:
    """2^(−age / half-life); an event stamped in the future weighs 1."""
    return math.pow(2.0, -max(0.0, age_s) / half_life_s)


def decayed_hours(start_s: float, end_s: float, now_s: float, half_life_s: float) -> float:
    """∫ 2^(−(now − t)/h) dt over [start, end] ∩ (−∞, now], in hours."""
    end_s = min(end_s, now_s)
    if end_s <= start_s:
        return 0.0
    scale = half_life_s / math.log(2)
    return scale * (decay(now_s - end_s, half_life_s) - decay(now_s - start_s, half_life_s)) / 3600.0


def merged(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The union of intervals, as disjoint intervals in order."""
    union: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if union and start <= union[-1][1]:
            union[-1] = (union[-1][0], max(union[-1][1], end))
        else:
            union.append((start, end))
    return union


def exposure(registry: Registry, lender: str | None) -> dict[Kind, set[str]]:
    """The entities a lender's active loans touch (None: every entity of the registry)."""
    if lender is None:
        return {"warehouse": set(registry.warehouses), "commodity": set(registry.commodities),
                "borrower": set(registry.borrowers) | {loan.borrower_id for loan in registry.loans.values()},
                "gateway": {w.gateway_id for w in registry.warehouses.values()} | set(registry.gateways)}
    loans = [loan for loan in registry.loans.values() if loan.lender_id == lender and loan.active]
    found = _of_lots(registry, [lot_id for loan in loans for lot_id in loan.lot_ids])
    found["borrower"] |= {loan.borrower_id for loan in loans}
    return found


def touched(episode: AlertEpisode, registry: Registry) -> dict[Kind, set[str]]:
    """The entities an alert counts for (module docstring)."""
    loan = registry.loans.get(episode.loan) if episode.loan is not None else None
    if episode.lot is not None or loan is not None:
        found = _of_lots(registry, [episode.lot] if episode.lot is not None else loan.lot_ids if loan else ())
        if loan is not None:               # the loan the alert names, the lot's loan then
            found["borrower"] = {loan.borrower_id}
        return found
    found = _nothing()
    if episode.gateway is not None:
        found["gateway"].add(episode.gateway)
        found["warehouse"] |= {w.id for w in registry.warehouses.values() if w.gateway_id == episode.gateway}
    elif episode.type.startswith("price_") and episode.subject.split("/")[0] in registry.commodities:
        found["commodity"].add(episode.subject.split("/")[0])     # "steel" or "steel/<lender>"
    return found


def _nothing() -> dict[Kind, set[str]]:
    return {kind: set() for kind in KINDS}


def _of_lots(registry: Registry, lot_ids: Iterable[str]) -> dict[Kind, set[str]]:
    found = _nothing()
    for lot_id in lot_ids:
        lot = registry.lots.get(lot_id)
        if lot is None:
            continue
        found["warehouse"].add(lot.warehouse_id)
        found["commodity"].add(lot.commodity_id)
        if (warehouse := registry.warehouses.get(lot.warehouse_id)) is not None:
            found["gateway"].add(warehouse.gateway_id)
        if (loan := registry.loans.get(registry.loan_of_lot.get(lot_id, ""))) is not None:
            found["borrower"].add(loan.borrower_id)
    return found


@dataclass
class _History:
    """What one entity went through, being added up."""
    alerts: dict[str, Tally] = field(default_factory=dict)
    losses: Tally = Tally()
    inspections: Tally = Tally()
    faults: Tally = Tally()
    blind: list[tuple[float, float]] = field(default_factory=list)
    cases: dict[str, Tally] = field(default_factory=dict)
    amounts: dict[str, LossAmount] = field(default_factory=dict)


def risk_scores(kind: Kind, *, episodes: Sequence[AlertEpisode], counts: Sequence[CountResult],
                registry: Registry, now_s: float, weights: ScoreWeights = ScoreWeights(),
                listed: Iterable[str] = (), cases: Sequence[CaseOutcome] = ()) -> list[RiskScore]:
    """A score for every entity of `kind` in `listed` or touched by the history, the
    riskiest first (ties by id). The caller picks the history in scope."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    histories = {entity_id: _History() for entity_id in listed}
    _add_episodes(histories, kind, episodes, registry, now_s, weights.half_life_s)
    _add_counts(histories, kind, counts, cases, registry, now_s, weights.half_life_s)
    _add_cases(histories, kind, cases, now_s, weights.half_life_s)
    scores = [_score(kind, entity_id, history, now_s, weights) for entity_id, history in histories.items()]
    return sorted(scores, key=lambda s: (-s.score, s.entity_id))


def _add_episodes(histories: dict[str, _History], kind: Kind, episodes: Sequence[AlertEpisode],
                  registry: Registry, now_s: float, half_life_s: float) -> None:
    for episode in episodes:
        weight = decay(now_s - episode.opened_at_s, half_life_s)
        for entity_id in touched(episode, registry)[kind]:
            history = histories.setdefault(entity_id, _History())
            if episode.type in BLIND_TYPES:
                end_s = now_s if episode.resolved_at_s is None else episode.resolved_at_s
                history.blind.append((episode.opened_at_s, end_s))
            elif episode.type in SENSOR_TYPES:
                history.faults = history.faults.plus(weight)
            else:
                history.alerts[episode.type] = history.alerts.get(episode.type, Tally()).plus(weight)


def _add_counts(histories: dict[str, _History], kind: Kind, counts: Sequence[CountResult],
                cases: Sequence[CaseOutcome], registry: Registry, now_s: float, half_life_s: float) -> None:
    for count in counts:
        weight = decay(now_s - count.at_s, half_life_s)
        new_loss = count.short and not any(case.explains(count) for case in cases)
        for entity_id in _of_lots(registry, [count.lot_id])[kind]:
            history = histories.setdefault(entity_id, _History())
            history.inspections = history.inspections.plus(weight)
            if new_loss:
                history.losses = history.losses.plus(weight)


def _add_cases(histories: dict[str, _History], kind: Kind, cases: Sequence[CaseOutcome],
               now_s: float, half_life_s: float) -> None:
    for case in cases:
        entity_id = getattr(case, kind)
        if entity_id is None:
            continue
        weight = decay(now_s - case.closed_at_s, half_life_s)
        history = histories.setdefault(entity_id, _History())
        history.cases[case.outcome] = history.cases.get(case.outcome, Tally()).plus(weight)
        if case.outcome in LOSS_OUTCOMES:
            history.losses = history.losses.plus(weight)
            if case.loss_amount is not None and case.loss_currency is not None:
                before = history.amounts.get(case.loss_currency, LossAmount())
                history.amounts[case.loss_currency] = before.plus(case.loss_amount, weight)
        elif case.outcome == FAULT_OUTCOME and not SENSOR_TYPES & set(case.alert_types):
            history.faults = history.faults.plus(weight)


def _score(kind: Kind, entity_id: str, history: _History, now_s: float, weights: ScoreWeights) -> RiskScore:
    blind = merged(history.blind)
    hours = sum(min(end, now_s) - start for start, end in blind if min(end, now_s) > start) / 3600.0
    hours_decayed = sum(decayed_hours(start, end, now_s, weights.half_life_s) for start, end in blind)
    contributions = {
        "alerts": sum((weights.severity.get(POLICIES[t].severity, 0.0) * tally.decayed
                       for t, tally in history.alerts.items() if t in POLICIES), 0.0),
        "confirmed_losses": weights.confirmed_loss * history.losses.decayed,
        "sensor_faults": weights.sensor_fault * history.faults.decayed,
        "blind_time": weights.blind_hour * hours_decayed}
    return RiskScore(kind=kind, entity_id=entity_id, score=sum(contributions.values()),
                     alerts=MappingProxyType(dict(sorted(history.alerts.items()))),
                     confirmed_losses=history.losses, inspections=history.inspections, sensor_faults=history.faults,
                     cases=MappingProxyType(dict(sorted(history.cases.items()))),
                     loss_amounts=MappingProxyType(dict(sorted(history.amounts.items()))),
                     blind_hours=hours, blind_hours_decayed=hours_decayed,
                     contributions=MappingProxyType(contributions))
