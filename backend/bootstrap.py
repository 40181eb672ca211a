"""Wiring: the one place where settings become adapters, services and the app."""
from __future__ import annotations

import gc
import logging
import os
import secrets
import signal
import socket
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Callable, Iterable

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend.adapters.data_keys import data_dir_key
from backend.adapters.db.access_repo import SqlApiKeys, SqlAuditLog
from backend.adapters.db.cases_repo import SqlCases, SqlPlaybooks
from backend.adapters.db.engine import make_engine, migrate
from backend.adapters.db.evidence_repo import SqlEnvelopeArchive, SqlEvidenceLog
from backend.adapters.db.inbox_repo import SqlAlertInbox, SqlSilences
from backend.adapters.db.inspections_repo import SqlInspections
from backend.adapters.db.lease_repo import SqlPartitionLeases
from backend.adapters.db.ledger_repo import SqlIngestLedger
from backend.adapters.db.lot_views_repo import SqlLotViews
from backend.adapters.db.money_repo import SqlCollateral, SqlMoney
from backend.adapters.db.monitor_repo import SqlAlerts, SqlPriceMarks, SqlStandings
from backend.adapters.db.readings_window_repo import SqlReadingWindow
from backend.adapters.db.registry_repo import SqlRegistry
from backend.adapters.db.releases_repo import SqlReleases
from backend.adapters.db.reports_repo import SqlReports
from backend.adapters.db.risk_repo import SqlRiskHistory
from backend.adapters.db.rotated_keys_repo import SqlRotatedKeys
from backend.adapters.document_signer import Ed25519DocumentSigner
from backend.adapters.jetstream_ingest import JetStreamIngest
from backend.adapters.mqtt_commands import MqttCommands
from backend.adapters.mqtt_ingest import MqttIngest
from backend.adapters.pg_feed import PgNotifyFeed
from backend.adapters.price_sources.csv_replay import CsvReplaySource
from backend.adapters.price_sources.http_json import HttpJsonSource
from backend.adapters.price_sources.mqtt_topic import MqttPriceSource
from backend.adapters.price_sources.simulated import SimulatedSource
from backend.adapters.report_render import PdfFontMissing, ReportRenderer
from backend.adapters.sqlite_ledger import SqliteIngestLedger
from backend.adapters.sqlite_readings import SqliteReadingStore
from backend.adapters.webhook_cloudevents import StandardWebhooks
from backend.adapters.webhook_email import SmtpNotifier
from backend.adapters.webhook_http import HttpSender, TargetGuard
from backend.adapters.webhook_store import SqlWebhooks
from backend.adapters.zip_pack import ZipPackWriter
from backend.book.build import opening_prices, registry_from_book
from backend.book.model import load_book
from backend.book.risk_cases import load_risk_cases
from backend.book.strict_yaml import BookFileError
from backend.domain.checkpoint import NoteSigner, parse_vkey
from backend.domain.config import MonitorConfig
from backend.domain.risk_scores import DAY_S, ScoreWeights
from backend.metrics import Metrics
from backend.ports.access import AuditLog
from backend.ports.alerts import AlertStore
from backend.ports.documents import DocumentSigner
from backend.ports.feed import BusEvent, LiveFeed
from backend.ports.ingest import IngestLedger, ReadingStore
from backend.ports.monitor import StandingStore
from backend.ports.prices import PriceMarkStore, PriceQuote, PriceSource, PriceSourceError, parse_pair
from backend.services.alert_inbox import AlertInbox
from backend.services.api_keys import ApiKeyring
from backend.services.cases import CaseBase, MatchSettings
from backend.services.certificates import CertificateService
from backend.services.collateral import CollateralService
from backend.services.commands import COMMAND_KEY_PATH, CommandService
from backend.services.delivery_orders import DeliveryOrderService
from backend.services.events import AlertsWatcher, EventBus, GatewaysWatcher, StandingsWatcher, monitor_listener
from backend.services.evidence import CheckpointLoop, EvidenceService, critical_alert_opened
from backend.services.evidence_export import EvidenceExporter
from backend.services.ingest import IngestService
from backend.services.inspections import InspectionService
from backend.services.limits import FailureThrottle, RateLimiter
from backend.services.lot_views import StoredLotViews
from backend.services.money import MoneyService
from backend.services.monitor import MonitorLoop, MonitorService
from backend.services.partitions import PartitionedMonitor
from backend.services.playbooks import PlaybookService
from backend.services.prices import FxRates, PriceFeedRunner, PriceService
from backend.services.prices_config import (
    CsvSourceSettings,
    HttpJsonSourceSettings,
    MqttSourceSettings,
    PriceSettings,
    SimulatedSourceSettings,
)
from backend.services.registry import RegistryService
from backend.services.releases import ReleaseService
from backend.services.reports import DailyReports, ReportLoop
from backend.services.risk_scores import RiskScoreService
from backend.services.rotated_keys import RotatedKeys
from backend.services.sensor_owners import RegistrySensorOwners
from backend.services.silences import SilenceService
from backend.services.standings import LoanStandings
from backend.services.stress import StressService
from backend.services.webhooks import WebhookService
from backend.services.webhooks_relay import RelayLoop, WebhookRelay
from backend.settings import BackendSettings
from edge import protocol
from edge.protocol.broker import BrokerSettings
from edge.protocol.keys import KeyFileError, load_private_key, load_public_key
from edge.protocol.settings import ConfigError

