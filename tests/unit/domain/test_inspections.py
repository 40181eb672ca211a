"""Inspections on the pure core: what a count says, which tasks are due."""
import random
from decimal import Decimal

from factory import lot, message, noisy_sample, registry, tick

from backend.domain import monitor
from backend.domain.alerts import AlertOpened
from backend.domain.config import MonitorConfig
from backend.domain.inspections import Inspection, InspectionOverdue, shortfall
from backend.domain.monitor import Market, MonitorState

CONFIG = MonitorConfig()
GOODS = lot("lot-1", items=20)


def test_a_count_matches_within_the_scale_tolerance_and_is_short_below_it():
    book = registry(lots=[GOODS])
    assert shortfall(Inspection("lot-1", 20, Decimal("19.92"), 0), book, CONFIG) is None
    assert shortfall(Inspection("lot-1", 20, Decimal("19.8"), 0), book, CONFIG).startswith("short")
    assert shortfall(Inspection("lot-1", 19, Decimal(20), 0), book, CONFIG).startswith("short")


def test_a_thawed_perishable_count_does_not_match():
    book = registry(lots=[GOODS], perishable=True)
    assert "above" in shortfall(Inspection("lot-1", 20, Decimal(20), 0, temperature_c=-5), book, CONFIG)


def _drive(book, minutes, counts, present=lambda t: GOODS.epcs):
    rng, state, events = random.Random(1), MonitorState(), []
    for minute in range(minutes):
        now_s = minute * 60
        sample = noisy_sample(GOODS, rng, now_s, present=present(now_s))
        result = monitor.step(state, book, [message("gw-1", now_s, sample), message("gw-2", now_s)],
                              Market((tick(5000, now_s),)), now_s, CONFIG,
                              counts=[c for c in counts if c.at_s == now_s])
        state, events = result.state, events + list(result.events)
    return state, events


def test_a_short_count_opens_the_loss_at_once_and_values_what_was_counted():
    state, events = _drive(registry(lots=[GOODS]), 5, [Inspection("lot-1", 15, Decimal(15), 120)])
    [opened] = [e.alert for e in events if isinstance(e, AlertOpened)]
    assert (opened.type, opened.opened_at_s) == ("stock_shortfall", 120)
    assert state.valued["lot-1"].quantity == 15
    assert state.loan_views["loan-1"].collateral_value == Decimal("67500.00")  # 15 × 5000 × 0.9


def test_an_uninspected_theft_goes_overdue_once():
    config_deadline = CONFIG.inspection_deadline_s
    kept = frozenset(sorted(GOODS.epcs)[:-2])
    minutes = (config_deadline + 3600) // 60
    _, events = _drive(registry(lots=[GOODS]), minutes, [], present=lambda t: kept if t >= 600 else GOODS.epcs)
    late = [e.task for e in events if isinstance(e, InspectionOverdue)]
    assert [(t.lot_id, t.reasons, t.state) for t in late] == [("lot-1", ("unauthorized_removal",), "overdue")]
