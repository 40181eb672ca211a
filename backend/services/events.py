"""Live changes for the dashboard: an in-process bus of alert and loan events.

Publishers (the monitor's `on_events`, the alert routes, the database watchers) may run on
any thread; on PostgreSQL the monitor and the alert routes publish through the live feed
(LISTEN/NOTIFY: backend/ports/feed.py), which brings every process's events to each API
process's bus; subscribers are asyncio consumers (one per open SSE stream) that each receive
only the events their caller may see. A subscriber too slow to keep up is ended; its client
reconnects and reloads what it shows, so nothing is silently half-delivered.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from abc import ABC, abstractmethod
from typing import Callable, Iterable, Mapping, Sequence

from backend.domain.alerts import Alert, AlertOpened, AlertResolved
from backend.domain.inspections import InspectionOpened, InspectionOverdue, InspectionRecorded
from backend.domain.monitor import LoanStatusChanged
from backend.domain.registry import Registry
from backend.ports.alerts import AlertRecord, AlertStore
from backend.ports.feed import BusEvent
from backend.ports.ingest import IngestLedger
from backend.ports.monitor import StandingRecord, StandingStore
from backend.services import access
from backend.services.api_keys import Principal
from backend.services.registry import RegistryService

log = logging.getLogger("pledgewatch.events")
alert_log = logging.getLogger("pledgewatch.alerts")
ALERT_FIELDS = ("id", "type", "severity", "state", "opened_at_s", "loan", "lot", "lender", "gateway")
STANDING_FIELDS = ("status", "ltv", "collateral_value", "drawing_power", "cure_deadline_s",
                   "cure_amount", "price_stale")


END = object()  # put on a subscriber's queue: its stream is over


class Subscription:
    def __init__(self, accepts: Callable[[BusEvent], bool], max_queued: int) -> None:
        self.accepts = accepts
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue(max_queued)

    async def next(self, timeout_s: float):
        """The next event, None after `timeout_s` of silence, or END."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout_s)
        except TimeoutError:
            return None

    def offer(self, item) -> None:
        """Runs on the subscriber's loop."""
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:  # too slow: drop what is queued and end the stream
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(END)


class EventBus:
    def __init__(self, max_queued: int = 1000) -> None:
        self.max_queued = max_queued
        self._subscriptions: set[Subscription] = set()
        self._lock = threading.Lock()

    def subscribe(self, accepts: Callable[[BusEvent], bool]) -> Subscription:
        """Call on the event loop that will consume the subscription."""
        subscription = Subscription(accepts, self.max_queued)
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def publish(self, events: Iterable[BusEvent]) -> None:
        """Thread-safe; never blocks the publisher."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for event in events:
            for subscription in subscriptions:
                if subscription.accepts(event):
                    self._send(subscription, event)

    def close(self) -> None:
        """End every open stream (the server is stopping)."""
        with self._lock:
            subscriptions, self._subscriptions = list(self._subscriptions), set()
        for subscription in subscriptions:
            self._send(subscription, END)

    @staticmethod
    def _send(subscription: Subscription, item) -> None:
        try:
            subscription.loop.call_soon_threadsafe(subscription.offer, item)
        except RuntimeError:  # its loop has closed: nobody is listening any more
            pass


def visible_to(caller: Principal) -> Callable[[BusEvent], bool]:
    """Staff see every event; a lender only those about its own loans and alerts."""
    if access.is_staff(caller):
        return lambda event: True
    return lambda event: event.lender is not None and event.lender == caller.lender


def alert_event(action: str, alert: Alert | AlertRecord) -> BusEvent:
    return BusEvent(f"alert.{action}", alert.lender,
                    {name: getattr(alert, name) for name in ALERT_FIELDS})


def log_alert(action: str, alert: Alert | AlertRecord, by: str | None = None) -> None:
    """One line per alert opened, acknowledged or resolved (with JSON logs, its fields too)."""
    about = " ".join(f"{name}={value}" for name in ("loan", "lot", "gateway", "lender")
                     if (value := getattr(alert, name)) is not None)
    alert_log.info("alert %s: %s %s %s%s", action, alert.type, alert.id, about, f" by {by}" if by else "",
                   extra={"alert": {**{name: getattr(alert, name) for name in ALERT_FIELDS}, "action": action,
                                    "by": by}})


def _lender_of(registry: Registry, loan_id: str) -> str | None:
    loan = registry.loans.get(loan_id)
    return loan.lender_id if loan else None


def monitor_events(events: Sequence[object], registry: Registry) -> list[BusEvent]:
    """The core's events as bus events."""
    out = []
    for event in events:
        if isinstance(event, AlertOpened):
            out.append(alert_event("opened", event.alert))
        elif isinstance(event, AlertResolved):
            out.append(alert_event("resolved", event.alert))
        elif isinstance(event, (InspectionOpened, InspectionOverdue)):
            change = "opened" if isinstance(event, InspectionOpened) else "overdue"
            out.append(BusEvent(f"inspection.{change}", event.task.lender_id, {
                "lot": event.task.lot_id, "loan": event.task.loan_id, "deadline_s": event.task.deadline_s}))
        elif isinstance(event, InspectionRecorded):
            out.append(BusEvent("inspection.recorded", registry.lender_of_lot(event.inspection.lot_id), {
                "lot": event.inspection.lot_id, "loan": event.loan_id, "matches": event.matches}))
        elif isinstance(event, LoanStatusChanged):
            out.append(BusEvent("loan.status_changed", _lender_of(registry, event.loan_id), {
                "id": event.loan_id, "previous": event.previous, "status": event.status,
                "ltv": event.ltv, "at_s": event.at_s}))
    return out