log = logging.getLogger("pledgewatch.backend")
LOG_KEY, WEBHOOK_KEY = "backend-log", "backend-webhooks"  # <data_dir>/keys/<name>.key, made on the first start


@dataclass(kw_only=True)
class BackendContext:
    """What one process runs, for its routes and tests. The alert, standing and price
    stores are here for tests: routes use the services (inbox, loan_standings, price_service)."""

    settings: BackendSettings
    clock: Callable[[], float]
    metrics: Metrics
    readings: ReadingStore
    ledger: IngestLedger
    keyring: ApiKeyring
    audit: AuditLog
    rate_limiter: RateLimiter
    bad_key_throttle: FailureThrottle
    registry: RegistryService
    alerts: AlertStore
    standings: StandingStore
    prices: PriceMarkStore
    loan_standings: LoanStandings
    price_service: PriceService
    releases: ReleaseService  # release requests, approvals and refusals
    delivery_orders: DeliveryOrderService  # signed delivery orders: read, acknowledged, closed
    inbox: AlertInbox  # people working alerts (the API's alert routes)
    cases: CaseBase  # the risk case base: matches, closed cases (docs/risk-cases.md)
    playbooks: PlaybookService  # standard cases' playbooks and the tasks they open
    inspections: InspectionService
    silences: SilenceService  # staff quieting alerts (still sent to banks, marked)
    money: MoneyService  # repayments, drawdowns, interest, closing
    collateral: CollateralService  # top-ups and substitutions
    certificates: CertificateService  # borrowing-base certificates
    stress: StressService  # portfolio stress tests (shocks, Monte Carlo)
    reports: DailyReports  # each bank's daily collateral report
    risk_scores: RiskScoreService  # per warehouse, gateway, borrower, commodity, from history
    monitor: MonitorService | None
    # without `monitor` (API only, partitioned monitors): releases guarded, lots shown on the
    # lot views a monitor stores
    lot_views: StoredLotViews
    ingest: MqttIngest | JetStreamIngest | None
    monitor_loop: MonitorLoop | None
    partitioned_monitor: PartitionedMonitor | None = None  # monitor.partitions: this process's share
    events: EventBus = field(default_factory=EventBus)  # live changes for the dashboard (SSE)
    feed: LiveFeed | None = None  # brings every process's live changes to `events` (PostgreSQL)
    standings_watcher: StandingsWatcher | None = None
    alerts_watcher: AlertsWatcher | None = None  # an API process whose monitor runs elsewhere
    gateways_watcher: GatewaysWatcher | None = None  # gateways going on/offline (ingest may run elsewhere)
    commands: CommandService | None = None  # signed commands to gateways (the admin route)
    documents: DocumentSigner | None = None  # signs delivery orders and certificates
    evidence: EvidenceService | None = None  # the evidence log's checkpoints, proofs, cosignatures
    exporter: EvidenceExporter | None = None  # dispute packs
    checkpoint_loop: CheckpointLoop | None = None
    webhooks: WebhookService | None = None
    price_feeds: PriceFeedRunner | None = None
    relay_loop: RelayLoop | None = None
    report_loop: ReportLoop | None = None  # the monitor role's process makes the daily reports

    def start(self) -> None:
        if self.ingest:
            self.ingest.start()
        if self.monitor_loop:
            self.monitor_loop.start()
        if self.relay_loop:
            self.relay_loop.start()
        if self.price_feeds:
            self.price_feeds.start()
        if self.checkpoint_loop:
            self.checkpoint_loop.start()
        if self.report_loop:
            self.report_loop.start()
        if self.feed and "api" in self.settings.roles:
            self.feed.start(self.events.publish)
        for watcher in self._watchers():
            watcher.start()

    def _watchers(self) -> list:
        return [w for w in (self.standings_watcher, self.alerts_watcher, self.gateways_watcher) if w]

    def close(self) -> None:
        self.events.close()
        if self.feed:
            self.feed.stop()
        for watcher in self._watchers():
            watcher.stop()
        if self.price_feeds:
            self.price_feeds.stop()
        if self.checkpoint_loop:
            self.checkpoint_loop.stop()
        if self.report_loop:
            self.report_loop.stop()
        if self.monitor_loop:
            self.monitor_loop.stop()
        if self.partitioned_monitor:
            self.partitioned_monitor.close()
        if self.relay_loop:
            self.relay_loop.stop()
        if self.ingest:
            self.ingest.stop()
        self.readings.close()
        self.ledger.close()


