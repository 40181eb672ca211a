"""InspectionService on in-memory ports: recording counts, and whose tasks a caller sees."""
from __future__ import annotations

from decimal import Decimal

import pytest
from fakes_monitoring import Clock, FakeAlerts, FakeInspections, FakeRegistryStore, alert_record, book

from backend.domain.config import MonitorConfig
from backend.services.inspections import InspectionService
from backend.services.registry import NotFound, RegistryService


@pytest.fixture
def parts():
    clock = Clock()
    alerts, counts = FakeAlerts(), FakeInspections()
    service = InspectionService(registry=RegistryService(FakeRegistryStore(book()), clock), alerts=alerts,
                                repo=counts, config=MonitorConfig(), clock=clock)
    return service, alerts, counts, clock


def test_record_refuses_an_unknown_lot_and_stores_nothing(parts):
    service, _, counts, _ = parts
    with pytest.raises(NotFound):
        service.record("lot-9", 10, Decimal(10), None, "", "supervisor")
    assert counts.rows == []


def test_record_stores_the_count_at_the_clocks_time_with_who_counted(parts):
    service, _, counts, clock = parts
    count_id, count = service.record("lot-1", 9, Decimal("9.5"), -20.0, "one crate damaged", "sup-1")
    assert count_id == 1
    assert (count.lot_id, count.items, count.quantity, count.at_s, count.note) == \
        ("lot-1", 9, Decimal("9.5"), clock(), "one crate damaged")
    assert counts.rows == [(1, count, "sup-1")]


def test_a_lender_sees_only_the_tasks_on_its_own_loans(parts):
    service, alerts, _, _ = parts
    alerts.add(alert_record("al-1", lot_id="lot-1", loan_id="loan-a", lender="bank-a"))
    alerts.add(alert_record("al-2", lot_id="lot-2", loan_id="loan-b", lender="bank-b"))

    assert [t.lot_id for t in service.tasks("bank-a")] == ["lot-1"]
    assert [t.lot_id for t in service.tasks("bank-b")] == ["lot-2"]
    assert sorted(t.lot_id for t in service.tasks()) == ["lot-1", "lot-2"]


def test_a_count_after_the_alert_closes_its_task(parts):
    service, alerts, _, clock = parts
    alerts.add(alert_record("al-1", lot_id="lot-1", opened_at_s=clock()))
    [task] = service.tasks()
    assert task.state == "open"

    clock.advance(60)
    service.record("lot-1", 10, Decimal(10), None, "", "sup-1")

    assert [t.state for t in service.tasks()] == ["done"]
