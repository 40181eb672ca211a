"""The live feed on PostgreSQL LISTEN/NOTIFY (port: backend.ports.feed.LiveFeed).

Each event is one NOTIFY on the channel `pw_events` (a JSON payload well under the 8,000
bytes PostgreSQL allows, tagged with the sending process); every API process LISTENs on
its own connection and hands what the others sent to its in-process bus (its own events
are on it already).
NOTIFY is not durable: a listener that reconnects has missed what was sent meanwhile, as
a dashboard that reconnects reloads what it shows.
"""
from __future__ import annotations

import json
import logging
import secrets
import threading
from typing import Callable, Iterable

import psycopg
from sqlalchemy.engine import make_url

from backend.ports.feed import BusEvent

log = logging.getLogger("pledgewatch.feed")
CHANNEL = "pw_events"
MAX_PAYLOAD = 7_900


def conninfo(database_url: str) -> str:
    """psycopg's connection string for a SQLAlchemy URL (postgresql+psycopg://...)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def encode(event: BusEvent, origin: str) -> str:
    return json.dumps({"origin": origin, "type": event.type, "lender": event.lender, "data": dict(event.data)},
                      default=str, separators=(",", ":"))  # Decimal as a string, as the stream sends it


def decode(payload: str) -> tuple[str, BusEvent]:
    """(the sending process, the event)"""
    fields = json.loads(payload)
    return fields["origin"], BusEvent(fields["type"], fields["lender"], fields["data"])


class PgNotifyFeed:
    def __init__(self, database_url: str, *, retry_s: float = 1.0) -> None:
        self.conninfo, self.retry_s = conninfo(database_url), retry_s
        self.origin = secrets.token_hex(8)
        self._lock = threading.Lock()
        self._sender: psycopg.Connection | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while LISTEN is in place (tests wait for it)

    def publish(self, events: Iterable[BusEvent]) -> None:
        payloads = [encode(event, self.origin) for event in events]
        big = [p for p in payloads if len(p.encode()) > MAX_PAYLOAD]
        if big:
            log.warning("live feed: %d events too big for NOTIFY, not streamed", len(big))
        payloads = [p for p in payloads if p not in big]
        if not payloads:
            return
        with self._lock:
            for attempt in (1, 2):  # once more on a fresh connection after a broken one
                try:
                    if self._sender is None or self._sender.closed:
                        self._sender = psycopg.connect(self.conninfo, autocommit=True)
                    with self._sender.transaction():  # delivered together, at commit
                        for payload in payloads:
                            self._sender.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                    return
                except psycopg.Error as exc:
                    self._sender = None
                    if attempt == 2:
                        log.warning("live feed: %d events not streamed: %s", len(payloads), exc)

    def start(self, deliver: Callable[[list[BusEvent]], None]) -> None:
        self._thread = threading.Thread(target=self._listen, args=(deliver,), name="live-feed", daemon=True)
        self._thread.start()

    def _listen(self, deliver: Callable[[list[BusEvent]], None]) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as db:
                    db.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    while not self._stop.is_set():
                        for notice in db.notifies(timeout=0.5):  # each as it comes, for half a second
                            self._deliver(deliver, notice.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("live feed: listening again in %.0f s: %s", self.retry_s, exc)
                self._stop.wait(self.retry_s)

    def _deliver(self, deliver: Callable[[list[BusEvent]], None], payload: str) -> None:
        try:
            origin, event = decode(payload)
            if origin != self.origin:
                deliver([event])
        except Exception:  # a bad payload or a subscriber's bug must not end the feed
            log.exception("live feed: an event not delivered")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            if self._sender is not None:
                self._sender.close()
