"""`pledgewatch cluster --config DIR`: the multi-host layout on one machine (docs/deploy.md).

Three NATS nodes (JetStream R3, MQTT listeners, an account per gateway), PostgreSQL (the
configured one, or an own instance in DIR/postgres), victoria-metrics when installed (else
the SQLite readings store), two backend "hosts" (each its own process, data dir and port,
with every role: ingest on the shared JetStream consumer, partitioned monitor, relay, API),
and the demo warehouses' simulated devices and edge agents (MQTT 3.1.1, the three nodes as
their broker list). DIR/cluster.yaml (written with its defaults when missing) configures it;
DIR/cluster.json says where everything is. Ctrl-C stops all in dependency order.

The hosts share nothing on disk: what both need is in PostgreSQL — the ingest ledger, the
monitor leases, and the readings window their monitors read (`timeseries.window: database`),
since either host's ingest may store a reading a partition of the other host's monitor
needs (docs/scaling.md, "The readings window"). So they run as they would on two machines.
"""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from backend.adapters.nats_auth import authorization_block, new_password
from backend.demo.nats_cluster import NatsCluster, NatsError, find_nats_server
from backend.demo.ports import first_free_port, free_port, wait_until_listening
from backend.demo.postgres import PostgresServer
from backend.demo.run import BACKENDS, SERVERS, DemoError, spawn_fleet
from backend.demo.setup import DemoLayout, DemoPace, DemoPorts, load_seed, write_config_set
from backend.demo.supervise import Children, die_with_parent
from backend.demo.victoria import VictoriaMetrics, find_victoria_metrics
from backend.services.commands import COMMAND_KEY_PATH

HOSTS = ("host-a", "host-b")
BACKEND_USER = "pw-backend"

DEFAULT_CONFIG = """\
# pledgewatch cluster: every field is optional (docs/deploy.md, "A cluster on one machine").
# database_url: postgresql+psycopg://user@host/db   # none: an own PostgreSQL in this folder
# http_port: 8100          # host-a's API; host-b's is the next free port
# partitions: 4            # monitor partitions shared by the two hosts
# timeseries: auto         # influxdb (victoria-metrics), sqlite (no TSDB: readings only in the
#                          # PostgreSQL window), or auto: influxdb when installed
# confirmation_s: 120      # how long a condition holds before its alert opens (as `demo --confirmation-s`)
# reporting_period_s: 60   # every device reports at least this often (as `demo --reporting-period-s`)
# monitor: {}              # more monitor settings for both hosts, e.g. {clear_s: 60}
"""