def _check_readings_settings(settings: BackendSettings) -> None:
    ts = settings.timeseries
    if ts.store == "influxdb" and not ts.influx_url:
        raise ConfigError("timeseries.influx_url is required when timeseries.store is influxdb")
    if ts.window == "database" and not settings.resolved_database_url().startswith("postgresql"):
        raise ConfigError("timeseries.window: database needs database_url to be PostgreSQL "
                          "(postgresql+psycopg://user@host/db), the database every host shares; "
                          "without one, use timeseries.window: sqlite")


def _reading_store(settings: BackendSettings, engine) -> ReadingStore:
    """The readings store: the window the monitor reads, behind the TSDB when there is one."""
    ts = settings.timeseries
    window: ReadingStore = (SqlReadingWindow(engine) if ts.window == "database"
                            else SqliteReadingStore((ts.window_dir or settings.data_dir) / "readings.sqlite"))
    if ts.store == "influxdb":
        from backend.adapters.influx_readings import InfluxReadingStore
        assert ts.influx_url is not None  # _check_readings_settings
        return InfluxReadingStore(ts.influx_url, ts.influx_token, ts.influx_org, ts.influx_bucket,
                                  settings.data_dir, window=window)
    return window


def _gateway_keys(settings: BackendSettings) -> dict[str, Ed25519PublicKey | None]:
    """Every registered gateway with its configured key (None: registered without one)."""
    return {g.id: load_public_key(g.public_key_pem) if g.public_key_pem else None for g in settings.gateways}


def _command_signer(settings: BackendSettings) -> protocol.Signer | None:
    """The backend's command key, which signs commands and acks; None when there is none
    (commands are off, acks unsigned). A key file that is there but unusable stops the start."""
    path = settings.data_dir / COMMAND_KEY_PATH
    if not path.exists():
        return None
    try:
        return protocol.Signer(load_private_key(path))
    except KeyFileError as exc:
        raise ConfigError(f"data_dir: the backend command key {COMMAND_KEY_PATH} is unusable: {exc}") from exc


def _ingest(settings: BackendSettings, readings: ReadingStore, ledger: IngestLedger, metrics: Metrics, *,
            gateway_keys: dict[str, Ed25519PublicKey | None], signer: protocol.Signer | None,
            rotated_keys: RotatedKeys, registry: RegistryService,
            archive: SqlEnvelopeArchive) -> MqttIngest | JetStreamIngest:
    service = IngestService(readings, ledger, gateway_keys, settings.ingest, metrics,
                            sensors=RegistrySensorOwners(registry.snapshot),
                            retention_s=settings.timeseries.raw_retention_s(), rotated=rotated_keys,
                            archive=archive if settings.evidence.log_ingest else None)
    service.ack_signer = signer  # acks are signed with the command key, when there is one
    if settings.ingest.source == "jetstream":
        return JetStreamIngest(settings.ingest, service)
    return MqttIngest(settings.broker, settings.ingest, service)


