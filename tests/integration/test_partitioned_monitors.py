"""Monitors sharing the book through partition leases in the database (SQLite and
PostgreSQL): each partition watched by one monitor, a fair share each, and when one stops,
the other takes its partitions after the lease and carries on: no alert twice, none missed."""
from __future__ import annotations

from collections import Counter
from types import MappingProxyType

import pytest
from book_helpers import BOOK, DEMO_LOTS, Clock, report
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.adapters.db import tables as t
from backend.bootstrap import build_context
from backend.domain.alerts import Alert, AlertOpened
from backend.ports.monitor import LeaseFence, LeaseLost
from backend.settings import BackendSettings

PARTITIONS, LEASE_S = 4, 150
NINGBO_SILENT = {lot: spec for lot, spec in DEMO_LOTS.items() if spec[0] != "gw-ningbo"}


@pytest.fixture
def hosts(tmp_path, database_url):
    """Two monitor processes on one database (and one readings window), one clock."""
    clock = Clock()
    common = {"data_dir": tmp_path / "data", "database_url": database_url, "book": BOOK, "roles": ["monitor"],
              "monitor": {"partitions": PARTITIONS, "lease_s": LEASE_S}}
    contexts = [build_context(BackendSettings(**common), clock) for _ in range(2)]
    yield contexts, clock
    for context in contexts:
        context.close()


def minute(contexts, clock, seq: int, **kwargs) -> None:
    report(contexts[0], clock, seq, **kwargs)
    for context in contexts:
        context.partitioned_monitor.tick()
    clock.now_s += 60


def alert_keys(context) -> Counter:
    with context.alerts.engine.connect() as db:
        return Counter((row.type, row.subject) for row in db.execute(select(t.alerts)))


def test_two_monitors_share_the_partitions_and_one_takes_all_when_the_other_stops(hosts):
    (a, b), clock = hosts
    for seq in range(1, 4):
        minute([a, b], clock, seq, lots=NINGBO_SILENT)
    held = [a.partitioned_monitor.held(), b.partitioned_monitor.held()]
    assert sorted(held[0] + held[1]) == list(range(PARTITIONS)) and len(held[0]) == len(held[1]) == 2
    assert a.metrics.registry.get_sample_value("pw_monitor_partitions_owned") == 2
    seq = 4
    for _ in range(12):  # gw-ningbo silent: its alerts open before the takeover
        minute([a, b], clock, seq, lots=NINGBO_SILENT)
        seq += 1
    before = alert_keys(a)
    assert ("gateway_offline", "gw-ningbo") in before
    theft = {"lot-sh-1": 10}
    for _ in range(3):  # the theft starts; its confirmation is under way when `a` dies
        minute([a, b], clock, seq, lots=NINGBO_SILENT, missing=theft)
        seq += 1
    died_s, taken_s = clock(), None
    for _ in range(20):  # `a` ticks no more (as after kill -9)
        minute([b], clock, seq, lots=NINGBO_SILENT, missing=theft)
        seq += 1
        if taken_s is None and b.partitioned_monitor.held() == list(range(PARTITIONS)):
            taken_s = clock()
    assert taken_s is not None and taken_s - died_s <= LEASE_S + 2 * 60  # the lease, and a tick
    after = alert_keys(b)
    assert [key for key, n in after.items() if n > 1] == []  # no alert twice
    assert set(before) <= set(after)
    assert {key for key in after if key[1] == "lot-sh-1"} >= {("unauthorized_removal", "lot-sh-1")}


def test_a_monitor_whose_lease_was_taken_over_stores_nothing(hosts):
    (a, b), clock = hosts
    minute([a], clock, 1)
    fence = a.partitioned_monitor.services[0].fence
    clock.now_s += LEASE_S + 1  # `a` stalls past its lease
    minute([b], clock, 2)
    assert b.partitioned_monitor.held() == list(range(PARTITIONS))
    opened = AlertOpened(Alert("al-stale", "margin_call", "critical", "open", int(clock()), None, None,
                               "loan-acme-1", None, "bank-north", None, MappingProxyType({})))
    with pytest.raises(LeaseLost):
        a.alerts.apply([opened], {"al-stale": "loan-acme-1"}, fence)
    assert a.alerts.get("al-stale") is None
    b_fence = b.partitioned_monitor.services[0].fence
    a.alerts.apply([opened], {"al-stale": "loan-acme-1"}, b_fence)  # the holder's write goes in
    assert a.alerts.get("al-stale") is not None
    with pytest.raises(LeaseLost):
        a.alerts.apply([opened], {"al-stale": "loan-acme-1"}, LeaseFence(0, b_fence.owner, b_fence.token - 1))


def test_the_database_refuses_a_second_open_alert_of_one_condition(hosts):
    (a, _), clock = hosts

    def opened(alert_id: str, at_s: int) -> AlertOpened:
        return AlertOpened(Alert(alert_id, "margin_call", "critical", "open", at_s, None, None, "loan-acme-1",
                                 None, "bank-north", None, MappingProxyType({})))
    a.alerts.apply([opened("al-one", 100)], {"al-one": "loan-acme-1"})
    with pytest.raises(IntegrityError):
        a.alerts.apply([opened("al-two", 160)], {"al-two": "loan-acme-1"})
    assert a.alerts.get("al-two") is None
