"""GET /api/v1/events on a real server: who receives which alert and loan events."""
from __future__ import annotations

import httpx
import pytest
from stream_helpers import (
    BOOK,
    KEYS,
    NORTH_LOANS,
    SOUTH_LOANS,
    Clock,
    Listener,
    api_keys,
    as_,
    report_everything_present,
    serving,
)

from backend.bootstrap import build_context
from backend.settings import BackendSettings


@pytest.fixture
def live(tmp_path):
    """The API with the demo book on a real server; the monitor is ticked by the test on a
    fake clock, the standings watcher runs as in production."""
    clock = Clock()
    settings = BackendSettings(data_dir=tmp_path / "data", book=BOOK, roles=["api", "monitor"],
                               api_keys=api_keys(), demo_mode=True)
    context = build_context(settings, clock)
    with serving(context) as base:
        context.standings_watcher.start()
        yield context, clock, base


def test_each_caller_receives_only_the_events_it_may_see(live):
    context, clock, base = live
    listeners = {who: Listener(f"{base}/api/v1/events", key) for who, key in KEYS.items()}
    for seq in range(1, 3):
        report_everything_present(context, clock, seq)
        context.monitor.tick()
        clock.now_s += 60

    for loan_id in NORTH_LOANS | SOUTH_LOANS:
        listeners["admin"].wait_for("loan.updated", id=loan_id)
    assert {e["id"] for e in listeners["bank-north"].of_type("loan.")} == NORTH_LOANS
    assert {e["id"] for e in listeners["bank-south"].of_type("loan.")} == SOUTH_LOANS

    refused = httpx.post(f"{base}/api/v1/loans/loan-acme-2/pledges", json={"lot": "lot-sh-1"},
                         headers=as_("admin"))
    assert refused.status_code == 409
    context.monitor.tick()
    opened = listeners["bank-north"].wait_for("alert.opened", type="double_pledge_attempt")
    assert opened["lot"] == "lot-sh-1" and opened["lender"] == "bank-north"
    listeners["admin"].wait_for("alert.opened", id=opened["id"])

    acked = httpx.post(f"{base}/api/v1/alerts/{opened['id']}/ack", json={"note": "calling acme"},
                       headers=as_("bank-north"))
    assert acked.status_code == 200
    listeners["admin"].wait_for("alert.acknowledged", id=opened["id"], state="acknowledged")
    listeners["bank-north"].wait_for("alert.acknowledged", id=opened["id"])
    assert listeners["bank-south"].of_type("alert.") == []

    context.events.close()
    for listener in listeners.values():
        listener.join()


def test_a_price_fall_streams_the_status_change_to_the_loans_lender(live):
    context, clock, base = live
    south = Listener(f"{base}/api/v1/events", KEYS["bank-south"])
    for seq in range(1, 3):
        report_everything_present(context, clock, seq)
        context.monitor.tick()
        clock.now_s += 60
    before = south.wait_for("loan.updated", id="loan-acme-2")
    posted = httpx.post(f"{base}/api/v1/prices", headers=as_("admin"),
                        json={"commodity": "steel_coil", "price": 3200, "currency": "CNY", "per": "t"})
    assert posted.status_code == 201
    report_everything_present(context, clock, 3)
    context.monitor.tick()
    changed = south.wait_for("loan.status_changed", id="loan-acme-2")
    assert changed["previous"] == "normal" and changed["status"] != "normal"
    after = south.wait_for("loan.updated", id="loan-acme-2", status=changed["status"])
    assert float(after["ltv"]) > float(before["ltv"])
    assert not [e for e in south.of_type("loan.") if e["id"] in NORTH_LOANS]


def test_the_stream_takes_the_key_only_from_the_authorization_header(live):
    _, _, base = live
    assert httpx.get(f"{base}/api/v1/events", timeout=5).status_code == 401
    assert httpx.get(f"{base}/api/v1/events", params={"key": KEYS["admin"]}, timeout=5).status_code == 401
    assert httpx.get(f"{base}/api/v1/events", params={"token": KEYS["admin"]}, timeout=5).status_code == 401


def test_gateways_going_online_and_offline_stream_to_staff_only(live):
    context, clock, base = live
    context.gateways_watcher.start()
    admin, north = Listener(f"{base}/api/v1/events", KEYS["admin"]), Listener(f"{base}/api/v1/events", KEYS["bank-north"])

    context.ledger.set_gateway_state("gw-shanghai", True, 7, {}, int(clock() * 1000))
    admin.wait_for("gateway.status_changed", id="gw-shanghai", online=True)
    context.ledger.set_gateway_state("gw-shanghai", False, 7, {}, int(clock() * 1000) + 1)
    admin.wait_for("gateway.status_changed", id="gw-shanghai", online=False)

    context.events.close()
    for listener in (admin, north):
        listener.join()
    assert north.of_type("gateway.") == []
