"""What the event-stream tests share: the demo book's callers, field reports, a stream reader."""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from backend.api.app import create_app
from backend.book.naming import simulated_epcs
from backend.demo.ports import free_port
from backend.ports.ingest import AcceptedMessage
from backend.services.api_keys import hash_api_key
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
        assert self.connected.wait(15), "the event stream never opened"

    def _read(self, url: str, key: str) -> None:
        with httpx.stream("GET", url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as response:
            self.connected.set()
            event_type = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event_type = line[len("event: "):]
                elif line.startswith("data: "):
                    self.events.append((event_type, json.loads(line[len("data: "):])))

    def wait_for(self, event_type: str, timeout_s: float = 15, **fields) -> dict:
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
        self._thread.join(15)
        assert not self._thread.is_alive(), "the stream did not end when the server stopped"


def as_(who: str) -> dict:
    return {"Authorization": f"Bearer {KEYS[who]}"}


@contextmanager
def serving(context):
    """The app of `context` on a real server (uvicorn, free port): yields its base URL;
    closes the context and stops the server after."""
    server = uvicorn.Server(uvicorn.Config(create_app(context), host="127.0.0.1", port=free_port(),
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        context.close()
        server.should_exit = True
        thread.join(10)
