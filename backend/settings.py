"""Settings of the backend process (one class; YAML file + PW_* environment)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from backend.domain.checkpoint import COSIGNATURE_V1, NoteError, parse_vkey
from backend.services.prices_config import PriceSettings
from backend.services.reports_config import ReportSettings
from backend.services.webhooks_config import WebhookSettings
from edge.protocol.broker import BrokerSettings
from edge.protocol.settings import PublicKeyPem, RoleSettings

ROLES = ("ingest", "api", "monitor")


class GatewayEntry(BaseModel):
    """A gateway the backend accepts data from, with its Ed25519 public key (PEM)."""

    model_config = {"extra": "forbid"}
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    public_key_pem: PublicKeyPem | None = None


class ApiKeyEntry(BaseModel):
    """An API key, stored only as a salted hash (`sha256$<salt hex>$<digest hex>`)."""

    model_config = {"extra": "forbid"}
    name: str
    role: Literal["admin", "supervisor", "lender", "borrower", "warehouse", "gateway"]
    lender: str | None = None                  # a lender key's lender
    borrower: str | None = None                # a borrower key's borrower
    warehouses: list[str] = Field(default_factory=list)  # a warehouse key's warehouses
    key_hash: str = Field(pattern=r"^sha256\$[0-9a-f]{32}\$[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _bound_to_its_party(self) -> "ApiKeyEntry":
        problem = key_binding_problem(self.role, self.lender, self.borrower, self.warehouses)
        if problem:
            raise ValueError(f"api key {self.name!r}: {problem}")
        return self


def key_binding_problem(role: str, lender: str | None, borrower: str | None, warehouses: list[str]) -> str | None:
    """A lender key names its lender, a borrower key its borrower, a warehouse key at least one
    warehouse; no key names a party of another role's."""
    if (role == "lender") != (lender is not None):
        return "a lender key names its lender; other roles name none"
    if (role == "borrower") != (borrower is not None):
        return "a borrower key names its borrower; other roles name none"
    if (role == "warehouse") != bool(warehouses):
        return "a warehouse key names its warehouses; other roles name none"
    return None


class JetStreamSettings(BaseModel):
    """Ingest from a NATS JetStream cluster (`ingest.source: jetstream`, docs/deploy.md)."""

    model_config = {"extra": "forbid"}
    servers: list[str] = Field(default_factory=list)  # nats://host:port of the cluster's nodes
    stream: str = Field("PW_INGEST", pattern=r"^[A-Za-z0-9_-]+$")  # made (work queue) when missing
    replicas: int = Field(3, ge=1, le=5)  # of the stream, when we make it
    durable: str = Field("pw-ingest", pattern=r"^[A-Za-z0-9_-]+$")  # the pull consumer every process shares
    ack_wait_s: float = Field(30, gt=0)  # fetched but not acknowledged this long: delivered again
    max_ack_pending: int = Field(50_000, ge=1)  # fetched and unacknowledged, over all processes


class IngestSettings(BaseModel):
    model_config = {"extra": "forbid"}
    # Where gateway messages come from: an MQTT subscription (Mosquitto, one machine) or a
    # JetStream stream the NATS cluster's MQTT listeners fill (several hosts).
    source: Literal["mqtt", "jetstream"] = "mqtt"
    jetstream: JetStreamSettings = JetStreamSettings()
    client_id: str = "pw-ingest-1"  # one per ingest process; the session persists under it
    share_group: str = "pw-ingest"  # processes in one group split the data stream
    session_expiry_s: int = Field(7 * 24 * 3600, ge=0)
    max_messages_per_commit: int = Field(1000, ge=1)  # under load, bigger commits: fewer fsyncs
    future_tolerance_s: float = Field(600, ge=0)  # device time further ahead: quarantined
    live_window_s: float = Field(300, ge=0)  # older readings are stored as historical
    accept_unsigned: bool = False  # only for gateways registered without a key
    # Also send each ack in the acked_seq-only form that gateways older than ranged acks
    # understand (docs/protocol.md); turn off once every gateway runs a newer agent.
    legacy_acks: bool = True
    # Where the ledger of stored messages lives: `sqlite` (state.sqlite in data_dir: the ingest
    # workers of one host), `database` (database_url: the workers of every host), `auto`
    # (database when database_url is PostgreSQL, else sqlite). docs/scaling.md
    ledger: Literal["auto", "sqlite", "database"] = "auto"

    @model_validator(mode="after")
    def _jetstream_has_servers(self) -> "IngestSettings":
        if self.source == "jetstream" and not self.jetstream.servers:
            raise ValueError("ingest.jetstream.servers: give the NATS servers when ingest.source is jetstream")
        return self


