"""Strict parsing: a bad file fails with one line naming where; a good one runs the same twice."""
import json
from pathlib import Path

import pytest
import yaml
from book import BASE
from click.testing import CliRunner

from backend.book.durations import parse_duration
from backend.scenario.cli import scenario as scenario_group
from backend.scenario.errors import ScenarioFileError
from backend.scenario.runner import run_file

SEEDS = Path(__file__).resolve().parents[3] / "seeds" / "scenarios"


def write(tmp_path, text: str) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return str(path)


def base_text(**changes) -> str:
    document = {**BASE, **changes}
    return yaml.safe_dump(document, sort_keys=False)


@pytest.mark.parametrize("text, expected", [
    ("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400)])
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["90", 90, "1x", "h", "1h1h", "-5m", ""])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def error_of(tmp_path, text: str) -> str:
    with pytest.raises(ScenarioFileError) as caught:
        run_file(write(tmp_path, text))
    return str(caught.value)


def test_an_unknown_key_is_named_with_its_line(tmp_path):
    text = base_text().replace("seed: 7", "seed: 7\ncolour: blue")
    message = error_of(tmp_path, text)
    assert "s.yaml:3:" in message and "unknown key 'colour'" in message


def test_an_unknown_id_is_named_with_its_line(tmp_path):
    text = base_text(events=[{"at": "1h", "type": "remove_items", "lot": "lot-9", "count": 1}])
    message = error_of(tmp_path, text)
    line = text.splitlines().index(next(row for row in text.splitlines() if "lot-9" in row)) + 1
    assert f"s.yaml:{line}:" in message and "events[0].lot: unknown lot 'lot-9'" in message


def test_a_bad_duration_is_named(tmp_path):
    message = error_of(tmp_path, base_text(duration="3 hours"))
    assert "duration" in message and "bad duration '3 hours'" in message


@pytest.mark.parametrize("event", [
    {"at": "1h", "type": "tamper", "gateway": "gw-1", "for": "1m", "loudly": True},
    {"at": "1h", "type": "forged", "gateway": "gw-1", "for": "1m", "per_minute": 2, "loudly": True},
    {"at": "1h", "type": "inspection", "lot": "lot-1", "items": 1, "quantity": 1, "loudly": True},
])
def test_an_unknown_event_field_is_named(tmp_path, event):
    assert "events[0].loudly: unknown key 'loudly'" in error_of(tmp_path, base_text(events=[event]))


def test_a_key_written_twice_is_refused(tmp_path):
    assert "appears twice" in error_of(tmp_path, base_text().replace("seed: 7", "seed: 7\nseed: 8"))


def test_cli_exits_2_with_one_line_on_a_bad_file(tmp_path):
    result = CliRunner().invoke(scenario_group, ["run", write(tmp_path, "name: x\nbogus: 1\n")])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "bogus" in result.output


def test_cli_json_is_byte_identical_across_runs_and_shaped_as_specified():
    path = str(SEEDS / "steel-theft.yaml")
    first = CliRunner().invoke(scenario_group, ["run", path, "--json"])
    second = CliRunner().invoke(scenario_group, ["run", path, "--json"])
    assert first.exit_code == 0 and first.output == second.output
    document = json.loads(first.output)
    assert set(document) == {"scenario", "seed", "duration_s", "alerts", "loans", "lots", "actions"}
    alert = document["alerts"][0]
    assert set(alert) == {"id", "type", "severity", "opened_at_s", "resolved_at_s", "state",
                          "loan", "lot", "lender", "gateway", "details"}
    loan = next(iter(document["loans"].values()))
    assert set(loan) == {"status", "ltv", "collateral_value", "outstanding"}
    lot = next(iter(document["lots"].values()))
    assert set(lot) == {"pledged_items", "observed_items", "pledged_quantity", "observed_quantity"}
    action = document["actions"][0]
    assert set(action) == {"at_s", "type", "loan", "lot", "outcome", "reason"}


def test_cli_prints_a_timeline_without_json():
    result = CliRunner().invoke(scenario_group, ["run", str(SEEDS / "steel-theft.yaml")])
    assert result.exit_code == 0 and "ALERT   unauthorized_removal" in result.output