def _monitor_config(settings: BackendSettings) -> MonitorConfig:
    m = settings.monitor
    return MonitorConfig(reporting_period_s=m.reporting_period_s, confirmation_s=m.confirmation_s,
                         clear_s=m.clear_s, unverified_grace_s=m.unverified_grace_s,
                         unverified_zero_after_s=m.unverified_zero_after_s,
                         inspection_deadline_s=m.inspection_deadline_s)


def _live_feed(settings: BackendSettings) -> PgNotifyFeed | None:
    """On PostgreSQL, the dashboard's events travel between processes by LISTEN/NOTIFY."""
    url = settings.resolved_database_url()
    if not url.startswith("postgresql") or not {"api", "monitor"} & set(settings.roles):
        return None
    return PgNotifyFeed(url)


def _publisher(events: EventBus, feed: LiveFeed | None) -> Callable[[Iterable[BusEvent]], None]:
    """To this process's streams, and through the feed to the other processes'."""
    if feed is None:
        return events.publish

    def publish(published: Iterable[BusEvent]) -> None:
        published = list(published)
        events.publish(published)
        feed.publish(published)
    return publish


def _partitioned_monitor(settings: BackendSettings, engine, make_monitor: Callable[..., MonitorService],
                         prices: PriceMarkStore, metrics: Metrics, clock: Callable[[], float]) -> PartitionedMonitor:
    """This process's share of the book's `monitor.partitions`, leased in the database."""
    fx_rates = FxRates(prices, _monitor_config(settings))
    return PartitionedMonitor(
        leases=SqlPartitionLeases(engine), count=settings.monitor.partitions, lease_s=settings.monitor.lease_s,
        owner=f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}", clock=clock, metrics=metrics,
        make_service=lambda partition, fence, cursors: make_monitor(
            partition=partition, fence=fence, cursors=cursors, fx_rates=fx_rates))


def _load_book(settings: BackendSettings, registry: RegistryService, prices: PriceService,
               clock: Callable[[], float]) -> None:
    """Fill an empty registry from the configured book file, with its opening prices."""
    if settings.book is None:
        return
    try:
        book = load_book(settings.book)
    except BookFileError as exc:
        raise ConfigError(f"book {settings.book}: {exc}") from exc
    if registry.seed_if_empty(registry_from_book(book)):
        for mark in opening_prices(book):
            prices.submit(PriceQuote(mark.commodity_id, mark.price, mark.currency, mark.per_unit, clock()),
                          source="book")
        log.info("registry loaded from %s", settings.book)


def _refuse_insecure_start(settings: BackendSettings, keyring: ApiKeyring) -> None:
    """Outside demo mode: no API without an admin key, no unsigned gateway data."""
    if settings.demo_mode:
        return
    if "api" in settings.roles and not keyring.has_admin():
        raise ConfigError("api_keys: no admin key; outside demo mode the API will not start without "
                          "one (make one with `pledgewatch keys new-api --role admin`)")
    if settings.ingest.accept_unsigned:
        raise ConfigError("ingest.accept_unsigned: unsigned gateway data is accepted only in demo mode")


def _notifier(settings: BackendSettings) -> SmtpNotifier | None:
    email = settings.webhooks.email
    return SmtpNotifier(host=email.host, port=email.port, sender=email.sender, starttls=email.starttls,
                        username=email.username, password=email.password) if email else None


def webhook_relay(settings: BackendSettings, store: SqlWebhooks, metrics: Metrics,
                  clock: Callable[[], float] = time.time) -> WebhookRelay:
    hooks, notifier = settings.webhooks, _notifier(settings)
    sender = HttpSender(allow_private=settings.webhook_allow_private, timeout_s=hooks.timeout_s, clock=clock)
    signer = StandardWebhooks(data_dir_key(settings.data_dir, WEBHOOK_KEY))
    return WebhookRelay(outbox=store, sender=sender, signer=signer, settings=hooks, metrics=metrics,
                        clock=clock, notifier=notifier)


def run_relay(settings: BackendSettings) -> None:
    """The delivery relay as its own process (`pledgewatch relay`), until SIGINT/SIGTERM."""
    engine = make_engine(settings.resolved_database_url())
    migrate(engine)
    loop = RelayLoop(webhook_relay(settings, SqlWebhooks(engine), Metrics()))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    log.info("webhook relay running")
    loop.start()
    stop.wait()
    loop.stop()
    engine.dispose()


