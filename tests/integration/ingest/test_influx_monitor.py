"""The InfluxDB mode monitors like the embedded one. The same book, the same readings and the
same removal, once per store: with `timeseries.store: influxdb` the readings reach a real
victoria-metrics (the InfluxDB write API) and the monitor, reading its window from the
embedded store, raises the same alert at the same moment."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from book_helpers import BOOK, Clock, api_keys, as_, run_for  # noqa: E402

from backend.api.app import create_app  # noqa: E402
from backend.bootstrap import build_context  # noqa: E402
from backend.settings import BackendSettings  # noqa: E402

START_S = float(int(time.time()) // 60 * 60 - 4 * 3600)  # in the past: TSDBs refuse the future


@pytest.fixture(params=["sqlite", "influxdb"])
def book(request, tmp_path):
    timeseries = {"store": request.param}
    victoria = None
    if request.param == "influxdb":
        victoria = request.getfixturevalue("victoria")
        victoria.start()
        timeseries |= {"influx_url": victoria.url, "influx_org": "pw", "influx_bucket": "pw"}
    clock = Clock(START_S)
    settings = BackendSettings(data_dir=tmp_path / "data", book=BOOK, roles=["api", "monitor"],
                               api_keys=api_keys(), timeseries=timeseries,
                               monitor={"reporting_period_s": 60, "confirmation_s": 600})
    context = build_context(settings, clock)
    yield context, TestClient(create_app(context)), clock, victoria
    context.close()


def test_goods_leaving_without_release_raise_the_same_alert_on_either_store(book):
    context, client, clock, victoria = book
    seq = run_for(context, clock, 3)
    run_for(context, clock, 20, start_seq=seq, missing={"lot-sh-1": 4})
    alerts = client.get("/api/v1/alerts", headers=as_("admin")).json()
    assert [(a["type"], a["lot"]) for a in alerts] == [("unauthorized_removal", "lot-sh-1")]
    opened_after_s = alerts[0]["opened_at_s"] - (START_S + 3 * 60)
    assert 0 < opened_after_s <= 15 * 60
    assert len(client.get("/api/v1/readings", params={"sensor": "lot-sh-1-scale"},
                          headers=as_("admin")).json()["readings"]) == 23
    if victoria is not None:  # and the time series is in the TSDB, 4 coils fewer after minute 3
        assert context.readings.flush(timeout_s=30)
        [scale] = [s for s in victoria.export("weight_weight_kg") if s["metric"]["sensor"] == "lot-sh-1-scale"]
        assert [round(kg / 1000) for kg in scale["values"]] == [500] * 3 + [450] * 20  # tonnes
        assert scale["timestamps"][0] == int(START_S * 1000)