class ClusterConfig(BaseModel):
    model_config = {"extra": "forbid"}
    database_url: str | None = None
    http_port: int = Field(8100, ge=1, le=65535)
    partitions: int = Field(4, ge=1, le=64)
    timeseries: Literal["auto", "influxdb", "sqlite"] = "auto"
    confirmation_s: int = Field(DemoPace.confirmation_s, ge=1, le=900)
    reporting_period_s: int = Field(DemoPace.reporting_period_s, ge=5, le=3600)
    monitor: dict = Field(default_factory=dict)

    @field_validator("database_url")
    @classmethod
    def _postgres(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith("postgresql"):
            raise ValueError("the hosts share state only through PostgreSQL: give a postgresql+psycopg:// URL")
        return url


def load_config(root: Path) -> ClusterConfig:
    path = root / "cluster.yaml"
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        path.write_text(DEFAULT_CONFIG)
    try:
        return ClusterConfig.model_validate(yaml.safe_load(path.read_text()) or {})
    except yaml.YAMLError as exc:
        raise DemoError(f"config {path} is not valid YAML") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        raise DemoError(f"config {path}: {'.'.join(map(str, first['loc'])) or '(top level)'}: {first['msg']}") from exc


@dataclass
class Host:
    name: str
    http_port: int
    config: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@dataclass
class Cluster:
    root: Path
    config: ClusterConfig
    children: Children = field(init=False)
    nats: NatsCluster | None = None
    postgres: PostgresServer | None = None
    victoria: VictoriaMetrics | None = None
    database_url: str = ""
    hosts: list[Host] = field(default_factory=list)
    layout: DemoLayout | None = None

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.children = Children(self.root / "logs")

    def start(self) -> None:
        seed = load_seed()
        gateways = [w["gateway"] for w in seed["warehouses"]]
        passwords = _passwords(self.root / "nats-credentials.json", [BACKEND_USER, *gateways])
        self._start_nats(passwords)
        edge_brokers = {gw: {"urls": _rotated(self.nats.mqtt_urls, n), "protocol": 4, "subscribe_qos": 0,
                             "username": gw, "password": passwords[gw]} for n, gw in enumerate(gateways)}
        self.layout = write_config_set(self.root, DemoPorts(self.nats.nodes[0].mqtt_port, self.config.http_port, 4),
                                       seed, edge_brokers,
                                       DemoPace(self.config.confirmation_s, self.config.reporting_period_s))
        self._start_postgres()
        self._start_victoria()
        for name in HOSTS:  # one after the other: the first migrates the database
            self._start_host(name, passwords[BACKEND_USER])
        spawn_fleet(self.children, self.layout)
        (self.root / "cluster.json").write_text(json.dumps(self.where(), indent=2) + "\n")

    def _start_nats(self, passwords: dict[str, str]) -> None:
        if find_nats_server() is None:
            raise DemoError("nats-server is not installed (apt-get install nats-server)")
        gateway_passwords = {user: pw for user, pw in passwords.items() if user != BACKEND_USER}
        self.nats = NatsCluster(self.root / "nats", authorization=authorization_block(
            BACKEND_USER, passwords[BACKEND_USER], gateway_passwords), preexec_fn=die_with_parent)
        try:
            self.nats.start()
        except NatsError as exc:
            raise DemoError(str(exc)) from exc
        finally:
            for node in self.nats.nodes:
                if node.process is not None:
                    self.children.adopt(node.name, node.process, SERVERS)

    def _start_postgres(self) -> None:
        if self.config.database_url:
            self.database_url = self.config.database_url
            return
        if not PostgresServer.available():
            raise DemoError("no database_url in cluster.yaml and no PostgreSQL server binaries "
                            "(apt-get install postgresql)")
        server = PostgresServer(fsync=True, root=self.root / "postgres")
        try:
            server.start()
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            why = exc.stderr.decode(errors="replace").strip() if isinstance(exc, subprocess.CalledProcessError) else exc
            raise DemoError(f"PostgreSQL did not start in {server.root} (as root it runs as the postgres "
                            f"user, who must be able to reach that folder): {why}") from exc
        self.postgres = server
        self.database_url = server.new_database("pledgewatch")

    def _start_victoria(self) -> None:
        wanted = self.config.timeseries
        if wanted == "sqlite" or (wanted == "auto" and find_victoria_metrics() is None):
            return
        if find_victoria_metrics() is None:
            raise DemoError("timeseries: influxdb in cluster.yaml, but victoria-metrics is not installed")
        self.victoria = VictoriaMetrics(free_port(), self.root / "victoria-metrics")
        self.children.logs.mkdir(parents=True, exist_ok=True)
        try:
            self.victoria.start(preexec_fn=die_with_parent, log_file=self.children.logs / "victoria-metrics.log")
        except RuntimeError as exc:
            raise DemoError(str(exc)) from exc
        finally:
            if self.victoria.process is not None:
                self.children.adopt("victoria-metrics", self.victoria.process, SERVERS)

    def _start_host(self, name: str, backend_password: str) -> None:
        port = first_free_port(self.hosts[-1].http_port + 1 if self.hosts else self.config.http_port)
        host = Host(name, port, self.root / f"{name}.yaml")
        data_dir = self.root / name
        key = data_dir / COMMAND_KEY_PATH  # the commands gateways trust are signed with one key
        key.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.root / "data" / COMMAND_KEY_PATH, key)
        settings = yaml.safe_load(self.layout.backend_config.read_text())
        nats_urls = [f"nats://{BACKEND_USER}:{backend_password}@127.0.0.1:{node.client_port}"
                     for node in self.nats.nodes]
        settings.update({
            "data_dir": str(data_dir), "database_url": self.database_url,
            "http": {"host": "127.0.0.1", "port": port},
            "broker": {"urls": self.nats.mqtt_urls, "protocol": 4, "subscribe_qos": 0,
                       "username": BACKEND_USER, "password": backend_password},
            "ingest": {"client_id": f"pw-{name}", "source": "jetstream", "jetstream": {"servers": nats_urls}},
            "monitor": {**settings["monitor"], "partitions": self.config.partitions, **self.config.monitor},
            "timeseries": self._timeseries()})
        host.config.write_text(yaml.safe_dump(settings, sort_keys=False, width=100))
        host.config.chmod(0o600)  # broker and NATS passwords
        self.children.spawn(name, ["backend", "--config", str(host.config)], BACKENDS)
        if not wait_until_listening(port, timeout_s=60):
            raise DemoError(f"{name} did not start; see {self.children.logs / (name + '.log')}")
        self.hosts.append(host)

    def _timeseries(self) -> dict:
        window = {"window": "database"}  # in PostgreSQL, which both hosts reach
        if self.victoria is None:
            return {"store": "sqlite", **window}
        return {"store": "influxdb", "influx_url": self.victoria.url, **window}

    def where(self) -> dict:
        """Everything a person or a test needs to reach (cluster.json)."""
        return {
            "nats": [{"name": n.name, "client": n.nats_url, "mqtt": n.mqtt_url,
                      "monitoring": f"http://127.0.0.1:{n.monitor_port}"} for n in self.nats.nodes],
            "database": {"url": self.database_url, "own_instance": self.postgres is not None},
            "timeseries": ({"store": "influxdb", "url": self.victoria.url, "window": "database"} if self.victoria
                           else {"store": "sqlite", "window": "database", "why": "victoria-metrics is not installed"
                                 if self.config.timeseries == "auto" else "timeseries: sqlite in cluster.yaml"}),
            "hosts": [{"name": h.name, "api": h.base, "config": str(h.config)} for h in self.hosts],
            "sim_control_ports": self.layout.sim_control_ports,
            "logs": str(self.children.logs), "api_keys": str(self.root / "api-keys.json")}

    def stop(self) -> None:
        """Gateways, devices, hosts, then the brokers and the TSDB, then PostgreSQL."""
        self.children.stop()
        if self.postgres is not None:
            self.postgres.stop()


