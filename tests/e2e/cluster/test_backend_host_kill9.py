"""kill -9 one of two backend hosts mid-stream: real `pledgewatch backend` processes with the
ingest and monitor roles on one PostgreSQL and one Mosquitto, the book in 4 monitor
partitions. The survivor takes every partition within the lease (plus a tick), and across
the takeover no alert is raised twice and none is missed: a theft started the moment the
host dies is alerted, once.

Each host has its own process, data_dir, HTTP port and MQTT session, as on two machines:
the broker splits the stream between their ingest (a shared subscription), and each
partition's monitor reads every reading of its gateways from the readings window in
PostgreSQL (`timeseries.window: database`), whichever host stored it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, select
from waiting import wait_for

from backend.adapters.db import tables as t
from backend.adapters.db.cluster_tables import monitor_leases
from backend.demo.ports import free_port
from tests.e2e.ingest.test_influx_mode import BOOK, KEYS, Gateways
from tests.integration.ingest.helpers import public_pem

pytestmark = pytest.mark.e2e
PARTITIONS, LEASE_S, INTERVAL_S = 4, 3.0, 0.5
WAIT_S = 60


class SilentNingbo(Gateways):
    """The demo gateways, gw-ningbo switched off: its alerts open before the kill."""

    def _readings(self, seq: int):
        return {gw: readings for gw, readings in super()._readings(seq).items() if gw != "gw-ningbo"}


def start_host(tmp_path: Path, name: str, database_url: str, broker_port: int,
               roles: tuple[str, ...] = ("ingest", "monitor")) -> tuple[subprocess.Popen, int]:
    """`pledgewatch backend` with its own data_dir, the readings window in the database."""
    http_port = free_port()
    config = tmp_path / f"{name}.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(tmp_path / name), "database_url": database_url, "book": str(BOOK),
        "roles": list(roles), "broker": {"port": broker_port}, "http": {"port": http_port},
        "timeseries": {"window": "database"},
        "ingest": {"client_id": f"pw-{name}", "session_expiry_s": 0},
        "gateways": [{"id": gw, "public_key_pem": public_pem(key)} for gw, key in KEYS.items()],
        "monitor": {"interval_s": INTERVAL_S, "reporting_period_s": 1, "confirmation_s": 3, "clear_s": 5,
                    "partitions": PARTITIONS, "lease_s": LEASE_S}}))
    with (tmp_path / f"{name}.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "backend.cli", "backend", "--config", str(config)],
                                   stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    assert wait_for(lambda: _answers(http_port) or process.poll() is not None, WAIT_S) and process.poll() is None, \
        (tmp_path / f"{name}.log").read_text()[-3000:]
    return process, http_port


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def owned(port: int) -> float | None:
    """pw_monitor_partitions_owned of the host on `port`."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    return next((float(line.split()[-1]) for line in text.splitlines()
                 if line.startswith("pw_monitor_partitions_owned ")), None)


def test_the_survivor_takes_every_partition_and_alerts_a_theft_started_at_the_kill(tmp_path, mosquitto,
                                                                                   postgres_server):
    url = postgres_server.new_database()
    engine = create_engine(url)

    def alerts() -> list[tuple[str, str, str]]:
        with engine.connect() as db:
            return [tuple(r) for r in db.execute(select(t.alerts.c.type, t.alerts.c.subject, t.alerts.c.state))]

    def owners() -> set[str]:
        with engine.connect() as db:
            return set(db.execute(select(monitor_leases.c.owner)).scalars())
    hosts, gateways = [], None
    try:
        hosts.append(start_host(tmp_path, "host-a", url, mosquitto.port))  # one at a time: one migrates
        hosts.append(start_host(tmp_path, "host-b", url, mosquitto.port))
        (a, a_port), (b, b_port) = hosts
        gateways = SilentNingbo(mosquitto.port)
        gateways.start()
        assert wait_for(lambda: owned(a_port) == owned(b_port) == PARTITIONS / 2, WAIT_S), (owned(a_port),
                                                                                             owned(b_port))
        assert wait_for(lambda: ("gateway_offline", "gw-ningbo", "open") in alerts(), WAIT_S), alerts()
        assert wait_for(lambda: ("collateral_unverified", "lot-nb-1", "open") in alerts(), WAIT_S), alerts()
        before = alerts()
        a.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        gateways.missing = 4  # the theft starts as host-a dies
        a.wait()
        assert wait_for(lambda: owned(b_port) == PARTITIONS, WAIT_S)
        takeover_s = time.monotonic() - killed_at
        assert len(owners()) == 1
        assert wait_for(lambda: ("unauthorized_removal", "lot-sh-1", "open") in alerts(), WAIT_S), alerts()
        after = alerts()
    finally:
        if gateways is not None:
            gateways.stop()
        for process, _ in hosts:
            if process.poll() is None:
                process.terminate()
                process.wait(20)
        engine.dispose()
    assert takeover_s <= LEASE_S + 2 * INTERVAL_S + 2.0, takeover_s  # the lease, a tick, a /metrics poll
    twice = [key for key, n in Counter((kind, subject) for kind, subject, _ in after).items() if n > 1]
    assert twice == [], after
    assert {(k, s) for k, s, _ in before} <= {(k, s) for k, s, _ in after}
    assert [(k, s) for k, s, _ in after if k == "unauthorized_removal"] == [("unauthorized_removal", "lot-sh-1")]
    print(f"\nhost-a killed: host-b held all {PARTITIONS} partitions after {takeover_s:.1f} s "
          f"(lease {LEASE_S} s); {len(after)} alerts, none twice; the theft alerted")
