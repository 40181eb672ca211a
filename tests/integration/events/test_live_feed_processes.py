"""Two API processes and a monitor on one PostgreSQL: what the monitor raises, and what a
person does on one API process, reaches the event streams of the other at once, through
LISTEN/NOTIFY (no reload, no database polling for alerts)."""
from __future__ import annotations

import httpx
from stream_helpers import BOOK, KEYS, Clock, Listener, api_keys, as_, report_everything_present, serving

from backend.bootstrap import build_context
from backend.settings import BackendSettings


def test_an_acknowledgment_on_one_api_process_streams_on_the_other(tmp_path, postgres_server):
    clock = Clock()
    url = postgres_server.new_database()
    common = {"data_dir": tmp_path / "data", "book": BOOK, "api_keys": api_keys(), "demo_mode": True,
              "database_url": url}
    monitor_side = build_context(BackendSettings(roles=["monitor"], **common), clock)
    api_a = build_context(BackendSettings(roles=["api"], **common), clock)
    api_b = build_context(BackendSettings(roles=["api"], **common), clock)
    assert api_b.alerts_watcher is None and api_b.feed is not None  # alerts come by NOTIFY
    try:
        with serving(api_a) as base_a, serving(api_b) as base_b:
            for context in (api_a, api_b):
                context.start()
                assert context.feed.listening.wait(10)
            south = Listener(f"{base_b}/api/v1/events", KEYS["bank-south"])
            staff = Listener(f"{base_b}/api/v1/events", KEYS["admin"])
            for seq in (1, 2):
                report_everything_present(monitor_side, clock, seq)
                monitor_side.monitor.tick()
                clock.now_s += 60
            posted = httpx.post(f"{base_a}/api/v1/prices", headers=as_("admin"),  # steel -20 % on process a
                                json={"commodity": "steel_coil", "price": 3200, "currency": "CNY", "per": "t"})
            assert posted.status_code == 201, posted.text
            report_everything_present(monitor_side, clock, 3)
            monitor_side.monitor.tick()
            opened = south.wait_for("alert.opened", loan="loan-acme-2", type="ltv_warning")
            south.wait_for("loan.status_changed", id="loan-acme-2", status="warning")
            acked = httpx.post(f"{base_a}/api/v1/alerts/{opened['id']}/ack", headers=as_("admin"),
                               json={"note": "calling the borrower"})
            assert acked.status_code == 200, acked.text
            seen = south.wait_for("alert.acknowledged", id=opened["id"])
            assert seen["state"] == "acknowledged"
            staff.wait_for("alert.acknowledged", id=opened["id"])
            assert [e["id"] for e in south.of_type("alert.opened")] == [opened["id"]]  # once, not echoed
    finally:
        monitor_side.close()
