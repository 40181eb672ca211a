"""The monitor use case: feed new readings and prices to the pure core, keep what it says.

Each `tick` reads the readings stored since the last one, the new price marks and the
registry, calls `backend.domain.monitor.step`, and stores alerts and loan standings, and
the lot views that changed (what processes without a monitor guard releases on:
backend/domain/lot_views.py).
The core's state lives in memory; on start it is rebuilt from the database (open alerts,
loan standings) and refilled by the readings that follow. A monitor of one partition of the
book (backend/domain/partitions.py) judges that partition's sub-registry, raises only its
alerts and stores them only while its lease holds (services/partitions.py).
"""
from __future__ import annotations

import logging
import math
import threading
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from backend.domain import lot_views
from backend.domain import monitor as core
from backend.domain.alerts import Alert, AlertBook, AlertOpened, Condition, resolve
from backend.domain.config import MonitorConfig
from backend.domain.gateways import GatewayTrack
from backend.domain.inspections import tasks as inspection_tasks
from backend.domain.observations import GatewayMessage, LotSample, PriceTick, RfidRound
from backend.domain.partitions import Partition, sub_registry
from backend.domain.registry import Registry
from backend.domain.unverified import DRIFT, Unverified
from backend.metrics import Metrics
from backend.ports.alerts import AlertStore
from backend.ports.ingest import IngestLedger, ReadingQuery, ReadingStore, StoredReading
from backend.ports.lot_views import LotViewStore
from backend.ports.monitor import HistoryPoint, InspectionStore, LeaseFence, LeaseLost, StandingRecord, StandingStore
from backend.ports.prices import PriceMarkStore
from backend.services.background import WakeableLoop
from backend.services.cases import CaseBase
from backend.services.registry import RegistryService
from backend.services.sensor_owners import implicated_gateways

if TYPE_CHECKING:
    from backend.services.partitions import PartitionedMonitor

log = logging.getLogger("pledgewatch.monitor")
READINGS_PER_TICK = 50_000
WARM_UP_S = 600  # readings this recent are judged when the monitor starts
HISTORY_EVERY_S = 60  # a loan's history gets a point at least this often, and on every change
# Lot views stored a tick at most: a start or a takeover stores a large partition's over a few
# ticks (its tick time is not told until all are stored: releases on other processes wait).
VIEWS_PER_TICK = 10_000


def lot_samples(rows: Sequence[StoredReading], registry: Registry,
                on_poisoned: Callable[[StoredReading, Exception], None] = lambda row, exc: None
                ) -> dict[str, list[LotSample]]:
    """Live, trusted readings of registered sensors as per-lot samples, by gateway.

    Historical readings (a replayed backlog) never re-trigger live alerts; a `bad` reading
    carries no measurement, so to the core its sensor simply said nothing. A reading whose
    values cannot be read (or are not finite) is dropped and handed to `on_poisoned`.
    """
    merged: dict[tuple[str, str, int], dict] = {}
    for row in rows:
        sensor = registry.sensors.get(row.sensor)
        if row.historical or row.quality == "bad" or sensor is None or sensor.gateway_id != row.gateway:
            continue  # a sensor counts only as reported by its own gateway
        try:
            measured = _measurement(sensor.kind, row)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            on_poisoned(row, exc)
            continue
        merged.setdefault((sensor.gateway_id, sensor.lot_id, row.time_ms), {}).update(measured or {})
    by_gateway: dict[str, list[LotSample]] = defaultdict(list)
    for (gateway_id, lot_id, time_ms), fields in sorted(merged.items(), key=lambda kv: kv[0][2]):
        by_gateway[gateway_id].append(LotSample(lot_id, time_ms / 1000, **fields))
    return by_gateway


def _measurement(kind: str, row: StoredReading) -> dict | None:
    if kind == "rfid":
        return {"rfid": RfidRound(frozenset(str(tag["epc"]) for tag in row.values.get("tags", ())),
                                  row.time_ms / 1000)}
    field = {"scale": "weight_kg", "temperature": "temperature_c"}.get(kind)
    if field is None or field not in row.values:
        return None
    value = float(row.values[field])
    if not math.isfinite(value):
        raise ValueError(f"{field} is not finite: {value}")
    return {field: value}


