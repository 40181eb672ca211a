"""The readings window, embedded (a SQLite file) and in the database (SQLite or PostgreSQL):
the same contract — idempotent appends, latest state with the readings, queries, retention."""
from __future__ import annotations

import pytest

from backend.adapters.db.engine import make_engine, migrate
from backend.adapters.db.readings_window_repo import SqlReadingWindow
from backend.adapters.sqlite_readings import SqliteReadingStore
from backend.ports.ingest import AcceptedMessage, ReadingQuery
from edge import protocol
from tests.integration.ingest.helpers import NOW_MS, accepted


@pytest.fixture(params=["file", "sqlite", "postgresql"])
def store(request, tmp_path):
    """The embedded window, or the database window on SQLite or PostgreSQL."""
    if request.param == "file":
        store = SqliteReadingStore(tmp_path / "r.sqlite")
        yield store
        store.close()
        return
    url = (f"sqlite:///{tmp_path / 'registry.sqlite'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_server").new_database())
    engine = make_engine(url)
    migrate(engine)
    yield SqlReadingWindow(engine)
    engine.dispose()


def hourly(store, sensor: str) -> list[tuple[int, float, float, float]]:
    """(count, min, max, sum) of each folded hour of `sensor`."""
    if isinstance(store, SqlReadingWindow):
        return [row[2:] for row in store.hourly(sensor)]
    with store._lock:
        return store._db.execute("SELECT count, min_value, max_value, sum_value FROM readings_hourly "
                                 "WHERE sensor = ? ORDER BY hour_ms", (sensor,)).fetchall()


def weights(seq: int, n: int, t_ms: int, gateway: str = "gw-1", live_after_ms: int = NOW_MS) -> AcceptedMessage:
    readings = tuple(protocol.Reading(f"s-{i}", "weight", t_ms, {"weight_kg": 10.0 * i}) for i in range(n))
    return AcceptedMessage(protocol.Envelope(gateway, 1, seq, t_ms, readings), t_ms, live_after_ms=live_after_ms)


def test_a_redelivered_message_is_stored_once(store):
    assert store.append([accepted(1), accepted(2), accepted(2)]) == 6
    assert store.append([accepted(1)]) == 0
    assert store.append([accepted(1, gateway="gw-2")]) == 3  # another gateway's seq 1
    assert store.count() == 9


def test_latest_value_per_sensor_and_tag_presence_per_reader(store):
    store.append([accepted(2), accepted(1)])  # out of order: the newest device time wins
    store.append([accepted(0, t_ms=NOW_MS - 60_000)])  # historical: never moves the live state
    scale = store.latest(["scale-1"])[0]
    assert (scale.value, scale.time_ms, scale.values["stable"]) == (1002.0, NOW_MS + 2000, True)
    assert [v.sensor for v in store.latest()] == ["probe-1", "reader-1", "scale-1"]
    assert [v.sensor for v in store.latest(["scale-1", "probe-1", "nobody"])] == ["probe-1", "scale-1"]
    presence = {t.epc: t.present for t in store.tags("reader-1")}
    assert presence == {"3034f8a100000001": False, "3034f8a100000002": True, "3034f8a1ffffffff": True}
    assert store.tags("nobody") == []


def test_a_later_batch_with_an_older_reading_keeps_the_newest(store):
    store.append([accepted(5)])
    store.append([accepted(3)])
    assert store.latest(["scale-1"])[0].value == 1005.0
    assert {t.epc: t.last_seen_ms for t in store.tags("reader-1")}["3034f8a1ffffffff"] == NOW_MS + 5000


def test_old_readings_are_stored_as_historical(store):
    store.append([weights(1, 3, NOW_MS - 3_600_000), weights(2, 3, NOW_MS + 1000)])
    assert [r.historical for r in store.query(ReadingQuery())] == [True] * 3 + [False] * 3
    assert {v.time_ms for v in store.latest()} == {NOW_MS + 1000}


def test_query_filters_and_pages_in_id_order(store):
    store.append([weights(seq, 10, NOW_MS + seq * 1000) for seq in range(1, 4)])
    store.append([weights(1, 2, NOW_MS + 9000, gateway="gw-2")])
    first = store.query(ReadingQuery(sensors=["s-1", "s-2"], limit=4))
    assert [r.sensor for r in first] == ["s-1", "s-2", "s-1", "s-2"]
    assert [r.id for r in first] == sorted(r.id for r in first)
    rest = store.query(ReadingQuery(sensors=["s-1", "s-2"], after_id=first[-1].id))
    assert [(r.gateway, r.sensor) for r in rest] == [("gw-1", "s-1"), ("gw-1", "s-2"), ("gw-2", "s-1")]
    assert len(store.query(ReadingQuery(gateway="gw-2"))) == 2
    assert len(store.query(ReadingQuery(kind="weight", from_ms=NOW_MS + 2000, to_ms=NOW_MS + 3001))) == 20
    assert store.query(ReadingQuery(kind="rfid")) == []
    assert store.query(ReadingQuery(from_ms=NOW_MS + 9001)) == []
    reading = store.query(ReadingQuery(sensors=["s-3"], gateway="gw-1", limit=1))[0]
    assert (reading.kind, reading.time_ms, reading.quality, reading.values, reading.historical) == \
        ("weight", NOW_MS + 1000, "good", {"weight_kg": 30.0}, False)


def test_retention_folds_old_readings_into_hourly_rows(store):
    store.append([accepted(seq) for seq in range(1, 4001)])  # 4,000 s: two hours of scale readings
    assert store.expire(NOW_MS + 3_600_000) == 3 * 3599
    assert store.count() == 3 * (4000 - 3599)
    assert hourly(store, "scale-1") == [(3599, 1001.0, 4599.0, float(sum(range(1001, 4600))))]
    assert store.expire(NOW_MS + 3_600_000) == 0
    assert store.expire(NOW_MS + 3_601_000) == 3  # the second hour's first second...
    assert store.expire(NOW_MS + 3_602_000) == 3  # ...and its next one fold into one row
    assert hourly(store, "scale-1")[1] == (2, 4600.0, 4601.0, 9201.0)
    assert store.latest(["scale-1"])[0].value == 5000.0  # the latest state outlives retention


def test_a_message_twice_in_a_batch_is_stored_where_it_came_first(store):
    store.append([weights(1, 1, NOW_MS + 1000), weights(2, 1, NOW_MS + 2000), weights(1, 1, NOW_MS + 1000)])
    assert [r.time_ms for r in store.query(ReadingQuery())] == [NOW_MS + 1000, NOW_MS + 2000]