class TimeSeriesSettings(BaseModel):
    """Where readings go (docs/storage.md)."""

    model_config = {"extra": "forbid"}
    store: Literal["sqlite", "influxdb"] = "sqlite"
    retention_days: float = Field(30, gt=0)  # sqlite: older raw readings are folded into hourly rows
    influx_url: str | None = None  # e.g. http://127.0.0.1:8086
    influx_token: str = ""
    influx_org: str = "pledgewatch"
    influx_bucket: str = "pledgewatch"  # its retention period is the InfluxDB retention
    # influxdb: raw readings also kept this long in the window the monitor and API read
    window_days: float = Field(2, gt=0)
    # The readings window the monitor and the API read (docs/scaling.md, "the readings window"):
    # `sqlite`, the embedded readings.sqlite, which the processes of one machine can share;
    # `database`, the backend's database (PostgreSQL), which every host shares: a partition's
    # monitor needs every reading of its gateways, whichever host's ingest stored it.
    window: Literal["sqlite", "database"] = "sqlite"
    window_dir: Path | None = None  # sqlite: the folder of readings.sqlite (default data_dir)

    @model_validator(mode="after")
    def _window_dir_only_for_sqlite(self) -> "TimeSeriesSettings":
        if self.window == "database" and self.window_dir is not None:
            raise ValueError("timeseries.window_dir: only for timeseries.window: sqlite (the database window "
                             "lives in database_url)")
        return self

    def raw_retention_s(self) -> float:
        """How long the embedded store keeps raw readings."""
        return (self.window_days if self.store == "influxdb" else self.retention_days) * 86400


class MonitorSettings(BaseModel):
    """How the monitor judges the book (see backend/domain/config.py for the meaning)."""

    model_config = {"extra": "forbid"}
    interval_s: float = Field(2.0, gt=0)  # how often it looks at new readings and prices
    reporting_period_s: int = Field(60, ge=1)  # how often gateways report each sensor
    confirmation_s: int = Field(600, ge=0, le=900)  # a noisy condition must hold this long
    clear_s: int = Field(300, ge=0)
    # Unverified collateral lends on its full value this long, then falls to 0 at zero_after.
    unverified_grace_s: int = Field(3600, ge=0)
    unverified_zero_after_s: int = Field(86_400, gt=0)
    inspection_deadline_s: int = Field(86_400, gt=0)  # an inspection task is overdue after this
    # 0: this process's monitor watches the whole book. N: the book is split into N partitions,
    # each watched by one monitor process of any host, through leases in the database that
    # run out after lease_s when their monitor dies (docs/scaling.md). Same N everywhere.
    partitions: int = Field(0, ge=0, le=1024)
    lease_s: float = Field(10.0, gt=0)
    # A process without a monitor of the whole book (API only, or partitioned monitors) releases
    # goods only on lot views the monitor stored at a tick at most this old (docs/scaling.md);
    # default 3 × interval_s, at least 10 s. Above the time between two ticks of a partition.
    view_max_age_s: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _grace_before_zero(self) -> "MonitorSettings":
        if self.unverified_zero_after_s <= self.unverified_grace_s:
            raise ValueError("monitor.unverified_zero_after_s must be above monitor.unverified_grace_s")
        if self.partitions and self.lease_s < 2 * self.interval_s:
            raise ValueError("monitor.lease_s must be at least twice monitor.interval_s: a lease is renewed "
                             "at each tick")
        if self.view_max_age_s is not None and self.view_max_age_s < 2 * self.interval_s:
            raise ValueError("monitor.view_max_age_s must be at least twice monitor.interval_s: the monitor "
                             "stores its lot views at each tick")
        return self

    def view_max_age(self) -> float:
        """How old the stored lot views may be for a release (`view_max_age_s`, or its default)."""
        return self.view_max_age_s if self.view_max_age_s is not None else max(3 * self.interval_s, 10.0)


