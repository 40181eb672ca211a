"""The database watchers on in-memory stores: what they publish, to whom."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from fakes_monitoring import Clock, FakeAlerts, FakeRegistryStore, FakeStandings, alert_record, book

from backend.ports.feed import BusEvent
from backend.ports.monitor import StandingRecord
from backend.services.api_keys import Principal
from backend.services.events import AlertsWatcher, StandingsWatcher, visible_to
from backend.services.registry import RegistryService


class RecordingBus:
    def __init__(self) -> None:
        self.events: list[BusEvent] = []

    def publish(self, events) -> None:
        self.events.extend(events)


def standing(loan_id: str, ltv: str) -> StandingRecord:
    return StandingRecord(loan_id, "normal", Decimal(ltv), Decimal(72_000), Decimal(43_200), None, None, False, 0.0)


def test_the_standings_watcher_publishes_only_the_loans_whose_standing_changed():
    store, bus = FakeStandings(), RecordingBus()
    store.save([standing("loan-a", "0.55"), standing("loan-b", "0.55")])
    watcher = StandingsWatcher(standings=store, registry=RegistryService(FakeRegistryStore(book()), Clock()), bus=bus)
    watcher.prime()
    watcher.check()
    assert bus.events == []

    store.save([standing("loan-b", "0.61")])
    watcher.check()

    [event] = bus.events
    assert (event.type, event.lender, event.data["id"], event.data["ltv"]) == \
        ("loan.updated", "bank-b", "loan-b", Decimal("0.61"))


def test_the_alerts_watcher_publishes_new_alerts_and_the_monitors_resolutions_not_peoples():
    alerts, bus = FakeAlerts(), RecordingBus()
    alerts.add(alert_record("al-old"))
    watcher = AlertsWatcher(alerts, bus)
    watcher.prime()

    alerts.add(alert_record("al-new", lender="bank-b"))
    alerts.records["al-old"] = replace(alerts.records["al-old"], state="resolved", resolved_at_s=5.0)
    watcher.check()
    assert [(e.type, e.data["id"], e.lender) for e in bus.events] == \
        [("alert.opened", "al-new", "bank-b"), ("alert.resolved", "al-old", "bank-a")]

    bus.events.clear()
    alerts.resolve("al-new", "sup-1", 6.0)  # a person: the route published it
    watcher.check()
    assert bus.events == []


def test_a_lender_sees_only_its_own_events_and_staff_see_all():
    mine, theirs, gateway = (BusEvent("alert.opened", "bank-a", {}), BusEvent("alert.opened", "bank-b", {}),
                             BusEvent("gateway.status_changed", None, {}))
    lender, staff = visible_to(Principal("a", "lender", "bank-a")), visible_to(Principal("s", "supervisor"))
    assert [lender(e) for e in (mine, theirs, gateway)] == [True, False, False]
    assert [staff(e) for e in (mine, theirs, gateway)] == [True, True, True]