def gateway_messages(samples: dict[str, list[LotSample]], received_at_s: float) -> list[GatewayMessage]:
    return [GatewayMessage(gateway_id, max(s.at_s for s in lot_samples_), received_at_s, True,
                           tuple(lot_samples_))
            for gateway_id, lot_samples_ in samples.items()]


class MonitorService:
    def __init__(self, *, registry: RegistryService, readings: ReadingStore, ledger: IngestLedger,
                 alerts: AlertStore, standings: StandingStore, prices: PriceMarkStore, config: MonitorConfig,
                 clock: Callable[[], float], metrics: Metrics,
                 on_events: Callable[[Sequence[object]], None] = lambda events: None,
                 fx_rates: Callable[[], Mapping[tuple[str, str], Decimal]] = dict,
                 inspections: InspectionStore | None = None, partition: Partition | None = None,
                 fence: LeaseFence | None = None, cursors: Mapping[str, int] | None = None,
                 cases: CaseBase | None = None, views: LotViewStore | None = None) -> None:
        """`partition`, `fence`: the part of the book this monitor watches, under which lease;
        `cursors`: where the partition's last owner got to (quarantine, inspections);
        `cases`: matches each new alert with the risk case base and opens its playbook;
        `views`: where it stores its lot views for processes without a monitor (lot_views.py)."""
        self.cases, self.views = cases, views
        self.registry, self.readings, self.ledger, self.alerts = registry, readings, ledger, alerts
        self.fx_rates = fx_rates
        self.standings, self.prices, self.config = standings, prices, config
        self.clock, self.metrics, self.on_events = clock, metrics, on_events
        self.partition, self.fence = partition, fence
        self._views: tuple[Registry | None, Registry | None] = (None, None)  # (whole, partition's)
        self._lock = threading.Lock()
        self._reading_cursor: int | None = None  # None: start with the warm-up window
        self._price_cursor = 0
        cursors = cursors or {}
        self._forged_cursor = cursors.get("forged", ledger.last_quarantine_id())
        self.inspections = inspections
        self._count_cursor = cursors.get("counts", inspections.last_id() if inspections else 0)
        self._people_checked_s = clock()
        self._last_history: dict[str, HistoryPoint] = {}
        self._view_source = lot_views.source_name(None if partition is None else (partition.index, partition.count))
        self._stored_views: dict[str, lot_views.LotReleaseView] = {}  # what the store has, by lot
        self._stored_prices: dict[str, PriceTick] = {}
        self._views_saved = False  # the first save drops what an earlier monitor of the source stored
        self._pledge_digests: dict[str, tuple[frozenset[str], str]] = {}  # lot id → (pledged EPCs, digest)
        self._view_inputs: dict[str, tuple] = {}  # lot id → what its last view was built from
        self._display_pending: set[str] = set()  # lots whose shown state moved since it was stored
        self.state = self._restored_state()

    def _restored_state(self) -> core.MonitorState:
        """Open alerts and loan standings from the database, so a restart opens nothing twice;
        unverified lots carry on their episode (its lending schedule does not start again);
        inspection tasks already announced are not announced again. A partition's monitor
        takes its partition's alerts (those a monitor before it raised)."""
        whole, registry = self._registries()
        active = {(a.type, a.subject): Alert(
            a.id, a.type, a.severity, a.state, int(a.opened_at_s), None,
            int(a.acknowledged_at_s) if a.acknowledged_at_s else None, a.loan, a.lot, a.lender,
            a.gateway, MappingProxyType(dict(a.details))) for a in self.alerts.active()
            if self.partition is None or self.partition.owns_alert(a.loan, a.lot, a.gateway, whole.loan_of_lot)}
        inspected = self.inspections.last_by_lot() if self.inspections else {}
        episodes = {a.lot: Unverified(a.details["since_s"], a.details["reason"],
                                      a.details["reason"] == DRIFT)
                    for a in active.values() if a.type == "collateral_unverified" and a.lot}
        # A gateway offline stays offline: silent since it was last heard, not since this start.
        silent = {a.gateway: GatewayTrack(a.opened_at_s - float(a.details.get("silent_s", 0)))
                  for a in active.values() if a.type == "gateway_offline" and a.gateway}
        pending = [task for task in inspection_tasks(active.values(), inspected, registry,
                                                     self.clock(), self.config) if task.state != "done"]
        return core.MonitorState(gateways=MappingProxyType(silent), alerts=AlertBook(MappingProxyType(active)),
                                 standings=MappingProxyType(self.standings.standings()),
                                 unverified=MappingProxyType(episodes),
                                 inspected=MappingProxyType(inspected),
                                 tasks=frozenset(task.lot_id for task in pending),  # told before the restart
                                 overdue=frozenset(task.lot_id for task in pending if task.state == "overdue"))

    def _registries(self) -> tuple[Registry, Registry]:
        """(the whole registry, the part this monitor watches), the part made once per version."""
        whole = self.registry.snapshot()
        if self.partition is None:
            return whole, whole
        if self._views[0] is not whole:
            self._views = (whole, sub_registry(whole, self.partition))
        return whole, self._views[1] or whole

    def _owns(self, whole: Registry) -> Callable[[Condition], bool] | None:
        partition = self.partition
        if partition is None:
            return None
        return lambda condition: partition.owns(condition, whole.loan_of_lot)

    def cursors(self) -> dict[str, int]:
        """Where this monitor got to in what it reads once (for the partition's next owner)."""
        return {"forged": self._forged_cursor, "counts": self._count_cursor}

    def tick(self) -> tuple[object, ...]:
        with self._lock:
            now_s = self.clock()
            whole, registry = self._registries()
            owns = self._owns(whole)
            rows = self._new_readings(now_s)
            marks = self.prices.after(self._price_cursor)
            if marks:
                self._price_cursor = marks[-1][0]
            state = self._apply_people_resolutions(self.state, now_s)
            samples = lot_samples(rows, registry, self._poisoned)
            messages = gateway_messages(samples, now_s) + self._forged_messages(registry)
            result = core.step(state, registry, messages,
                               core.Market(tuple(tick for _, tick in marks), self.fx_rates()), now_s, self.config,
                               self.registry.take_notices(owns), self._new_counts(), owns)
            self.state = result.state
            for error in result.errors:
                log.error("monitor: %s %s not evaluated: %s", error.stage, error.subject, error.error)
                self.metrics.monitor_errors.labels(error.stage).inc()
            events = self._store(result, registry, now_s)
            self._record_history(result.state, registry, now_s)
            self._store_views(result.state, registry, now_s)
        if events:
            self.on_events(events)
        return tuple(events)

    def _new_counts(self) -> list:
        """Inspections recorded since the last tick (by this process's API or another's)."""
        if self.inspections is None:
            return []
        rows = self.inspections.after(self._count_cursor)
        if rows:
            self._count_cursor = rows[-1][0]
        return [count for _, count in rows]

    def _poisoned(self, row: StoredReading, exc: Exception) -> None:
        log.error("monitor: reading %s of %s dropped: %s", row.id, row.sensor, exc)
        self.metrics.monitor_errors.labels("reading").inc()

    def _forged_messages(self, registry: Registry) -> list[GatewayMessage]:
        """Messages ingest refused as tampering (a bad signature, another gateway's sensors):
        the core reports tampering on the sender and on the foreign sensors' gateways."""
        forged = self.ledger.forged_since(self._forged_cursor)
        if forged:
            self._forged_cursor = forged[-1].quarantine_id
        return [GatewayMessage(gateway, m.received_at_ms / 1000, m.received_at_ms / 1000, False)
                for m in forged for gateway in sorted(implicated_gateways(m, registry))]

    def _new_readings(self, now_s: float) -> list[StoredReading]:
        if self._reading_cursor is None:  # first tick: what the last few minutes said
            query = ReadingQuery(from_ms=int((now_s - WARM_UP_S) * 1000), limit=READINGS_PER_TICK)
        else:
            query = ReadingQuery(after_id=self._reading_cursor, limit=READINGS_PER_TICK)
        rows = self.readings.query(query)
        if rows:
            self._reading_cursor = rows[-1].id
        return rows

    def _apply_people_resolutions(self, state: core.MonitorState, now_s: float) -> core.MonitorState:
        """A person closed an alert through the API: drop it from the book too."""
        book = state.alerts
        active_ids = {a.id for a in book.active.values()}
        for record in self.alerts.resolved_by_people_since(self._people_checked_s - 1):
            if record.id in active_ids:
                book, _ = resolve(book, record.id, int(now_s))
        self._people_checked_s = now_s
        return replace(state, alerts=book)

    def _with_matches(self, events: Sequence[object], registry: Registry, now_s: float) -> Sequence[object]:
        """The opened alerts with their case matches; without them if matching fails (an alert
        unsent for want of its matches would be worse than one sent without)."""
        if self.cases is None or not any(isinstance(e, AlertOpened) for e in events):
            return events
        try:
            return self.cases.attach_matches(events, registry, now_s)
        except Exception:
            log.exception("monitor: case matching failed; alerts stored without matches")
            self.metrics.monitor_errors.labels("cases").inc()
            return events

    def _open_playbooks(self, events: Sequence[object], registry: Registry, now_s: float) -> None:
        if self.cases is None:
            return
        try:
            self.cases.open_playbooks(events, registry, now_s)
        except Exception:
            log.exception("monitor: playbook tasks not opened")
            self.metrics.monitor_errors.labels("cases").inc()

    def _store(self, result: core.StepResult, registry: Registry, now_s: float) -> Sequence[object]:
        # Standings first: the banks' webhooks, written with the alerts, tell where the loan stands now.
        self.standings.save([StandingRecord(
            v.loan_id, v.status, v.ltv if v.ltv is None or v.ltv.is_finite() else None,
            v.collateral_value, v.drawing_power, v.cure_deadline_s, v.cure_amount, v.price_stale,
            now_s, v.market_value) for v in result.state.loan_views.values()])
        subjects = {alert.id: key[1] for key, alert in result.state.alerts.active.items()}
        events = self._with_matches(result.events, registry, now_s)
        opened = [e for e in events if isinstance(e, AlertOpened)]
        self.alerts.apply(events, subjects, self.fence)
        for event in opened:
            self.metrics.alerts_opened.labels(event.alert.type).inc()
        self._open_playbooks(events, registry, now_s)
        return events

    def _record_history(self, state: core.MonitorState, registry: Registry, now_s: float) -> None:
        points = []
        for loan_id, view in state.loan_views.items():
            lot_ids = registry.loans[loan_id].lot_ids
            valued = [state.valued[lot_id].quantity for lot_id in lot_ids if lot_id in state.valued]
            point = HistoryPoint(
                loan_id, now_s, view.status, view.ltv if view.ltv is None or view.ltv.is_finite() else None,
                view.collateral_value, sum(valued) if len(valued) == len(lot_ids) else None,
                sum((registry.pledged_quantity[lot_id] for lot_id in lot_ids), Decimal(0)))
            last = self._last_history.get(loan_id)
            if last is None or now_s - last.at_s >= HISTORY_EVERY_S or \
                    (last.status, last.ltv, last.observed_quantity) != (point.status, point.ltv, point.observed_quantity):
                points.append(point)
                self._last_history[loan_id] = point
        self.standings.append_history(points)

    def _store_views(self, state: core.MonitorState, registry: Registry, now_s: float) -> None:
        """The lot views that changed, the accepted prices that changed and this tick's time,
        for processes without a monitor (a failure is logged: they then refuse releases)."""
        if self.views is None:
            return
        try:
            changed, gone, prices, complete = self._view_changes(state, registry, now_s)
            self.views.save(self._view_source, now_s if complete else None, changed, gone=gone, prices=prices,
                            fence=self.fence, fresh=not self._views_saved)
        except Exception as exc:
            self._view_inputs.clear()  # the next tick builds every view again and stores what it must
            self._display_pending.clear()
            if isinstance(exc, LeaseLost):
                log.warning("monitor %s: lot views not stored, the lease moved on", self._view_source)
            else:
                log.exception("monitor %s: lot views not stored", self._view_source)
                self.metrics.monitor_errors.labels("lot_views").inc()
            return
        self._views_saved = True
        for view in changed:
            self._stored_views[view.lot_id] = view
        for lot_id in gone:
            del self._stored_views[lot_id]
        self._stored_prices.update((tick.commodity_id, tick) for tick in prices)

    def _view_changes(self, state: core.MonitorState, registry: Registry, now_s: float
                      ) -> tuple[list[lot_views.LotReleaseView], list[str], list[PriceTick], bool]:
        """(views to store, lots judged no more, accepted prices to store, whether that is all
        that changed). A lot whose view is built from the same inputs as at the last tick, and
        has nothing waiting to be shown, is passed over without building it (most lots at
        most ticks); beyond VIEWS_PER_TICK views to store, the rest wait for the next tick."""
        critical = lot_views.critical_by_lot(state.alerts.active.values())
        stored, inputs, pending = self._stored_views, self._view_inputs, self._display_pending
        digests, pledged_epcs, loan_of_lot = self._pledge_digests, registry.pledged_epcs, registry.loan_of_lot
        lot_tracks, episodes, lot_views_now = state.lots, state.unverified, state.lot_views
        changed, judged, complete = [], set(), True
        for lot_id in registry.lots:
            seen = lot_views_now.get(lot_id)
            if seen is None:
                continue
            judged.add(lot_id)
            pledged, track = pledged_epcs[lot_id], lot_tracks.get(lot_id)
            key = (seen, pledged, episodes.get(lot_id), critical.get(lot_id), loan_of_lot.get(lot_id),
                   track.probe.exposure_degree_min if track is not None else 0.0)
            if inputs.get(lot_id) == key and lot_id not in pending:
                continue
            if len(changed) >= VIEWS_PER_TICK:
                pending.add(lot_id)            # looked at again next tick
                complete = False
                continue
            inputs[lot_id] = key
            held = digests.get(lot_id)
            if held is None or (held[0] is not pledged and held[0] != pledged):
                held = digests[lot_id] = (pledged, lot_views.pledge_digest(lot_views.pledge_order(pledged)))
            view = lot_views.lot_release_view(state, registry, lot_id, held[1], key[3], now_s)
            if view is None:
                continue
            last = stored.get(lot_id)
            if lot_views.must_store(last, view):
                changed.append(view)
                pending.discard(lot_id)
            elif last is not None and replace(last, as_of_s=view.as_of_s) != view:
                pending.add(lot_id)            # only what is shown moved: stored once the minute is up
            else:
                pending.discard(lot_id)
        gone = list(stored.keys() - judged)
        for lot_id in inputs.keys() - judged:
            del inputs[lot_id]
            digests.pop(lot_id, None)
            pending.discard(lot_id)
        prices = [mark.accepted for commodity_id, mark in state.prices.items()
                  if mark.accepted is not None and self._stored_prices.get(commodity_id) != mark.accepted]
        return changed, gone, prices, complete

    def lot_view(self, lot_id: str):
        return self.state.lot_views.get(lot_id)

    def release_guard(self, lot_id: str) -> tuple[str | None, frozenset[str]]:
        """Why no goods may leave the lot now (or None), and its EPCs observed present."""
        registry, state = self.registry.snapshot(), self.state
        return (core.release_refusal(state, registry, lot_id, self.clock()),
                core.observed_present(state, registry, lot_id))

    def value_per_item(self, lot_id: str, loan_id: str) -> Decimal:
        registry = self.registry.snapshot()
        return core.value_per_item(self.state, registry, lot_id, registry.loans[loan_id], self.fx_rates())


class MonitorLoop(WakeableLoop):
    """Calls `tick` every `interval_s` on a named thread until stopped, and at once when
    woken (a new price mark: alert latency after a tick is not the interval); then each of
    `chores` (posting interest)."""

    def __init__(self, service: MonitorService | PartitionedMonitor, interval_s: float,
                 chores: Sequence[Callable[[], object]] = ()) -> None:
        super().__init__(name="monitor", every_s=interval_s, wait_first=True)
        self.service, self.interval_s, self.chores = service, interval_s, tuple(chores)

    def round(self) -> None:
        for work in (self.service.tick, *self.chores):
            try:
                work()
            except Exception:  # a bug must not stop monitoring, nor the chores after it
                log.exception("monitor %s failed", getattr(work, "__name__", "chore"))
