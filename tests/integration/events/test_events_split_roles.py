"""An API process whose monitor runs in another process (roles split, one database) still
streams the monitor's alerts: it learns of them from the database."""
from __future__ import annotations

import time

import httpx
from stream_helpers import BOOK, KEYS, Clock, Listener, api_keys, as_, report_everything_present, serving

from backend.bootstrap import build_context
from backend.settings import BackendSettings


def tick(monitor_side, clock, seq: int) -> None:
    """The devices report, the monitor ticks, a minute passes."""
    report_everything_present(monitor_side, clock, seq)
    monitor_side.monitor.tick()
    clock.now_s += 60


def tick_until(seen, monitor_side, clock, seq: int, ticks: int = 30) -> int:
    """Tick until `seen()` (the watcher polls every second); returns the last seq."""
    for _ in range(ticks):
        seq += 1
        tick(monitor_side, clock, seq)
        deadline = time.monotonic() + 3  # two of the watcher's polls, with room for a slow machine
        while time.monotonic() < deadline:
            if seen():
                return seq
            time.sleep(0.05)
    raise AssertionError("the expected event never came")


def post_price(base: str, price: int) -> None:
    posted = httpx.post(f"{base}/api/v1/prices", headers=as_("admin"),
                        json={"commodity": "steel_coil", "price": price, "currency": "CNY", "per": "t"})
    assert posted.status_code == 201, posted.text


def test_an_api_process_streams_the_alerts_of_a_monitor_running_elsewhere(tmp_path):
    clock = Clock()
    common = {"data_dir": tmp_path / "data", "book": BOOK, "api_keys": api_keys(), "demo_mode": True}
    monitor_side = build_context(BackendSettings(roles=["monitor"], **common), clock)
    api_side = build_context(BackendSettings(roles=["api"], **common), clock)
    assert api_side.monitor is None
    try:
        with serving(api_side) as base:
            api_side.alerts_watcher.start()
            listeners = {who: Listener(f"{base}/api/v1/events", key) for who, key in KEYS.items()}
            south, north = listeners["bank-south"], listeners["bank-north"]
            for seq in (1, 2):
                tick(monitor_side, clock, seq)
            assert south.of_type("alert.") == []

            post_price(base, 3200)                 # steel -20 %: loan-acme-2 (bank-south) warns
            seq = tick_until(lambda: south.of_type("alert.opened"), monitor_side, clock, seq)
            opened = south.wait_for("alert.opened", loan="loan-acme-2")
            assert (opened["type"], opened["lender"], opened["state"]) == ("ltv_warning", "bank-south", "open")
            listeners["admin"].wait_for("alert.opened", id=opened["id"])
            # The probe of the shrimp lot reports nothing here: its bank hears its monitoring failed.
            seq = tick_until(lambda: listeners["admin"].of_type("alert.opened")[1:], monitor_side, clock, seq)
            fault = listeners["admin"].wait_for("alert.opened", type="sensor_fault")
            assert (fault["lender"], fault["lot"]) == ("bank-south", "lot-nb-1")
            assert south.wait_for("alert.opened", id=fault["id"])

            post_price(base, 4000)                 # back: the monitor resolves it by itself
            tick_until(lambda: south.of_type("alert.resolved"), monitor_side, clock, seq)
            resolved = south.wait_for("alert.resolved", id=opened["id"])
            assert resolved["state"] == "resolved"
            assert north.of_type("alert.") == []
            assert [e["id"] for e in south.of_type("alert.opened") if e["loan"] == "loan-acme-2"] == [opened["id"]]  # once
    finally:
        monitor_side.close()