def _passwords(path: Path, users: list[str]) -> dict[str, str]:
    """Each broker account's password, kept across restarts of the cluster."""
    known = json.loads(path.read_text()) if path.exists() else {}
    passwords = {user: known.get(user) or new_password() for user in users}
    path.write_text(json.dumps(passwords, indent=2) + "\n")
    path.chmod(0o600)
    return passwords


def _rotated(urls: list[str], start: int) -> list[str]:
    """Gateway n starts on node n (mod 3), then tries the others."""
    start %= len(urls)
    return urls[start:] + urls[:start]


def run_cluster(root: Path, duration_s: float | None = None, echo=print) -> int:
    cluster = Cluster(root, load_config(root))
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: cluster.children.stopping.set())
    try:
        cluster.start()
        echo(_banner(cluster))
        died = cluster.children.wait(duration_s)
        if died:
            echo(f"cluster: {died} stopped unexpectedly; see {cluster.children.logs / (died + '.log')}")
            return 1
        return 0
    finally:
        echo("cluster: stopping ...")
        cluster.stop()
        echo("cluster: stopped")


def _banner(cluster: Cluster) -> str:
    where = cluster.where()
    nodes = "\n".join(f"    {n['name']}  NATS {n['client']}  MQTT {n['mqtt']}  monitoring {n['monitoring']}"
                      for n in where["nats"])
    hosts = "\n".join(f"    {h['name']}  API {h['api']}/api/v1/health  dashboard {h['api']}/  "
                      f"metrics {h['api']}/metrics" for h in where["hosts"])
    series = where["timeseries"]
    tsdb = (f"victoria-metrics {series['url']} (InfluxDB write API); the monitors' window in PostgreSQL"
            if series["store"] == "influxdb"
            else f"no TSDB, readings in the PostgreSQL window ({series['why']})")
    database = where["database"]["url"].replace("postgresql+psycopg", "postgresql")
    own = "own instance in " + str(cluster.root / "postgres") if where["database"]["own_instance"] else "configured"
    return f"""
PledgeWatch cluster is running (Ctrl-C stops it).
  NATS JetStream (R3; gateways on MQTT 3.1.1, one account each):
{nodes}
  Backend hosts (ingest, monitor in {cluster.config.partitions} partitions, relay, API):
{hosts}
  PostgreSQL      {database}  ({own})
  Time series     {tsdb}
  Gateways        {', '.join(cluster.layout.edge_configs)} (devices simulated; faults: docs/edge.md)
  State and logs  {cluster.root}  (where everything is: cluster.json; API keys: api-keys.json)
"""
