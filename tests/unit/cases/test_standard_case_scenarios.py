"""Each standard risk case, reproduced as a scenario (tests/unit/cases/scenarios/<case id>.yaml)
and run through the real core, matches that case first among all the standard cases."""
from __future__ import annotations

from pathlib import Path

import pytest

from backend.book.risk_cases import load_risk_cases
from backend.domain.case_features import Candidate, best_matches, features_of
from backend.domain.case_records import context_in, episode_in
from backend.domain.cases import EpisodeAction, EpisodeAlert
from backend.scenario.runner import run_file

SCENARIOS = Path(__file__).parent / "scenarios"
STANDARD = load_risk_cases()


def scenario_features(path: Path) -> dict[str, float]:
    """The episode of the scenario's first alert on lot-1 or loan-1, as of its end."""
    result = run_file(str(path))
    alerts = [EpisodeAlert.of(alert) for alert in result.alerts.values()]
    seed = min((a for a in alerts if a.lot == "lot-1" or a.loan == "loan-1"), key=lambda a: (a.opened_at_s, a.id))
    now_s = float(result.scenario.duration)
    episode = episode_in(result.registry, seed, alerts, now_s)
    actions = [EpisodeAction(a.at_s, a.type, a.outcome, a.loan, a.lot, a.reason) for a in result.actions]
    return features_of(episode, actions, context_in(result.registry, episode), now_s)


def test_every_standard_case_has_a_scenario():
    assert sorted(p.stem for p in SCENARIOS.glob("*.yaml")) == [case.id for case in STANDARD]
    assert len(STANDARD) >= 9


@pytest.mark.parametrize("case", STANDARD, ids=lambda case: case.id)
def test_the_scenario_of_a_standard_case_matches_it_first(case):
    features = scenario_features(SCENARIOS / f"{case.id}.yaml")
    candidates = [Candidate("standard", c.id, c.title, c.typical_outcome, c.pattern) for c in STANDARD]
    matches = best_matches(features, candidates, top=len(candidates))
    assert matches[0].id == case.id, [(m.id, m.score) for m in matches[:3]]
    assert matches[0].score > (matches[1].score if len(matches) > 1 else 0) + 0.05
    assert {name for name, _ in matches[0].matched} & {name for name, value in case.pattern.items() if value >= 1}
