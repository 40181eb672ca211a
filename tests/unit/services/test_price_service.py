"""The market side on in-memory ports: the price guard, FX rates, the feed runner, the
what-if revaluation, and the feeds' settings."""
from __future__ import annotations

import logging
import math
from decimal import Decimal

import pytest
from fakes_monitoring import Clock, FakePolledSource, FakePriceMarks, FakePushedSource, book
from pydantic import ValidationError

from backend.domain.config import MonitorConfig
from backend.ports.prices import FxMark, FxQuote, PriceQuote
from backend.services.prices import FxRates, PriceFeedRunner, PriceRejected, PriceService, ewma_volatility
from backend.services.prices_config import PriceSettings
from backend.services.prices_preview import impact


class Rig:
    def __init__(self) -> None:
        self.clock, self.marks, self.registry = Clock(), FakePriceMarks(), book()
        self.woken = 0
        self.service = PriceService(marks=self.marks, registry=lambda: self.registry, clock=self.clock,
                                    future_tolerance_s=60.0, on_mark=self._wake)

    def _wake(self) -> None:
        self.woken += 1

    def steel(self, price: str, at_s: float | None = None, currency: str = "CNY", per: str = "t") -> PriceQuote:
        return PriceQuote("steel", Decimal(price), currency, per, self.clock() if at_s is None else at_s)


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_a_good_quote_is_stored_as_a_mark_and_wakes_the_monitor(rig):
    mark_id = rig.service.submit(rig.steel("4100.5"), "manual")
    assert rig.marks.marks == [(mark_id, rig.marks.latest("steel"), "manual")]
    assert rig.service.latest_price("steel") == Decimal("4100.5")
    assert rig.woken == 1


@pytest.mark.parametrize("price", ["NaN", "0", "-1", "1e15", "Infinity"])
def test_a_price_no_market_could_quote_is_refused(rig, price):
    with pytest.raises(PriceRejected):
        rig.service.submit(rig.steel(price), "feed")
    assert rig.marks.marks == [] and rig.woken == 0


def test_quotes_from_the_future_older_than_the_latest_or_repeated_are_refused(rig):
    rig.service.submit(rig.steel("4000"), "feed")
    for quote in (rig.steel("4000", rig.clock() + 61), rig.steel("4001", rig.clock() - 1), rig.steel("4000")):
        with pytest.raises(PriceRejected):
            rig.service.submit(quote, "feed")
    assert len(rig.marks.marks) == 1
    rig.service.submit(rig.steel("4000", rig.clock() + 59), "feed")  # within the tolerance
    assert len(rig.marks.marks) == 2


def test_a_quote_the_book_cannot_value_is_refused(rig):
    for quote in (PriceQuote("copper", Decimal(1), "CNY", "t", rig.clock()), rig.steel("4000", currency="cny"),
                  rig.steel("4000", per="lb")):
        with pytest.raises(PriceRejected):
            rig.service.submit(quote, "feed")
    rig.service.submit(rig.steel("4.1", per="kg"), "feed")  # kg values tonnes


def test_a_foreign_currency_price_needs_an_fx_rate_first(rig):
    with pytest.raises(PriceRejected, match="no FX rate from USD to CNY"):
        rig.service.submit(rig.steel("560", currency="USD"), "feed")
    rig.service.submit(FxQuote("USD", "CNY", Decimal("7.1"), rig.clock()), "manual")
    rig.service.submit(rig.steel("560", currency="USD"), "feed")
    assert rig.marks.latest_fx("USD", "CNY") == FxMark("USD", "CNY", Decimal("7.1"), rig.clock())
    assert rig.service.fx_rates() == {("USD", "CNY"): Decimal("7.1")}


def test_an_fx_pair_needs_two_currencies(rig):
    with pytest.raises(PriceRejected):
        rig.service.submit(FxQuote("CNY", "CNY", Decimal(1), rig.clock()), "manual")


