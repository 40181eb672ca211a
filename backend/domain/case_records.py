"""A closed episode as a case record: who and what it was about, what happened, what it was.

Everything a risk score needs is a field: the warehouse, gateway, borrower, commodity and
lender, when the episode opened and closed, how long the collateral went unwatched, the
outcome and, for a confirmed loss, its amount.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

from backend.domain.case_features import EpisodeContext, features_of
from backend.domain.cases import (
    LTV_TYPES,
    EpisodeAction,
    EpisodeAlert,
    Outcome,
    action_counts,
    blind_seconds,
    case_id,
    episode_of,
    ltv_path,
    sensor_states,
)
from backend.domain.registry import Registry


@dataclass(frozen=True, slots=True)
class CaseSubject:
    """What the closing alert was about, completed from the registry."""
    lender: str | None
    borrower: str | None
    loan: str | None
    lot: str | None
    warehouse: str | None
    gateway: str | None
    commodity: str | None


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    alert_id: str                              # the alert whose closing recorded the case
    subject: CaseSubject
    opened_at_s: float
    closed_at_s: float
    blind_s: float
    outcome: Outcome
    recorded_by: str
    alert_ids: tuple[str, ...]                 # the episode, in the order the alerts opened
    alert_types: tuple[str, ...]
    features: Mapping[str, float]
    summary: Mapping[str, Any]                 # sensor states, LTV path, durations, actions


def close_case(alert_id: str, subject: CaseSubject, episode: Sequence[EpisodeAlert],
               actions: Sequence[EpisodeAction], context: EpisodeContext, outcome: Outcome,
               by: str, now_s: float, ltv_history: Sequence[tuple[float, float]] = ()) -> Case:
    """The case of `alert_id`'s episode, closed now with the supervisor's outcome;
    `ltv_history`: the loan's (time, LTV) points over the episode."""
    opened_s = min(a.opened_at_s for a in episode)
    ends = [a.end_s(now_s) for a in episode]
    summary = {
        "sensor_states": sensor_states(episode), "ltv_path": ltv_path(episode, ltv_history),
        "durations": {"episode_s": round(max(ends) - opened_s, 3),
                      "by_alert_s": {a.id: round(a.end_s(now_s) - a.opened_at_s, 3) for a in episode}},
        "actions": {**action_counts(actions),
                    "margin_calls": sum(1 for a in episode if a.type in LTV_TYPES[1:])}}
    return Case(case_id(alert_id), alert_id, subject, opened_s, now_s, round(blind_seconds(episode, now_s), 3),
                outcome, by, tuple(a.id for a in episode), tuple(a.type for a in episode),
                features_of(episode, actions, context, now_s), summary)


def _lots_of(registry: Registry, alert: EpisodeAlert) -> list[str]:
    if alert.lot:
        return [alert.lot]
    loan = registry.loans.get(alert.loan or "")
    return list(loan.lot_ids) if loan else []


def episode_in(registry: Registry, seed: EpisodeAlert, candidates: Iterable[EpisodeAlert],
               now_s: float) -> list[EpisodeAlert]:
    """The seed's episode, linked through the registry's lots, loans, gateways and commodities."""
    lots = registry.lots
    return episode_of(seed, candidates, now_s,
                      commodity_of_lot={lot_id: lot.commodity_id for lot_id, lot in lots.items()},
                      lots_of_loan={loan_id: loan.lot_ids for loan_id, loan in registry.loans.items()},
                      gateway_of_lot={lot_id: registry.warehouses[lot.warehouse_id].gateway_id
                                      for lot_id, lot in lots.items() if lot.warehouse_id in registry.warehouses})


def context_in(registry: Registry, episode: Sequence[EpisodeAlert], prior_cases: int = 0) -> EpisodeContext:
    """What the features need beyond the alerts: is the commodity perishable, how many items each lot has."""
    lot_ids = {lot_id for alert in episode for lot_id in _lots_of(registry, alert) if lot_id in registry.lots}
    perishable = any(registry.commodities[registry.lots[lot_id].commodity_id].perishable
                     for lot_id in lot_ids if registry.lots[lot_id].commodity_id in registry.commodities)
    return EpisodeContext(perishable, MappingProxyType({lot_id: len(registry.lots[lot_id].items) for lot_id in lot_ids}),
                          prior_cases)


def subject_in(registry: Registry, alert: EpisodeAlert) -> CaseSubject:
    """The alert's lender, borrower, loan, lot, warehouse, gateway and commodity, as far as the registry knows."""
    lots = _lots_of(registry, alert)
    lot = registry.lots.get(lots[0]) if lots else None
    loan = registry.loans.get(alert.loan or registry.loan_of_lot.get(alert.lot or "", ""))
    warehouse = registry.warehouses.get(lot.warehouse_id) if lot else None
    commodity = lot.commodity_id if lot else alert.details.get("commodity")
    return CaseSubject(alert.lender or (loan.lender_id if loan else None), loan.borrower_id if loan else None,
                       loan.id if loan else None, alert.lot, warehouse.id if warehouse else None,
                       alert.gateway or (warehouse.gateway_id if warehouse else None),
                       None if commodity is None else str(commodity))
