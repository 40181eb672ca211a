"""The readings window shared through PostgreSQL (`timeseries.window: database`): two
`pledgewatch backend` hosts with separate data dirs, as on two machines — host-a only
ingests, host-b only monitors (every partition). A theft on lot-sh-1, whose readings only
host-a stored, is alerted by host-b's monitor, and nothing else is. With the embedded window
(`timeseries.window: sqlite`) host-b's window stays empty: the theft went unalerted and every
lot was alerted unverified instead (tried by hand)."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select
from waiting import wait_for

from backend.adapters.db import tables as t
from backend.adapters.db.cluster_tables import window_readings
from tests.e2e.cluster.test_backend_host_kill9 import PARTITIONS, WAIT_S, owned, start_host
from tests.e2e.ingest.test_influx_mode import Gateways

pytestmark = pytest.mark.e2e


def test_a_theft_only_one_host_ingested_is_alerted_by_the_other_hosts_monitor(tmp_path, mosquitto,
                                                                            postgres_server):
    url = postgres_server.new_database()
    engine = create_engine(url)

    def alerts() -> list[tuple[str, str]]:
        with engine.connect() as db:
            return [tuple(r) for r in db.execute(select(t.alerts.c.type, t.alerts.c.subject))]

    def readings_of(sensor: str) -> int:
        with engine.connect() as db:
            return db.execute(select(func.count()).where(window_readings.c.sensor == sensor)).scalar_one()
    hosts, gateways = [], None
    try:
        hosts.append(start_host(tmp_path, "host-a", url, mosquitto.port, roles=("ingest",)))
        hosts.append(start_host(tmp_path, "host-b", url, mosquitto.port, roles=("monitor",)))
        b_port = hosts[1][1]
        assert wait_for(lambda: owned(b_port) == PARTITIONS, WAIT_S), owned(b_port)
        gateways = Gateways(mosquitto.port)
        gateways.start()
        assert wait_for(lambda: readings_of("lot-sh-1-scale") >= 10, WAIT_S)  # 5 s of reports, by host-a
        assert not any(kind == "unauthorized_removal" for kind, _ in alerts()), alerts()
        gateways.missing = 4
        assert wait_for(lambda: ("unauthorized_removal", "lot-sh-1") in alerts(), WAIT_S), alerts()
        # and nothing else: every lot reported to host-b's monitor through the window (with the
        # embedded one it raised collateral_unverified on every lot and gateway_offline instead)
        assert alerts() == [("unauthorized_removal", "lot-sh-1")]
        assert not any((tmp_path / host / "readings.sqlite").exists() for host in ("host-a", "host-b"))
    finally:
        if gateways is not None:
            gateways.stop()
        for process, _ in hosts:
            if process.poll() is None:
                process.terminate()
                process.wait(20)
        engine.dispose()
