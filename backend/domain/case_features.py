"""An episode as a feature vector, and its similarity to standard and closed cases.

Every feature is a number in [0, 1] with a fixed weight (how much it tells cases apart:
a tag read at two sites says more than an LTV warning, which most episodes end in). The
similarity of two episodes is the cosine of their weighted vectors, so it is 1 for the same
features in the same proportions and 0 when they share none; each shared feature's part of
the dot product is its share of the score, which is how a match is explained. The features,
their weights and the similarity are documented in docs/risk-cases.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np

from backend.domain.cases import BLIND_TYPES, LOSS_TYPES, LTV_TYPES, EpisodeAction, EpisodeAlert

# name -> weight. The order is the vector's; a stored case keeps its features by name.
WEIGHTS: Mapping[str, float] = MappingProxyType({
    "double_pledge": 3.0,               # a second pledge of pledged goods was tried
    "tag_conflict": 3.0,                # one EPC read at two sites
    "tags_gone": 1.5,                   # goods left: tags and weight gone (unauthorized_removal)
    "weight_gone_tags_intact": 2.5,     # weight missing under tags still read (weight_count_mismatch)
    "shortfall": 1.0,                   # less than pledged by weight or by a count (stock_shortfall)
    "repeated_loss": 2.5,               # several loss alerts: 2 -> 0.5, 3 or more -> 1
    "small_loss": 1.5,                  # the largest loss is at most 10 % of its lot
    "large_loss": 1.0,                  # the largest loss is at least 25 % of its lot
    "blind": 1.0,                       # a sensor, the gateway or the whole lot went unwatched
    "blind_then_loss": 2.5,             # ... before the loss was seen
    "tamper": 2.0,                      # messages in the gateway's name failed verification
    "count_disputes_loss": 3.0,         # a physical count said "all there" while sensors saw a loss
    "release_refused": 2.5,             # a release was asked and refused
    "release_approved": 1.0,
    "ltv_stress": 0.5,                  # any LTV alert
    "margin_call": 1.0,                 # margin call or liquidation
    "liquidation": 1.0,
    "no_cure": 1.5,                     # a margin call or liquidation that nothing cured
    "cured": 1.5,                       # LTV cured, or a repayment made
    "ltv_without_loss": 2.0,            # LTV trouble with every item and kilogram in place
    "price_alert": 1.5,                 # an outlier or stale price of the commodity
    "temperature": 3.0,                 # a temperature excursion
    "perishable": 1.5,                  # the commodity spoils
    "clock_skew": 1.0,
    "prior_cases": 1.0,                 # closed cases before on the lot or borrower: 3 or more -> 1
    "long_episode": 0.25,               # log-scaled duration: 1 at three days
})
FEATURES: tuple[str, ...] = tuple(WEIGHTS)
_W2 = np.array([WEIGHTS[name] ** 2 for name in FEATURES])
SMALL_LOSS, LARGE_LOSS = 0.10, 0.25
LONG_EPISODE_H = 72.0


@dataclass(frozen=True, slots=True)
class EpisodeContext:
    perishable: bool = False
    pledged_items: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))  # by lot
    prior_cases: int = 0


def _loss_fraction(alert: EpisodeAlert, pledged_items: Mapping[str, int]) -> float | None:
    """The share of the lot the alert says is gone (None: it does not say)."""
    details, items = alert.details, pledged_items.get(alert.lot or "", 0)
    if alert.type == "unauthorized_removal" and items:
        return float(details.get("missing_items", 0)) / items
    weight, expected = details.get("weight_kg"), details.get("expected_kg")
    if isinstance(weight, (int, float)) and isinstance(expected, (int, float)) and expected > 0:
        return max(0.0, 1.0 - weight / expected)
    counted, pledged = details.get("counted_quantity"), details.get("pledged_quantity")
    if isinstance(counted, (int, float)) and isinstance(pledged, (int, float)) and pledged > 0:
        return max(0.0, 1.0 - counted / pledged)
    return None


def _loss_occasions(losses: Sequence[EpisodeAlert]) -> int:
    """Separate losses: on another lot, or on the same lot after its earlier loss alerts ended
    (one removal seen first by weight, then by tags, is one loss)."""
    occasions, open_until = 0, dict[str | None, float]()  # lot -> when its latest loss alert ended
    for alert in sorted(losses, key=lambda a: (a.opened_at_s, a.id)):
        if alert.lot not in open_until or alert.opened_at_s > open_until[alert.lot]:
            occasions += 1
        end = math.inf if alert.resolved_at_s is None else alert.resolved_at_s
        open_until[alert.lot] = max(open_until.get(alert.lot, -math.inf), end)
    return occasions


def _loss_features(losses: Sequence[EpisodeAlert], context: EpisodeContext) -> dict[str, float]:
    fractions = [f for a in losses if (f := _loss_fraction(a, context.pledged_items)) is not None]
    largest = max(fractions, default=None)
    return {"repeated_loss": min(1.0, (_loss_occasions(losses) - 1) / 2) if losses else 0.0,
            "small_loss": float(largest is not None and largest <= SMALL_LOSS),
            "large_loss": float(largest is not None and largest >= LARGE_LOSS)}


def _order_features(alerts: Sequence[EpisodeAlert], losses: Sequence[EpisodeAlert],
                    actions: Sequence[EpisodeAction]) -> dict[str, float]:
    gaps = [a for a in alerts if a.type in BLIND_TYPES and a.type != "tamper_detected"]
    first_loss_s = min((a.opened_at_s for a in losses), default=None)
    blind_first = first_loss_s is not None and (any(a.opened_at_s <= first_loss_s for a in gaps)
                                                or any("blind_from_s" in a.details for a in losses))
    disputed = any(action.type == "inspection" and (action.reason or "").startswith("count matches")
                   and any(a.opened_at_s <= action.at_s for a in losses) for action in actions)
    return {"blind": float(bool(gaps)), "blind_then_loss": float(blind_first),
            "count_disputes_loss": float(disputed)}


def _ltv_features(types: set[str], losses: Sequence[EpisodeAlert], actions: Sequence[EpisodeAction]) -> dict[str, float]:
    called = bool(types & {"margin_call", "liquidation"})
    cured = "ltv_cured" in types or any(a.type == "repayment" and a.outcome != "refused" for a in actions)
    stressed = bool(types & set(LTV_TYPES))
    return {"ltv_stress": float(stressed), "margin_call": float(called), "liquidation": float("liquidation" in types),
            "no_cure": float(called and not cured), "cured": float(cured),
            "ltv_without_loss": float(stressed and not losses and not types & {"temperature_excursion"})}


def features_of(alerts: Sequence[EpisodeAlert], actions: Sequence[EpisodeAction], context: EpisodeContext,
                now_s: float) -> dict[str, float]:
    """The episode's features by name (every name in FEATURES)."""
    types = {a.type for a in alerts}
    losses = [a for a in alerts if a.type in LOSS_TYPES]
    start_s = min((a.opened_at_s for a in alerts), default=now_s)
    end_s = max((a.end_s(now_s) for a in alerts), default=now_s)
    hours = max(0.0, end_s - start_s) / 3600
    values = {
        "double_pledge": float("double_pledge_attempt" in types), "tag_conflict": float("tag_conflict" in types),
        "tags_gone": float("unauthorized_removal" in types),
        "weight_gone_tags_intact": float("weight_count_mismatch" in types),
        "shortfall": float("stock_shortfall" in types), "tamper": float("tamper_detected" in types),
        "release_refused": float(any(a.type == "release" and a.outcome == "refused" for a in actions)),
        "release_approved": float(any(a.type == "release" and a.outcome == "approved" for a in actions)),
        "price_alert": float(bool(types & {"price_outlier", "price_stale"})),
        "temperature": float("temperature_excursion" in types), "perishable": float(context.perishable),
        "clock_skew": float("clock_skew" in types), "prior_cases": min(1.0, context.prior_cases / 3),
        "long_episode": min(1.0, math.log1p(hours) / math.log1p(LONG_EPISODE_H)),
        **_loss_features(losses, context), **_order_features(alerts, losses, actions),
        **_ltv_features(types, losses, actions)}
    return {name: round(values[name], 4) for name in FEATURES}


