"""API and monitor in separate processes on one database (SQLite and PostgreSQL): what one
writes to the registry, the other acts on — pledges refused, repayments, new lots."""
from __future__ import annotations

import pytest
from book_helpers import BOOK, Clock, api_keys, as_, report  # noqa: E402
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.bootstrap import build_context
from backend.settings import BackendSettings


@pytest.fixture
def split(tmp_path, database_url):
    """(api side, its client, monitor side, clock): two contexts, as two processes would be."""
    clock = Clock()
    common = {"data_dir": tmp_path / "data", "database_url": database_url, "book": BOOK,
              "api_keys": api_keys()}
    monitor_side = build_context(BackendSettings(roles=["monitor"], **common), clock)
    api_side = build_context(BackendSettings(roles=["api"], **common), clock)
    yield api_side, TestClient(create_app(api_side)), monitor_side, clock
    api_side.close()
    monitor_side.close()


def test_a_pledge_refused_by_the_api_raises_its_alert_in_the_monitor(split):
    api_side, client, monitor_side, clock = split
    refused = client.post("/api/v1/loans/loan-acme-2/pledges", json={"lot": "lot-sh-1"},
                          headers=as_("admin"))
    assert refused.status_code == 409
    monitor_side.monitor.tick()
    [alert] = client.get("/api/v1/alerts", params={"type": "double_pledge_attempt"},
                         headers=as_("bank-north")).json()
    assert (alert["lender"], alert["lot"]) == ("bank-north", "lot-sh-1")
    clock.now_s += 60
    monitor_side.monitor.tick()                # a notice is raised once, not at every tick
    assert len(client.get("/api/v1/alerts", params={"type": "double_pledge_attempt"},
                          headers=as_("admin")).json()) == 1


def test_a_repayment_through_the_api_moves_the_ltv_the_monitor_computes(split):
    api_side, client, monitor_side, clock = split
    for seq in (1, 2):
        report(monitor_side, clock, seq)
        monitor_side.monitor.tick()
        clock.now_s += 60
    before = monitor_side.standings.all()["loan-acme-1"]
    paid = client.post("/api/v1/loans/loan-acme-1/repayments", json={"amount": "100000"},
                       headers=as_("admin"))
    assert paid.status_code in (200, 201), paid.text
    report(monitor_side, clock, 3)
    monitor_side.monitor.tick()
    after = monitor_side.standings.all()["loan-acme-1"]
    assert after.ltv < before.ltv
    assert monitor_side.registry.snapshot().loans["loan-acme-1"].outstanding == \
        api_side.registry.snapshot().loans["loan-acme-1"].outstanding