class HttpSettings(BaseModel):
    model_config = {"extra": "forbid"}
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    rate_per_key_per_s: float = Field(50, gt=0)  # sustained requests per API key
    burst_per_key: int = Field(200, ge=1)
    bad_keys_per_minute: int = Field(20, ge=1)  # then the client address waits the minute out


class WitnessEntry(BaseModel):
    """A bank's witness key: its cosignatures on our checkpoints (C2SP tlog-cosignature)."""

    model_config = {"extra": "forbid"}
    lender: str
    vkey: str  # <name>+<key id>+<base64(0x04 || Ed25519 public key)>

    @field_validator("vkey")
    @classmethod
    def _cosignature_key(cls, value: str) -> str:
        try:
            verifier = parse_vkey(value)
        except NoteError as exc:
            raise ValueError(str(exc)) from exc
        if verifier.signature_type != COSIGNATURE_V1:
            raise ValueError("a witness key must be a cosignature/v1 key (type 0x04)")
        return value


class EvidenceSettings(BaseModel):
    """The evidence log (docs/evidence.md)."""

    model_config = {"extra": "forbid"}
    origin: str = Field("pledgewatch.local/log", pattern=r"^[^\s+]+$")  # the log's name, its key's name
    checkpoint_every_s: float = Field(300, gt=0)  # and after every critical alert
    log_ingest: bool = True  # keep every signed envelope and log its batch (off: only for benchmarks)
    envelope_retention_days: float = Field(7 * 365, gt=0)  # after the last pledge of the gateway's lots
    witnesses: list[WitnessEntry] = Field(default_factory=list)


class CaseSettings(BaseModel):
    """The risk case base and playbooks (docs/risk-cases.md)."""

    model_config = {"extra": "forbid"}
    risk_cases_dir: Path | None = None  # standard risk case files; default: the packaged seeds/risk_cases
    matches: int = Field(3, ge=1, le=20)  # how many matches an alert carries
    playbook_threshold: float = Field(0.6, gt=0, le=1)  # a standard match this good opens its playbook's tasks
    compare_with: int = Field(5000, ge=0, le=100_000)  # newest closed cases each new alert is compared with


class ReleaseSettings(BaseModel):
    model_config = {"extra": "forbid"}
    # How long a delivery order lets its goods out, unless the approval names less or more.
    delivery_order_valid_s: int = Field(86_400, ge=60, le=30 * 86_400)


class RiskSettings(BaseModel):
    """Risk scores (docs/risk-scores.md)."""

    model_config = {"extra": "forbid"}
    half_life_days: float = Field(30, gt=0, le=3650)  # an event weighs half as much this much later


class BackendSettings(RoleSettings):
    roles: list[Literal["ingest", "api", "monitor"]] = Field(default_factory=lambda: list(ROLES))
    data_dir: Path = Path("pledgewatch-data")  # embedded SQLite databases live here
    # Registry, alerts and standings; default SQLite in data_dir. PostgreSQL for several
    # backend processes: postgresql+psycopg://user@host/db
    database_url: str | None = None
    book: Path | None = None  # a book file (scenario format) loaded when the registry is empty
    monitor: MonitorSettings = MonitorSettings()
    broker: BrokerSettings = BrokerSettings()
    http: HttpSettings = HttpSettings()
    ingest: IngestSettings = IngestSettings()
    timeseries: TimeSeriesSettings = TimeSeriesSettings()
    gateways: list[GatewayEntry] = Field(default_factory=list)
    api_keys: list[ApiKeyEntry] = Field(default_factory=list)
    demo_mode: bool = False
    prices: PriceSettings = PriceSettings()  # price feeds; they run in the monitor role's process
    webhooks: WebhookSettings = WebhookSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    cases: CaseSettings = CaseSettings()
    releases: ReleaseSettings = ReleaseSettings()  # delivery orders' validity
    reports: ReportSettings = ReportSettings()  # each bank's daily collateral report (docs/reports.md)
    risk: RiskSettings = RiskSettings()  # risk scores' half-life
    # PW_WEBHOOK_ALLOW_PRIVATE=1: webhooks may target loopback/private addresses (demo, tests)
    webhook_allow_private: bool = False

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'registry.sqlite').resolve()}"

    def ledger_in_database(self) -> bool:
        """Whether the ingest ledger is kept in the database (shared by hosts), per `ingest.ledger`."""
        if self.ingest.ledger == "auto":
            return self.resolved_database_url().startswith("postgresql")
        return self.ingest.ledger == "database"
