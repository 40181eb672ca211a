"""The InfluxDB store against a real server speaking /api/v2/write (victoria-metrics)."""
from __future__ import annotations

from backend.adapters.db.engine import make_engine, migrate
from backend.adapters.db.readings_window_repo import SqlReadingWindow
from backend.adapters.influx_readings import InfluxReadingStore, reading_line
from backend.adapters.sqlite_readings import SqliteReadingStore
from backend.ports.ingest import ReadingQuery
from tests.integration.ingest.helpers import NOW_MS, accepted


def store_for(url: str, tmp_path) -> InfluxReadingStore:
    return InfluxReadingStore(url, token="test-token", org="pw", bucket="pw", state_dir=tmp_path / "state",
                              window=SqliteReadingStore(tmp_path / "state" / "readings.sqlite"), retry_max_s=0.5)


def test_lines_have_one_measurement_per_kind_low_cardinality_tags_and_numeric_fields():
    message = accepted(3)
    lines = [reading_line("gw-1", r, historical=False) for r in message.envelope.readings]
    assert lines == [
        f"weight,gateway=gw-1,quality=good,sensor=scale-1 weight_kg=1003.0,stable=1i,ok=1i {NOW_MS + 3000}",
        f"temperature,gateway=gw-1,quality=good,sensor=probe-1 temperature_c=-18.47,ok=1i {NOW_MS + 3000}",
        f"rfid,gateway=gw-1,quality=good,sensor=reader-1 tag_count=2i,ok=1i {NOW_MS + 3000}"]


def test_every_reading_arrives_and_reads_back_through_the_export_api(victoria, tmp_path):
    victoria.start()
    store = store_for(victoria.url, tmp_path)
    try:
        store.append([accepted(seq) for seq in range(1, 2001)])  # 6,000 lines: two POSTs
        assert store.flush(timeout_s=30)
        [weights] = victoria.export("weight_weight_kg")
        assert weights["metric"] == {"__name__": "weight_weight_kg", "gateway": "gw-1", "quality": "good",
                                     "sensor": "scale-1"}
        assert weights["values"] == [1000.0 + seq for seq in range(1, 2001)]
        assert weights["timestamps"] == [NOW_MS + seq * 1000 for seq in range(1, 2001)]
        assert len(victoria.export("temperature_temperature_c")[0]["values"]) == 2000
        assert victoria.export("rfid_tag_count")[0]["values"] == [2.0] * 2000
        assert store.count() == 6000
        assert store.latest(["scale-1"])[0].value == 3000.0
        assert [t.present for t in store.tags("reader-1")][-2:] == [True, True]
    finally:
        store.close()


def test_while_the_server_is_down_writes_are_spooled_and_replayed_after_a_restart(victoria, tmp_path):
    store = store_for(victoria.url, tmp_path)  # nothing listens yet
    store.append([accepted(seq) for seq in range(1, 501)])
    store.append([accepted(seq) for seq in range(501, 1001)])
    assert not store.flush(timeout_s=1.5)
    assert store.pending_segments() == 2
    store.close()  # the process goes away too: the spool is on disk

    victoria.start()
    store = store_for(victoria.url, tmp_path)
    try:
        assert store.flush(timeout_s=30)
        assert victoria.export("weight_weight_kg")[0]["values"] == [1000.0 + seq for seq in range(1, 1001)]
    finally:
        store.close()


def test_a_redelivered_message_lands_on_its_own_points(victoria, tmp_path):
    """Same series, same timestamp: InfluxDB overwrites (victoria-metrics keeps both samples)."""
    victoria.start()
    store = store_for(victoria.url, tmp_path)
    try:
        store.append([accepted(1), accepted(2)])
        store.append([accepted(2)])
        assert store.flush(timeout_s=30)
        [series] = victoria.export("weight_weight_kg")
        assert sorted(set(zip(series["timestamps"], series["values"]))) == [
            (NOW_MS + 1000, 1001.0), (NOW_MS + 2000, 1002.0)]
    finally:
        store.close()


def test_reads_come_from_the_embedded_window_whatever_the_server_speaks(victoria, tmp_path):
    """victoria-metrics serves no Flux: the monitor's and the API's reads never ask the server."""
    victoria.start()
    store = store_for(victoria.url, tmp_path)
    try:
        store.append([accepted(seq, gateway="gw-window") for seq in range(1, 11)])
        rows = store.query(ReadingQuery(sensors=["scale-1"], gateway="gw-window", kind="weight",
                                        from_ms=NOW_MS, to_ms=NOW_MS + 11_000))
        assert [r.values["weight_kg"] for r in rows] == [1000.0 + seq for seq in range(1, 11)]
        assert [r.id for r in store.query(ReadingQuery(after_id=rows[-1].id))] == [rows[-1].id + 1, rows[-1].id + 2]
        assert store.flush(timeout_s=30)
        assert len(victoria.export("weight_weight_kg")[0]["values"]) == 10
    finally:
        store.close()


def test_processes_sharing_the_spool_send_every_point_once(victoria, tmp_path):
    """Every backend process on a host opens the same spool (two ingest processes, or ingest
    beside the monitor): no segment overwritten, none sent twice (victoria-metrics keeps both)."""
    victoria.start()
    stores = [store_for(victoria.url, tmp_path) for _ in range(2)]
    try:
        for seq in range(1, 201):
            for n, store in enumerate(stores):
                store.append([accepted(seq, gateway=f"gw-{n}")])
        assert all(store.flush(timeout_s=30) for store in stores)
        weights = victoria.export("weight_weight_kg")
        assert sorted(s["metric"]["gateway"] for s in weights) == ["gw-0", "gw-1"]
        for series in weights:
            assert sorted(series["values"]) == [1000.0 + seq for seq in range(1, 201)], series["metric"]
    finally:
        for store in stores:
            store.close()


def test_the_window_can_be_the_database_every_host_reads(victoria, postgres_server, tmp_path):
    """`timeseries.window: database`: the readings go to the TSDB and to PostgreSQL, where
    another host's window (its own engine) reads them."""
    victoria.start()
    url = postgres_server.new_database()
    engine, other_host = make_engine(url), make_engine(url)
    migrate(engine)
    store = InfluxReadingStore(victoria.url, token="test-token", org="pw", bucket="pw", state_dir=tmp_path / "state",
                               window=SqlReadingWindow(engine), retry_max_s=0.5)
    try:
        assert store.append([accepted(seq) for seq in range(1, 11)]) == 30
        rows = SqlReadingWindow(other_host).query(ReadingQuery(sensors=["scale-1"]))
        assert [r.values["weight_kg"] for r in rows] == [1000.0 + seq for seq in range(1, 11)]
        assert store.flush(timeout_s=30)
        assert len(victoria.export("weight_weight_kg")[0]["values"]) == 10
    finally:
        store.close()
        engine.dispose()
        other_host.dispose()
