"""GET /api/v1/events on a real server: who receives which alert and loan events."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from backend.api.app import create_app
from backend.bootstrap import build_context
from backend.demo.ports import free_port
from backend.ports import AcceptedMessage
from backend.services.api_keys import hash_api_key
from backend.services.book import simulated_epcs
from backend.settings import BackendSettings
from edge import protocol

BOOK = Path(__file__).resolve().parents[3] / "seeds" / "demo.yaml"
KEYS = {"admin": "k-admin", "bank-north": "k-north", "bank-south": "k-south"}
LOTS = {"lot-sh-1": ("gw-shanghai", 40, 12_500.0), "lot-sh-2": ("gw-shanghai", 24, 15_000.0),
        "lot-qd-1": ("gw-qingdao", 60, 2_500.0), "lot-qd-2": ("gw-qingdao", 30, 12_500.0),
        "lot-nb-1": ("gw-ningbo", 50, 1_000.0)}
NORTH_LOANS, SOUTH_LOANS = {"loan-acme-1", "loan-river-1"}, {"loan-acme-2", "loan-delta-1"}


class Clock:
    now_s = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now_s


def api_keys() -> list[dict]:
    return [{"name": "admin", "role": "admin", "key_hash": hash_api_key(KEYS["admin"])}] + [
        {"name": lender, "role": "lender", "lender": lender, "key_hash": hash_api_key(KEYS[lender])}
        for lender in ("bank-north", "bank-south")]


def report_everything_present(context, clock, seq: int) -> None:
    """Every lot's scale and reader see all of its goods (the last digit moving, as real ones do)."""
    now_ms = int(clock() * 1000)
    by_gateway: dict[str, list] = {}
    for lot_id, (gateway, items, item_kg) in LOTS.items():
        by_gateway.setdefault(gateway, []).extend([
            protocol.Reading(f"{lot_id}-scale", "weight", now_ms, {"weight_kg": items * item_kg + seq % 3 / 10}),
            protocol.Reading(f"{lot_id}-rfid", "rfid", now_ms,
                             {"tags": [{"epc": epc} for epc in simulated_epcs(lot_id, items)]})])
    context.readings.append([AcceptedMessage(protocol.Envelope(gw, 1, seq, now_ms, tuple(rs)), now_ms,
                                             now_ms - 300_000) for gw, rs in by_gateway.items()])


class Listener:
    """Reads one caller's event stream on a thread and keeps the parsed events."""

    def __init__(self, url: str, key: str) -> None:
        self.events: list[tuple[str, dict]] = []
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, key), daemon=True)
        self._thread.start()
        assert self.connected.wait(5), "the event stream never opened"

    def _read(self, url: str, key: str) -> None:
        with httpx.stream("GET", url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as response:
            self.connected.set()
            event_type = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event_type = line[len("event: "):]
                elif line.startswith("data: "):
                    self.events.append((event_type, json.loads(line[len("data: "):])))

    def wait_for(self, event_type: str, timeout_s: float = 5, **fields) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for seen_type, data in list(self.events):
                if seen_type == event_type and all(data.get(k) == v for k, v in fields.items()):
                    return data
            time.sleep(0.05)
        raise AssertionError(f"no {event_type} {fields} within {timeout_s}s; got {self.events}")

    def of_type(self, prefix: str) -> list[dict]:
        return [data for seen_type, data in list(self.events) if seen_type.startswith(prefix)]

    def join(self) -> None:
        self._thread.join(5)
        assert not self._thread.is_alive(), "the stream did not end when the server stopped"


@pytest.fixture
def live(tmp_path):
    """The API with the demo book on a real server (uvicorn, free port); the monitor is
    ticked by the test on a fake clock, the standings watcher runs as in production."""
    clock = Clock()
    settings = BackendSettings(data_dir=tmp_path / "data", book=BOOK, roles=["api", "monitor"],
                               api_keys=api_keys(), demo_mode=True)
    context = build_context(settings, clock)
    server = uvicorn.Server(uvicorn.Config(create_app(context), host="127.0.0.1", port=free_port(),
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    context.standings_watcher.start()
    yield context, clock, f"http://127.0.0.1:{server.config.port}"
    context.close()
    server.should_exit = True
    thread.join(10)


def as_(who: str) -> dict:
    return {"Authorization": f"Bearer {KEYS[who]}"}


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
