"""MonitorService on in-memory ports: what a tick stores and reports."""
from __future__ import annotations

from decimal import Decimal

import pytest
from fakes_monitoring import (
    Clock,
    FakeAlerts,
    FakeInspections,
    FakeLedger,
    FakePriceMarks,
    FakeReadings,
    FakeRegistryStore,
    FakeStandings,
    book,
)

from backend.domain.alerts import AlertOpened
from backend.domain.config import MonitorConfig
from backend.domain.inspections import Inspection
from backend.domain.monitor import LoanStatusChanged
from backend.domain.observations import PriceTick
from backend.metrics import Metrics
from backend.services.monitor import HISTORY_EVERY_S, MonitorService
from backend.services.registry import RegistryService


class Rig:
    """A monitor on fakes; `restart()` builds a new one on the same stores."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.registry = RegistryService(FakeRegistryStore(book()), self.clock)
        self.alerts, self.standings, self.marks = FakeAlerts(), FakeStandings(), FakePriceMarks()
        self.counts, self.readings, self.ledger = FakeInspections(), FakeReadings(), FakeLedger()
        self.heard: list[tuple[object, ...]] = []
        self.metrics = Metrics()
        self.monitor = self.restart()

    def restart(self) -> MonitorService:
        self.monitor = MonitorService(
            registry=self.registry, readings=self.readings, ledger=self.ledger, alerts=self.alerts,
            standings=self.standings, prices=self.marks, config=MonitorConfig(), clock=self.clock,
            metrics=self.metrics, on_events=lambda events: self.heard.append(tuple(events)),
            inspections=self.counts)
        return self.monitor

    def price(self, price: int) -> None:
        self.marks.add(PriceTick("steel", Decimal(price), "CNY", "t", self.clock()), "manual")


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_a_tick_stores_every_loans_standing_and_a_history_point(rig):
    rig.price(8000)  # 10 t at 8000, haircut 10 %: 72,000 against 40,000 outstanding

    rig.monitor.tick()

    assert set(rig.standings.records) == {"loan-a", "loan-b"}
    standing = rig.standings.records["loan-a"]
    assert (standing.status, standing.collateral_value, standing.market_value) == \
        ("normal", Decimal("72000.00"), Decimal("80000.00"))
    assert standing.updated_at_s == rig.clock()
    assert [p.loan_id for p in rig.standings.points] == ["loan-a", "loan-b"]
    assert rig.standings.points[0].pledged_quantity == Decimal(10)


def test_opened_alerts_are_stored_and_the_same_events_go_to_on_events(rig):
    rig.price(4000)  # 36,000 of collateral for 40,000: liquidation

    events = rig.monitor.tick()

    opened = [e.alert for e in events if isinstance(e, AlertOpened)]
    assert sorted((a.type, a.loan) for a in opened) == [("liquidation", "loan-a"), ("liquidation", "loan-b")]
    assert {r.id: (r.state, r.subject) for r in rig.alerts.active()} == {a.id: ("open", a.loan) for a in opened}
    assert rig.heard == [events]
    assert {e.loan_id for e in events if isinstance(e, LoanStatusChanged)} == {"loan-a", "loan-b"}


def test_a_quiet_tick_tells_on_events_nothing(rig):
    rig.price(8000)
    rig.monitor.tick()
    rig.heard.clear()

    assert rig.monitor.tick() == ()
    assert rig.heard == []


def test_a_short_count_opens_a_stock_shortfall_on_the_lot_at_once(rig):
    rig.price(8000)
    rig.monitor.tick()
    rig.counts.add(Inspection("lot-1", 5, Decimal(5), rig.clock()), "supervisor")
    rig.clock.advance(1)

    rig.monitor.tick()

    [shortfall] = [r for r in rig.alerts.active() if r.type == "stock_shortfall"]
    assert (shortfall.lot, shortfall.loan, shortfall.lender, shortfall.subject) == ("lot-1", "loan-a", "bank-a", "lot-1")


def test_a_restarted_monitor_opens_nothing_twice(rig):
    rig.price(4000)
    rig.monitor.tick()
    stored = set(rig.alerts.records)

    rig.restart()
    rig.clock.advance(5)
    events = rig.monitor.tick()

    assert not [e for e in events if isinstance(e, AlertOpened)]
    assert set(rig.alerts.records) == stored


def test_history_gets_a_point_a_minute_when_nothing_changes(rig):
    rig.price(8000)
    rig.monitor.tick()
    rig.clock.advance(HISTORY_EVERY_S / 2)
    rig.monitor.tick()
    assert len(rig.standings.points) == 2  # one per loan, from the first tick

    rig.clock.advance(HISTORY_EVERY_S / 2)
    rig.monitor.tick()
    assert len(rig.standings.points) == 4


def test_a_reading_that_cannot_be_read_is_dropped_and_counted(rig):
    rig.price(8000)
    now_ms = int(rig.clock() * 1000)
    rig.readings.add("gw-1", "lot-1-scale", "scale", now_ms, {"weight_kg": float("nan")})

    rig.monitor.tick()

    assert rig.metrics.monitor_errors.labels("reading")._value.get() == 1
    assert rig.standings.records["loan-a"].status == "normal"



class Cases:
    """The case base as the monitor sees it: tags each opened alert, or fails when `broken`."""

    def __init__(self, broken: bool = False) -> None:
        self.broken, self.playbooks_for = broken, []

    def attach_matches(self, events, registry, now_s):
        if self.broken:
            raise RuntimeError("case store down")
        return [AlertOpened(e.alert, ("match",)) if isinstance(e, AlertOpened) else e for e in events]

    def open_playbooks(self, events, registry, now_s):
        if self.broken:
            raise RuntimeError("case store down")
        self.playbooks_for += [e.alert.id for e in events if isinstance(e, AlertOpened) and e.matches]


def test_opened_alerts_carry_their_matches_and_open_playbooks_after_they_are_stored(rig):
    rig.monitor.cases = cases = Cases()
    rig.price(4000)
    events = rig.monitor.tick()
    opened = [e for e in events if isinstance(e, AlertOpened)]
    assert opened and all(e.matches == ("match",) for e in opened) and rig.heard == [events]
    assert cases.playbooks_for == [e.alert.id for e in opened] == [r.id for r in rig.alerts.active()]


def test_a_failing_case_base_never_holds_an_alert_back(rig):
    rig.monitor.cases = Cases(broken=True)
    rig.price(4000)
    events = rig.monitor.tick()
    assert sorted(r.type for r in rig.alerts.active()) == ["liquidation", "liquidation"]
    assert all(e.matches == () for e in events if isinstance(e, AlertOpened))
    assert rig.metrics.monitor_errors.labels("cases")._value.get() == 2