def _price_sources(settings: PriceSettings, broker: BrokerSettings,
                   latest_price: Callable[[str], Decimal | None], clock: Callable[[], float]) -> list[PriceSource]:
    """The configured price feeds (`prices.sources`) as source adapters."""
    return [_price_source(entry, broker, latest_price, clock) for entry in settings.sources]


def _price_source(entry, broker: BrokerSettings, latest_price, clock) -> PriceSource:
    if isinstance(entry, HttpJsonSourceSettings):
        return HttpJsonSource(entry.name, entry.url, entry.json_path, interval_s=entry.interval_s,
                              commodity=entry.commodity, currency=entry.currency or "", per=entry.per,
                              fx_pair=parse_pair(entry.fx_pair) if entry.fx_pair else None,
                              time_path=entry.time_path, headers=entry.headers, timeout_s=entry.timeout_s)
    if isinstance(entry, SimulatedSourceSettings):
        if entry.commodity is None:
            raise ConfigError(f"prices.sources {entry.name}: the simulated source quotes commodities only")
        return SimulatedSource(entry.name, entry.commodity, entry.currency, entry.per,
                               latest_price=latest_price, start_price=entry.start_price,
                               interval_s=entry.interval_s, volatility_per_sqrt_day=entry.volatility_per_sqrt_day,
                               jump_probability=entry.jump_probability, jump_fraction=entry.jump_fraction,
                               seed=entry.seed)
    if isinstance(entry, CsvSourceSettings):
        try:
            return CsvReplaySource(entry.name, entry.path, interval_s=entry.interval_s, loop=entry.loop)
        except PriceSourceError as exc:
            raise ConfigError(f"prices.sources {entry.name}: {exc}") from exc
    if isinstance(entry, MqttSourceSettings):
        return MqttPriceSource(entry.name, broker, client_id=entry.client_id, root=entry.root, clock=clock)
    raise ConfigError(f"unknown price source {entry!r}")


def _market_and_webhooks(settings: BackendSettings, engine, prices: PriceMarkStore,
                         price_service: PriceService, alerts: SqlAlerts, monitor: MonitorService | None,
                         loop: MonitorLoop | None, metrics: Metrics, clock: Callable[[], float]) -> dict:
    """Webhook endpoints for the API; with the monitor: FX rates, the wake-up on a new
    price mark, the delivery relay (woken by new outbox rows) and the price feeds."""
    store = SqlWebhooks(engine)
    parts = {"webhooks": WebhookService(
        store=store, signer=StandardWebhooks(data_dir_key(settings.data_dir, WEBHOOK_KEY)),
        targets=TargetGuard(settings.webhook_allow_private), clock=clock,
        rotation_overlap_s=settings.webhooks.rotation_overlap_s)}
    if loop is None:
        return parts
    if monitor is not None:
        monitor.fx_rates = FxRates(prices, monitor.config)
    price_service.on_mark = loop.wake
    if settings.webhooks.relay:
        parts["relay_loop"] = relay_loop = RelayLoop(webhook_relay(settings, store, metrics, clock))
        alerts.on_outbox = relay_loop.wake
    sources = _price_sources(settings.prices, settings.broker, price_service.latest_price, clock)
    if sources:
        parts["price_feeds"] = PriceFeedRunner(sources, price_service, clock)
    return parts