def vector(features: Mapping[str, float]) -> np.ndarray:
    """In FEATURES order; a name not given is 0 (a case stored before a feature existed)."""
    return np.array([float(features.get(name, 0.0)) for name in FEATURES])


@dataclass(frozen=True, slots=True)
class Candidate:
    """A standard or closed case to compare with."""
    kind: str                                  # "standard" | "case"
    id: str
    title: str
    outcome: str | None
    features: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class CaseMatch:
    kind: str
    id: str
    title: str
    score: float                               # cosine of the weighted vectors, 0..1
    outcome: str | None
    matched: tuple[tuple[str, float], ...]     # shared features and their share of the score, largest first
    missing: tuple[str, ...]                   # the case's features this episode lacks, weightiest first

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "id": self.id, "title": self.title, "score": self.score,
                "outcome": self.outcome, "matched": [{"feature": f, "share": s} for f, s in self.matched],
                "missing": list(self.missing)}


KIND_ORDER = {"standard": 0, "case": 1}


def similarities(episode: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Weighted cosine of one episode against each row of `candidates` (0 for an empty vector)."""
    dots = candidates @ (_W2 * episode)
    norms = np.sqrt(candidates ** 2 @ _W2) * math.sqrt(float(episode ** 2 @ _W2))
    scores: np.ndarray = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return scores


def _explained(candidate: Candidate, row: np.ndarray, episode: np.ndarray, score: float) -> CaseMatch:
    parts = _W2 * row * episode
    total = float(parts.sum())
    matched = sorted(((FEATURES[i], round(score * float(parts[i]) / total, 4)) for i in np.flatnonzero(parts > 0)),
                     key=lambda pair: (-pair[1], pair[0])) if total > 0 else []
    lacking = [i for i in np.flatnonzero((row > 0) & (episode == 0))]
    missing = sorted((FEATURES[i] for i in lacking), key=lambda name: (-WEIGHTS[name] * float(row[FEATURES.index(name)]), name))
    return CaseMatch(candidate.kind, candidate.id, candidate.title, round(score, 4), candidate.outcome,
                     tuple(matched), tuple(missing))


def best_matches(features: Mapping[str, float], candidates: Sequence[Candidate], top: int = 3,
                 min_score: float = 0.05) -> list[CaseMatch]:
    """The `top` candidates most like the episode, best first (ties: standard cases, then by id)."""
    if not candidates:
        return []
    episode = vector(features)
    rows = np.vstack([vector(c.features) for c in candidates])
    scores = similarities(episode, rows)
    order = sorted(range(len(candidates)), key=lambda i: (-round(float(scores[i]), 4),
                                                          KIND_ORDER.get(candidates[i].kind, 2), candidates[i].id))
    return [_explained(candidates[i], rows[i], episode, float(scores[i]))
            for i in order[:top] if scores[i] >= min_score]
