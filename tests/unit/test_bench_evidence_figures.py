"""`bench evidence`'s arithmetic and its Markdown: each round's log-on figure is compared with
that round's log-off one (higher throughput is better, lower CPU is), the settings take turns
going first, and the printed tables carry every round and the baseline's row."""
from __future__ import annotations

import pytest

from backend.bench.evidence import _compare, _order, markdown


def test_each_setting_takes_its_turn_first():
    assert [_order(["off", "on", "baseline"], n) for n in range(4)] == [
        ["off", "on", "baseline"], ["on", "baseline", "off"], ["baseline", "off", "on"], ["off", "on", "baseline"]]
    assert [_order(["off", "on"], n) for n in range(2)] == [["off", "on"], ["on", "off"]]


def test_the_cost_is_per_round_against_that_rounds_log_off_figure():
    rates = _compare({"off": [100.0, 50.0, 80.0], "on": [90.0, 50.0, 40.0]}, higher_is_better=True)
    assert rates["on_cost"]["pairs"] == pytest.approx([0.1, 0.0, 0.5])
    assert rates["on_cost"]["pairs_median"] == pytest.approx(0.1)
    assert rates["on_cost"]["of_medians"] == pytest.approx(1 - 50 / 80)
    cpu = _compare({"off": [1.0, 2.0], "on": [1.1, 1.9]}, higher_is_better=False)
    assert cpu["on_cost"]["pairs"] == pytest.approx([0.1, -0.05])
    assert (cpu["on_cost"]["pairs_min"], cpu["on_cost"]["pairs_max"]) == pytest.approx((-0.05, 0.1))


def test_the_markdown_shows_every_round_and_the_baseline():
    rates = {"off": [100_000.0, 80_000.0], "on": [95_000.0, 76_000.0], "baseline": [90_000.0, 60_000.0]}
    process_cpu = {"off": [1.0, 1.2], "on": [1.05, 1.26], "baseline": [1.2, 1.5]}
    figures = _compare(rates, higher_is_better=True) | {"cpu": _compare(process_cpu, higher_is_better=False)}
    paired = {name: _compare({"off": [1.0, 1.1], "on": [1.03, 1.14]}, higher_is_better=False)
              for name in ("this", "baseline")}
    result = {"ingest": {"log_size": 1_000_000, "load_average_1m": [1.5, 2.0], "figures": figures},
              "ingest_cpu": {"log_size": 1_000_000, "load_average_1m": [2.0, 1.0], "cpu_figures": paired,
                             "wall_figures": paired}}
    text = markdown(result, "pledgewatch bench evidence --cpu --rounds 2 --baseline BASELINE")
    assert "`pledgewatch bench evidence --cpu --rounds 2 --baseline BASELINE`" in text
    assert "a log of 1,000,000 entries" in text and "1.5 → 2.0 and 2.0 → 1.0" in text
    assert "| log off | 90,000 (100,000 / 80,000) | 1.100 (1.000 / 1.200) |" in text
    assert "| log on, baseline checkout | 75,000 (90,000 / 60,000) |" in text
    assert "| cost, this checkout | 5.0 % (5.0 % to 5.0 %; of the medians 5.0 %) |" in text
    assert "| cost, baseline | 17.5 % (10.0 % to 25.0 %; of the medians 16.7 %) |" in text
    assert "| baseline checkout | 1.050 (1.000 / 1.100) | 1.085 (1.030 / 1.140) |" in text
    assert markdown({"bytes": {}}, "pledgewatch bench evidence") == ""