def test_history_and_latest_come_from_the_marks(rig):
    start = rig.clock()
    for n, price in enumerate(("4000", "4010", "4020")):
        rig.clock.now_s = start + n
        rig.service.submit(rig.steel(price), f"feed-{n}")
    assert [(t.price, source) for t, source in rig.service.history("steel", start + 1, start + 10, 10)] == \
        [(Decimal("4010"), "feed-1"), (Decimal("4020"), "feed-2")]
    assert rig.service.latest("steel").price == Decimal("4020")
    assert rig.service.latest("copper") is None


def test_fx_rates_hold_a_wild_rate_as_an_outlier(rig):
    rates = FxRates(rig.marks, MonitorConfig())
    rig.marks.add_fx(FxMark("USD", "CNY", Decimal("7.1"), rig.clock()), "feed")
    assert rates() == {("USD", "CNY"): Decimal("7.1")}
    rig.marks.add_fx(FxMark("USD", "CNY", Decimal("71"), rig.clock() + 1), "feed")
    assert rates() == {("USD", "CNY"): Decimal("7.1")}


def test_the_runner_polls_what_is_due_and_a_failing_source_does_not_stop_the_others(rig, caplog):
    broken, vendor = FakePolledSource("broken", interval_s=5), FakePolledSource("vendor", interval_s=10)
    broken.failing = True
    vendor.pending = [rig.steel("4000"), rig.steel("NaN")]
    runner = PriceFeedRunner([broken, vendor], rig.service, rig.clock)

    with caplog.at_level(logging.WARNING, logger="pledgewatch.prices"):
        wait_s = runner.run_due()

    assert [t.price for _, t, _ in rig.marks.marks] == [Decimal("4000")]  # the NaN refused
    assert "broken failed" in caplog.text and "quote refused" in caplog.text
    assert wait_s == 5
    rig.clock.advance(5)
    runner.run_due()
    assert (len(broken.polls), len(vendor.polls)) == (2, 1)


def test_a_pushed_source_is_started_with_the_guard_and_stopped(rig):
    pushed = FakePushedSource("mqtt")
    runner = PriceFeedRunner([pushed], rig.service, rig.clock)
    runner.start()
    pushed.emit(rig.steel("4000"), "mqtt")
    assert pushed.emit(rig.steel("-4"), "mqtt") is None
    runner.stop()
    assert pushed.stopped and [s for _, _, s in rig.marks.marks] == ["mqtt"]


def test_ewma_volatility():
    assert ewma_volatility([100.0]) is None
    assert ewma_volatility([100.0, 0.0]) is None
    assert ewma_volatility([100.0, 100.0, 100.0]) == 0.0
    assert ewma_volatility([100.0, 110.0]) == pytest.approx(math.log(1.1))


def test_impact_without_a_monitor_revalues_the_book_at_the_latest_marks(rig):
    rig.service.submit(rig.steel("8000"), "manual")  # 72,000 of lending value for 40,000: normal
    crash = rig.steel("4000")

    answer = impact(crash, registry=rig.registry, prices=rig.service, monitor=None)

    assert answer["loans_revalued"] == 2
    assert {(c["loan"], c["zone_now"], c["zone_then"]) for c in answer["zone_changes"]} == \
        {("loan-a", "normal", "liquidation"), ("loan-b", "normal", "liquidation")}
    assert rig.marks.marks[-1][1].price == Decimal("8000")  # nothing stored


def test_price_settings_refuse_two_feeds_for_one_commodity():
    source = {"kind": "simulated", "commodity": "steel", "currency": "CNY"}
    with pytest.raises(ValidationError, match="two price sources quote steel"):
        PriceSettings(sources=[{**source, "name": "a"}, {**source, "name": "b"}])
    with pytest.raises(ValidationError, match="BASE/QUOTE"):
        PriceSettings(sources=[{"kind": "simulated", "name": "fx", "fx_pair": "USDCNY"}])
