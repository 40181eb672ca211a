"""The example scenarios run, and together raise every alert type the runner can raise."""
from pathlib import Path

import pytest
from test_event_types import _event_types

from backend.domain.alerts import ALERT_TYPES
from backend.scenario.runner import run_file

SEEDS = sorted((Path(__file__).resolve().parents[3] / "seeds" / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def results():
    return {path.stem: run_file(str(path)) for path in SEEDS}


def test_the_baseline_raises_nothing(results):
    assert results["baseline"].alerts == {}


def test_together_the_seeds_raise_every_alert_type(results):
    raised = {a.type for r in results.values() for a in r.alerts.values()}
    assert raised == set(ALERT_TYPES)


def test_together_the_seeds_use_every_event_type(results):
    used = {e.type for r in results.values() for e in r.scenario.events}
    assert used == _event_types()