def build_context(settings: BackendSettings, clock: Callable[[], float] = time.time) -> BackendContext:
    gateway_keys, signer = _gateway_keys(settings), _command_signer(settings)  # bad keys: stop before opening anything
    renderer = _report_renderer(settings)  # and a missing font
    metrics = Metrics()
    _check_readings_settings(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # the SQLite database and its migration lock go there
    engine = make_engine(settings.resolved_database_url())
    migrate(engine)
    readings = _reading_store(settings, engine)
    ledger = (SqlIngestLedger(engine, clock) if settings.ledger_in_database()
              else SqliteIngestLedger(settings.data_dir / "state.sqlite", clock))
    registry = RegistryService(SqlRegistry(engine), clock)
    alerts, standings, prices = SqlAlerts(engine), SqlStandings(engine), SqlPriceMarks(engine)
    counts = SqlInspections(engine)
    evidence_log, archive = SqlEvidenceLog(engine), SqlEnvelopeArchive(engine)
    price_service = PriceService(marks=prices, registry=registry.snapshot, clock=clock,
                                 future_tolerance_s=settings.prices.future_tolerance_s, evidence_log=evidence_log)
    _load_book(settings, registry, price_service, clock)
    rotated_keys = RotatedKeys(SqlRotatedKeys(engine), evidence_log=evidence_log)
    evidence = _evidence(settings, engine, evidence_log, archive, registry, clock)
    evidence.log_gateway_keys({gateway: (protocol.key_fingerprint(key), key.public_bytes_raw())
                               for gateway, key in gateway_keys.items() if key is not None}, by="config")
    ingest = (_ingest(settings, readings, ledger, metrics, gateway_keys=gateway_keys, signer=signer,
                      rotated_keys=rotated_keys, registry=registry, archive=archive)
              if "ingest" in settings.roles else None)
    events = EventBus()
    api = "api" in settings.roles
    feed = _live_feed(settings)
    publish = _publisher(events, feed)
    # Without the feed, an API process hears of alerts another process's monitor stored from the database.
    watch_alerts = api and feed is None and ("monitor" not in settings.roles or bool(settings.monitor.partitions))
    case_base, playbooks = _case_base(settings, engine, registry, publish, clock, standings)
    monitor = loop = partitioned = checkpoints = None
    documents = Ed25519DocumentSigner.from_data_dir(settings.data_dir)
    release_store, views = SqlReleases(engine), SqlLotViews(engine)
    delivery_orders = DeliveryOrderService(registry=registry, store=release_store, signer=documents, clock=clock)
    if "monitor" in settings.roles:
        checkpoints = CheckpointLoop(evidence, settings.evidence.checkpoint_every_s)
        make_monitor = partial(MonitorService, registry=registry, readings=readings, ledger=ledger, alerts=alerts,
                               standings=standings, prices=prices, config=_monitor_config(settings),
                               clock=clock, metrics=metrics,
                               on_events=_also(delivery_orders.closed, _checkpoint_after_critical(
                                   monitor_listener(publish, registry, alerts=not watch_alerts), checkpoints)),
                               inspections=counts, cases=case_base, views=views)
        if settings.monitor.partitions:
            partitioned = _partitioned_monitor(settings, engine, make_monitor, prices, metrics, clock)
        else:
            monitor = make_monitor()
    loan_standings = LoanStandings(standings)
    money_store, collateral_store = SqlMoney(engine), SqlCollateral(engine)
    money = MoneyService(registry=registry, store=money_store, standing=loan_standings.of, clock=clock)
    inspections = InspectionService(registry=registry, alerts=alerts, repo=counts, config=_monitor_config(settings),
                                    clock=clock)
    reports = _daily_reports(settings, engine, renderer, registry, alerts, standings, counts, inspections, prices,
                             clock)
    if monitor is not None or partitioned is not None:  # the monitor's process posts interest (once a day per loan)
        loop = MonitorLoop(monitor or partitioned, settings.monitor.interval_s,
                           chores=(money.post_interest, playbooks.escalate_overdue))
    market = _market_and_webhooks(settings, engine, prices, price_service, alerts, monitor, loop, metrics, clock)
    monitor_state = (lambda: monitor.state) if monitor else (lambda: None)
    # The local monitor is the fresher source; without one, the views some monitor stored.
    stored_views = StoredLotViews(registry=registry, store=views, fx_rates=FxRates(prices, _monitor_config(settings)),
                                  clock=clock, max_age_s=settings.monitor.view_max_age())
    releases = ReleaseService(
        registry=registry, store=release_store, signer=documents, repayment=money.store.repayment,
        collateral_value=loan_standings.collateral_value,
        value_per_item=monitor.value_per_item if monitor else stored_views.value_per_item, clock=clock,
        guard=monitor.release_guard if monitor else stored_views.release_guard,
        valid_s=settings.releases.delivery_order_valid_s)
    watcher = StandingsWatcher(standings=standings, registry=registry, bus=events) if api else None
    alerts_watcher = AlertsWatcher(alerts, events) if watch_alerts else None
    gateways_watcher = GatewaysWatcher(ledger, events) if api else None
    keyring = ApiKeyring(settings.api_keys, SqlApiKeys(engine), clock)
    _refuse_insecure_start(settings, keyring)
    http = settings.http
    return BackendContext(
        settings=settings, clock=clock, metrics=metrics, readings=readings, ledger=ledger, keyring=keyring,
        audit=SqlAuditLog(engine), rate_limiter=RateLimiter(http.rate_per_key_per_s, http.burst_per_key),
        bad_key_throttle=FailureThrottle(http.bad_keys_per_minute, 60.0), registry=registry,
        alerts=alerts, standings=standings, prices=prices, loan_standings=loan_standings,
        price_service=price_service, releases=releases, delivery_orders=delivery_orders,
        inbox=AlertInbox(alerts=alerts, inbox=SqlAlertInbox(engine), publish=publish, clock=clock,
                         notices=SqlWebhooks(engine), cases=case_base),
        cases=case_base, playbooks=playbooks,
        inspections=inspections, money=money, reports=reports,
        collateral=CollateralService(registry=registry, store=collateral_store, monitor_state=monitor_state,
                                     fx_rates=monitor.fx_rates if monitor else dict, clock=clock),
        certificates=CertificateService(registry=registry, standing=loan_standings.of, alerts=alerts,
                                        signer=documents, monitor_state=monitor_state, clock=clock),
        stress=StressService(registry=registry.snapshot, marks=prices, standings=standings, monitor=monitor,
                             clock=clock, config=_monitor_config(settings)),
        risk_scores=RiskScoreService(registry=registry.snapshot, history=SqlRiskHistory(engine), clock=clock,
                                     weights=ScoreWeights(half_life_s=settings.risk.half_life_days * DAY_S),
                                     config=_monitor_config(settings)),
        monitor=monitor, lot_views=stored_views, partitioned_monitor=partitioned, ingest=ingest, monitor_loop=loop, events=events,
        feed=feed, standings_watcher=watcher,
        alerts_watcher=alerts_watcher, gateways_watcher=gateways_watcher,
        documents=documents,
        evidence=evidence, checkpoint_loop=checkpoints,
        report_loop=ReportLoop(reports) if "monitor" in settings.roles and settings.reports.daily else None,
        exporter=EvidenceExporter(log_store=evidence_log, archive=archive, evidence_service=evidence,
                                  registry=registry.snapshot, alerts=alerts, prices=prices, money=money_store,
                                  collateral=collateral_store, clock=clock, open_pack=ZipPackWriter),
        silences=SilenceService(store=SqlSilences(engine), registry=registry.snapshot, clock=clock),
        commands=CommandService(signer=signer, publisher=MqttCommands(settings.broker), gateway_keys=gateway_keys,
                                rotated=rotated_keys, clock=clock),
        **market)


def _case_base(settings: BackendSettings, engine, registry: RegistryService,
               publish: Callable[[Iterable[BusEvent]], None], clock: Callable[[], float],
               standings: StandingStore) -> tuple[CaseBase, PlaybookService]:
    """The standard risk cases (bad files stop the start), their playbooks seeded into the
    database, and the case base that matches new alerts against them and the closed cases."""
    try:
        standard = load_risk_cases(settings.cases.risk_cases_dir)
    except BookFileError as exc:
        raise ConfigError(f"cases.risk_cases_dir: {exc}") from exc
    store = SqlPlaybooks(engine)
    playbooks = PlaybookService(playbooks=store, standard=standard, clock=clock, publish=publish,
                                notices=SqlWebhooks(engine))
    playbooks.seed()
    cases = SqlCases(engine)
    match = MatchSettings(settings.cases.matches, settings.cases.playbook_threshold, settings.cases.compare_with)
    def ltv_history(loan_id: str, from_s: float, to_s: float) -> list[tuple[float, float]]:
        return [(p.at_s, float(p.ltv)) for p in standings.history(loan_id, from_s, to_s + 1, 10_000)
                if p.ltv is not None]
    return CaseBase(cases=cases, episodes=cases, playbooks=store, standard=standard, registry=registry.snapshot,
                    settings=match, ltv_history=ltv_history), playbooks


def _report_renderer(settings: BackendSettings) -> ReportRenderer:
    """The daily report's renderer; a Chinese report without its PDF font stops the start, naming
    the setting (an English one makes do with the PDF's own Helvetica, and says so)."""
    config = settings.reports
    renderer = ReportRenderer(config.pdf_font, config.pdf_font_cjk)
    if "zh-CN" in config.locales():
        try:
            renderer.check("zh-CN")
        except PdfFontMissing as exc:
            raise ConfigError(f"reports.pdf_font_cjk: {exc}; the zh-CN report's PDF needs it (apt-get install "
                              f"fonts-wqy-microhei, or name another TrueType font with Chinese glyphs)") from exc
    if "en" in config.locales() and not config.pdf_font.is_file():
        log.warning("reports.pdf_font: %s is not installed; English PDF reports use Helvetica, Latin-1 only "
                    "(apt-get install fonts-dejavu-core)", config.pdf_font)
    return renderer


def _daily_reports(settings: BackendSettings, engine, renderer: ReportRenderer, registry: RegistryService,
                   alerts: AlertStore, standings: StandingStore, counts: SqlInspections,
                   inspections: InspectionService, prices: PriceMarkStore, clock: Callable[[], float]) -> DailyReports:
    return DailyReports(registry=registry.snapshot, standings=standings, alerts=alerts, inspections=counts,
                        tasks=inspections.tasks, prices=prices, store=SqlReports(engine), renderer=renderer,
                        settings=settings.reports, clock=clock, notifier=_notifier(settings))


def stress_service(settings: BackendSettings, clock: Callable[[], float] = time.time) -> StressService:
    """Stress tests from the command line: the database alone, no monitor in this process."""
    engine = make_engine(settings.resolved_database_url())
    migrate(engine)
    return StressService(registry=RegistryService(SqlRegistry(engine), clock).snapshot, marks=SqlPriceMarks(engine),
                         standings=SqlStandings(engine), monitor=None, clock=clock,
                         config=_monitor_config(settings))


def _evidence(settings: BackendSettings, engine, evidence_log: SqlEvidenceLog, archive: SqlEnvelopeArchive,
              registry: RegistryService, clock: Callable[[], float]) -> EvidenceService:
    """The evidence log's service: its signing key (made on the first start), the banks'
    witness keys, checkpoints delivered through the webhook outbox."""
    witnesses: dict[str, list] = {}
    for entry in settings.evidence.witnesses:
        witnesses.setdefault(entry.lender, []).append(parse_vkey(entry.vkey))
    signer = NoteSigner(settings.evidence.origin, data_dir_key(settings.data_dir, LOG_KEY))
    return EvidenceService(log_store=evidence_log, archive=archive, signer=signer, registry=registry.snapshot,
                           notices=SqlWebhooks(engine), clock=clock, witnesses=witnesses,
                           retention_s=settings.evidence.envelope_retention_days * 86_400)


def _also(first: Callable, then: Callable) -> Callable:
    """A monitor listener that calls `first` (storing what the events decided), then `then`."""
    def on_events(events) -> None:
        first(events)
        then(events)
    return on_events


def _checkpoint_after_critical(listener: Callable, checkpoints: CheckpointLoop) -> Callable:
    def on_events(events) -> None:
        listener(events)
        if critical_alert_opened(events):
            checkpoints.wake()
    return on_events


class _Server(uvicorn.Server):
    """Ends open event streams when asked to stop: uvicorn waits for every response first."""

    def __init__(self, config: uvicorn.Config, events: EventBus) -> None:
        super().__init__(config)
        self.events = events

    def handle_exit(self, sig, frame) -> None:
        self.events.close()
        super().handle_exit(sig, frame)


def tune_collector_for_ingest() -> None:
    """A commit's worth of parsed messages (~100,000 small dicts) stays alive while it is
    written; at the default threshold the cyclic collector walked them, and everything
    loaded at start-up, again and again: a fifth of ingest's CPU (docs/storage.md).
    Reference counting frees them all the same; the collector only looks for cycles."""
    gc.freeze()                        # what start-up loaded lives as long as the process
    gc.set_threshold(50_000, 20, 20)


def run_backend(settings: BackendSettings) -> None:
    """Serve HTTP (and ingest, per roles) until SIGINT/SIGTERM."""
    from backend.api.app import create_app  # the routes import BackendContext from here

    context = build_context(settings)

    @asynccontextmanager
    async def lifespan(app):
        context.start()
        try:
            yield
        finally:
            context.close()

    app = create_app(context)
    app.router.lifespan_context = lifespan
    if context.ingest:
        tune_collector_for_ingest()
    # Our logging set-up (text or JSON), with uvicorn's access log: a line per request.
    config = uvicorn.Config(app, host=settings.http.host, port=settings.http.port,
                            log_config=None, log_level="info", access_log=True)
    log.info("backend (%s) on http://%s:%d", ",".join(settings.roles), settings.http.host,
             settings.http.port)
    _Server(config, context.events).run()
