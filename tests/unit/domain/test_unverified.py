"""Issue 12, findings 3–5: the rule of unverified collateral."""
import random
from decimal import Decimal

import pytest
from factory import ITEM_KG, loan, lot, message, noisy_sample, registry, tick

from backend.domain import monitor
from backend.domain.alerts import AlertOpened
from backend.domain.config import MonitorConfig
from backend.domain.monitor import Market, MonitorState
from backend.domain.observations import LotSample
from backend.domain.registry import UnverifiedSchedule
from backend.domain.unverified import Unverified, lending_share, next_episode

CONFIG = MonitorConfig()
GOODS = lot("lot-1", items=20)
FULL_KG = 20 * ITEM_KG
SCHEDULE = UnverifiedSchedule(3600, 86_400)


def _drive(book, minutes, sample_at, seed=3):
    rng, state, events = random.Random(seed), MonitorState(), []
    for minute in range(minutes):
        now_s = minute * 60
        sample = sample_at(now_s, rng)
        messages = [message("gw-1", now_s, sample)] if sample else []
        messages.append(message("gw-2", now_s))
        result = monitor.step(state, book, messages, Market((tick(5000, now_s),)), now_s, CONFIG)
        state, events = result.state, events + list(result.events)
    return state, [e.alert for e in events if isinstance(e, AlertOpened)]


def _without_weight(sample: LotSample) -> LotSample:
    return sample._replace(weight_kg=None)


@pytest.mark.parametrize("elapsed_s, share", [(0, "1"), (3600, "1"), (3600 + 41_400, "0.5000"),
                                              (86_400, "0"), (200_000, "0")])
def test_the_lending_share_holds_for_the_grace_then_falls_linearly_to_zero(elapsed_s, share):
    assert lending_share(Unverified(100, "scale dead"), SCHEDULE, 100 + elapsed_s) == Decimal(share)


def test_an_episode_keeps_its_start_ends_after_a_window_of_good_readings_and_a_drift_stays():
    first = next_episode(None, "scale dead", 60, 600)
    assert next_episode(first, "rfid dead", 120, 600) is first
    back = next_episode(first, None, 180, 600)
    assert (back.since_s, back.back_s) == (60, 180)            # on probation
    assert next_episode(back, None, 700, 600) is back
    assert next_episode(back, None, 780, 600) is None          # a window of good readings
    assert next_episode(back, "scale dead", 300, 600).back_s is None   # failed again
    drifted = next_episode(first, "scale drifting", 180, 600)
    assert (drifted.since_s, drifted.drifted) == (60, True)
    assert next_episode(drifted, None, 240, 600) is drifted
    assert next_episode(drifted, None, 10_000, 600) is drifted


def test_a_dead_scale_makes_the_lot_unverified_once_and_its_value_follows_the_schedule():
    book = registry(lots=[GOODS], loans=[loan(outstanding=40_000)])
    hours = 4
    state, opened = _drive(book, hours * 60, lambda t, rng: noisy_sample(GOODS, rng, t) if t < 600
                           else _without_weight(noisy_sample(GOODS, rng, t)))
    [alert] = [a for a in opened if a.type == "collateral_unverified"]
    since_s = alert.details["since_s"]
    assert alert.details["reason"] == "scale dead" and 600 < since_s <= 600 + 300
    assert alert.opened_at_s == since_s + CONFIG.confirmation_s
    view = state.loan_views["loan-1"]
    full = Decimal(20) * 5000 * Decimal("0.9")
    share = lending_share(Unverified(since_s, ""), SCHEDULE, (hours * 60 - 1) * 60)
    assert share < 1 and view.collateral_value == (full * share).quantize(Decimal("0.01"))
    assert view.unverified_lots == ("lot-1",)


def test_a_scale_reading_above_the_lot_is_unverified_and_stays_so_after_it_agrees_again():
    book = registry(lots=[GOODS])
    state, opened = _drive(book, 90, lambda t, rng: noisy_sample(
        GOODS, rng, t, weight_kg=FULL_KG * (1.05 if 1200 <= t < 2400 else 1.0)))
    [alert] = [a for a in opened if a.type == "collateral_unverified"]
    assert alert.details["reason"] == "scale drifting"
    assert state.unverified["lot-1"].drifted
    assert ("collateral_unverified", "lot-1") in state.alerts.active


def test_a_perishable_lot_without_temperature_data_is_unverified():
    book = registry(lots=[GOODS], perishable=True)
    _, opened = _drive(book, 40, lambda t, rng: noisy_sample(GOODS, rng, t)._replace(
        temperature_c=None if t >= 300 else -22.0))
    assert [a.details["reason"] for a in opened if a.type == "collateral_unverified"] == [
        "no temperature data"]


def test_a_loss_found_when_the_scale_returns_carries_the_blind_period():
    book = registry(lots=[GOODS], loans=[loan(outstanding=10_000)])

    def sample(t, rng):
        full = noisy_sample(GOODS, rng, t, weight_kg=FULL_KG if t < 1800 else FULL_KG * 0.6)
        return _without_weight(full) if 600 <= t < 3600 else full
    state, opened = _drive(book, 90, sample)
    [loss] = [a for a in opened if a.type == "weight_count_mismatch"]
    assert loss.details["blind_to_s"] == 3600 and 600 < loss.details["blind_from_s"] <= 900
    # valued at the weight the returning scale shows, without a further window
    assert state.valued["lot-1"].quantity < Decimal(13)


def test_a_quiet_lot_is_verified_and_raises_nothing():
    book = registry(lots=[GOODS], perishable=True)
    state, opened = _drive(book, 120, lambda t, rng: noisy_sample(GOODS, rng, t))
    assert opened == [] and state.unverified == {}
