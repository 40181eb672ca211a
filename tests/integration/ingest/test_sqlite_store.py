"""The embedded store: idempotent appends, latest state in the same transaction, retention."""
from __future__ import annotations

from backend.adapters.sqlite_readings import SqliteReadingStore
from tests.integration.ingest.helpers import NOW_MS, accepted


def test_a_redelivered_message_is_stored_once(tmp_path):
    store = SqliteReadingStore(tmp_path / "r.sqlite")
    assert store.append([accepted(1), accepted(2), accepted(2)]) == 6
    assert store.append([accepted(1)]) == 0
    assert store.count() == 6


def test_latest_value_per_sensor_and_tag_presence_per_reader(tmp_path):
    store = SqliteReadingStore(tmp_path / "r.sqlite")
    store.append([accepted(2), accepted(1)])  # out of order: the newest device time wins
    store.append([accepted(0, t_ms=NOW_MS - 60_000)])  # historical: never moves the live state
    scale = store.latest(["scale-1"])[0]
    assert (scale.value, scale.time_ms, scale.values["stable"]) == (1002.0, NOW_MS + 2000, True)
    assert {v.sensor for v in store.latest()} == {"scale-1", "probe-1", "reader-1"}
    presence = {t.epc: t.present for t in store.tags("reader-1")}
    assert presence == {"3034f8a100000001": False, "3034f8a100000002": True, "3034f8a1ffffffff": True}


def test_retention_folds_old_readings_into_hourly_rows(tmp_path):
    store = SqliteReadingStore(tmp_path / "r.sqlite")
    store.append([accepted(seq) for seq in range(1, 4001)])  # 4,000 s: two hours of scale readings
    assert store.expire(NOW_MS + 3_600_000) == 3 * 3599
    assert store.count() == 3 * (4000 - 3599)
    with store._lock:
        hourly = store._db.execute("SELECT count, min_value, max_value FROM readings_hourly "
                                   "WHERE sensor = 'scale-1'").fetchall()
    assert hourly == [(3599, 1001.0, 4599.0)]
