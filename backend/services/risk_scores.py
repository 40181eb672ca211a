"""Risk scores (`GET /api/v1/risk-scores`): load the history in scope through a port, judge
each inspection against the pledge, score with the pure core (backend.domain.risk_scores).

Scope: staff score from every stored alert, inspection and case; a lender from the alerts
and cases on its own loans and lots and the inspections of the lots that back its loans, and sees only the
entities its active loans touch or its own history names: another bank's history never
enters its numbers.
"""
from __future__ import annotations

from typing import Any, Callable

from backend.domain import inspections as counting
from backend.domain.config import MonitorConfig
from backend.domain.registry import Registry
from backend.domain.risk_scores import CountResult, Kind, RiskScore, ScoreWeights, Tally, exposure, risk_scores
from backend.ports.risk import RiskHistory


class RiskScoreService:
    def __init__(self, *, registry: Callable[[], Registry], history: RiskHistory, clock: Callable[[], float],
                 weights: ScoreWeights = ScoreWeights(), config: MonitorConfig = MonitorConfig()) -> None:
        self.registry, self.history, self.clock = registry, history, clock
        self.weights, self.config = weights, config

    def scores(self, kind: Kind, *, lender: str | None) -> dict[str, Any]:
        registry, now_s = self.registry(), self.clock()
        since_s = now_s - self.weights.look_back_s()
        episodes = self.history.alert_episodes(since_s=since_s, lender=lender)
        counts = [CountResult(c.lot_id, c.at_s, counting.shortfall(c, registry, self.config) is not None)
                  for c in self.history.inspections(since_s=since_s)
                  if c.lot_id in registry.lots and _in_scope(registry, c.lot_id, lender)]
        cases = self.history.cases(since_s=since_s, lender=lender)
        scores = risk_scores(kind, episodes=episodes, counts=counts, registry=registry, now_s=now_s,
                             weights=self.weights, listed=exposure(registry, lender)[kind], cases=cases)
        return {"kind": kind, "at_s": now_s, "half_life_days": self.weights.half_life_s / 86_400,
                "weights": {"severity": dict(self.weights.severity), "confirmed_loss": self.weights.confirmed_loss,
                            "sensor_fault": self.weights.sensor_fault, "blind_hour": self.weights.blind_hour},
                "scores": [_out(score) for score in scores]}


def _in_scope(registry: Registry, lot_id: str, lender: str | None) -> bool:
    if lender is None:
        return True
    loan = registry.loans.get(registry.loan_of_lot.get(lot_id, ""))
    return loan is not None and loan.lender_id == lender


def _tally(tally: Tally) -> dict[str, Any]:
    return {"count": tally.count, "decayed": round(tally.decayed, 6)}


def _out(score: RiskScore) -> dict[str, Any]:
    return {"id": score.entity_id, "score": round(score.score, 4),
            "inputs": {"alerts": {t: _tally(tally) for t, tally in score.alerts.items()},
                       "confirmed_losses": _tally(score.confirmed_losses),
                       "inspections": _tally(score.inspections),
                       "sensor_faults": _tally(score.sensor_faults),
                       "cases": {outcome: _tally(tally) for outcome, tally in score.cases.items()},
                       "loss_amounts": {currency: {"amount": str(loss.amount), "decayed": str(loss.decayed)}
                                        for currency, loss in score.loss_amounts.items()},
                       "blind_hours": round(score.blind_hours, 4),
                       "blind_hours_decayed": round(score.blind_hours_decayed, 4)},
            "contributions": {term: round(points, 4) for term, points in score.contributions.items()}}