def monitor_listener(publish: Callable[[Iterable[BusEvent]], None], registry: RegistryService,
                     alerts: bool = True) -> Callable[[Sequence[object]], None]:
    """What to pass as MonitorService(on_events=...): logs the alerts the monitor opened and
    resolved, and publishes everything (but the alerts when `alerts` is False: an
    AlertsWatcher streams them from the database)."""

    def listen(events: Sequence[object]) -> None:
        for event in events:
            if isinstance(event, (AlertOpened, AlertResolved)):
                log_alert("opened" if isinstance(event, AlertOpened) else "resolved", event.alert)
        publish(monitor_events([e for e in events if alerts or not isinstance(e, (AlertOpened, AlertResolved))],
                               registry.snapshot()))

    return listen


class _DatabaseWatcher(ABC):
    """Calls `check` every `interval_s` on its own thread. It reads the database, so it
    also sees what a monitor running in another process wrote there."""

    name = "watcher"

    def __init__(self, bus: EventBus, interval_s: float) -> None:
        self.bus, self.interval_s = bus, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def start(self) -> None:
        self.prime()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def prime(self) -> None:
        """Take note of what is there now (it is not news)."""

    @abstractmethod
    def check(self) -> None:
        """Publish what changed since the last check."""

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # a database hiccup must not end live updates
                log.exception("%s: check failed", self.name)


class StandingsWatcher(_DatabaseWatcher):
    """Publishes `loan.updated` when a loan's stored standing changes (its LTV moves with
    every price and stock change, which the core reports only when the status changes)."""

    name = "standings-watcher"

    def __init__(self, *, standings: StandingStore, registry: RegistryService, bus: EventBus,
                 interval_s: float = 1.0) -> None:
        super().__init__(bus, interval_s)
        self.standings, self.registry = standings, registry
        self._last: dict[str, tuple] = {}

    def prime(self) -> None:
        self._last = self._current(self.standings.all())

    def check(self) -> None:
        records = self.standings.all()
        current = self._current(records)
        changed = [loan_id for loan_id, values in current.items() if self._last.get(loan_id) != values]
        self._last = current
        if changed:
            registry = self.registry.snapshot()
            self.bus.publish(self._loan_updated(records[loan_id], registry) for loan_id in changed)

    @staticmethod
    def _current(records: Mapping[str, StandingRecord]) -> dict[str, tuple]:
        return {loan_id: tuple(getattr(r, name) for name in STANDING_FIELDS) for loan_id, r in records.items()}

    @staticmethod
    def _loan_updated(record: StandingRecord, registry: Registry) -> BusEvent:
        data = {"id": record.loan_id, **{name: getattr(record, name) for name in STANDING_FIELDS}}
        return BusEvent("loan.updated", _lender_of(registry, record.loan_id), data)


class AlertsWatcher(_DatabaseWatcher):
    """For an API process whose monitor runs elsewhere: publishes `alert.opened` for alerts
    that appear in the database and `alert.resolved` for those the monitor resolves.
    People's acks and resolutions are published by the route that took them. An alert
    opened and resolved between two checks is not streamed (it is in the list)."""

    name = "alerts-watcher"

    def __init__(self, alerts: AlertStore, bus: EventBus, interval_s: float = 1.0) -> None:
        super().__init__(bus, interval_s)
        self.alerts = alerts
        self._active: set[str] = set()

    def prime(self) -> None:
        self._active = {record.id for record in self.alerts.active()}

    def check(self) -> None:
        active = {record.id: record for record in self.alerts.active()}
        events = [alert_event("opened", record) for alert_id, record in active.items()
                  if alert_id not in self._active]
        for alert_id in sorted(self._active - active.keys()):
            record = self.alerts.get(alert_id)
            if record is not None and record.state == "resolved" and record.resolved_by is None:
                events.append(alert_event("resolved", record))
        self._active = set(active)
        if events:
            self.bus.publish(events)


class GatewaysWatcher(_DatabaseWatcher):
    """Publishes `gateway.status_changed` (staff only) when a gateway first reports or goes
    online or offline: ingest keeps that state in its ledger, possibly in another process."""

    name = "gateways-watcher"

    def __init__(self, ledger: IngestLedger, bus: EventBus, interval_s: float = 1.0) -> None:
        super().__init__(bus, interval_s)
        self.ledger = ledger
        self._online: dict[str, bool] = {}

    def prime(self) -> None:
        self._online = self._current()

    def check(self) -> None:
        current = self._current()
        changed = sorted(gateway for gateway, online in current.items() if self._online.get(gateway) != online)
        self._online = current
        if changed:
            self.bus.publish(BusEvent("gateway.status_changed", None, {"id": gateway, "online": current[gateway]})
                             for gateway in changed)

    def _current(self) -> dict[str, bool]:
        return {status.gateway: status.online for status in self.ledger.gateways()}
