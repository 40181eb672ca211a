"""Real `pledgewatch backend --role ingest` processes behind a real Mosquitto: sharing the
stream, SIGKILL mid-stream, a broker restart, and garbage mixed into valid traffic."""
from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time

import httpx
import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from waiting import wait_for

from backend.bench.ingest import audit, start_ingest_process, wait_for_ledger
from backend.demo.broker import start_broker
from backend.demo.ports import DistinctPorts, free_port
from edge import protocol
from tests.integration.ingest.conftest import VictoriaMetrics
from tests.integration.ingest.helpers import public_pem

pytestmark = pytest.mark.e2e
GATEWAYS = ["gw-a", "gw-b", "gw-c"]
KEYS = {gw: Ed25519PrivateKey.generate() for gw in GATEWAYS}
REGISTRY = [{"id": gw, "public_key_pem": public_pem(key)} for gw, key in KEYS.items()]
READINGS = 10


def signed(gw: str, seq: int, t_ms: int | None = None, epoch: int = 1) -> tuple[str, bytes]:
    t_ms = int(time.time() * 1000) if t_ms is None else t_ms
    readings = [protocol.Reading(f"{gw}-s{n}", "weight", t_ms, {"weight_kg": float(seq * 100 + n)})
                for n in range(READINGS)]
    return protocol.topic(gw, "data"), protocol.encode(gw, epoch, seq, t_ms, readings, protocol.Signer(KEYS[gw]))


def stream(first_seq: int, last_seq: int) -> list[tuple[str, bytes]]:
    return [signed(gw, seq) for seq in range(first_seq, last_seq + 1) for gw in GATEWAYS]


def publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{time.time_ns()}",
                         protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(timeout=60)
    client.disconnect()
    client.loop_stop()


def ledger_count(data_dir) -> int:
    path = data_dir / "state.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM messages").fetchone()[0]


def stop(process) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def broker(tmp_path):
    broker = start_broker(tmp_path / "broker", prefer="mosquitto")
    assert broker.kind == "mosquitto", "these tests need Mosquitto (MQTT 5 shared subscriptions)"
    yield broker
    broker.stop()


@pytest.fixture(params=["sqlite", "influxdb"])
def store(request, tmp_path):
    """(the `timeseries` config, the victoria-metrics behind it or None): with influxdb the
    embedded store is the window ingest also writes, so the same audit holds, and the TSDB
    must end up with every reading too."""
    if request.param == "sqlite":
        yield {}, None
        return
    victoria = VictoriaMetrics(free_port(), tmp_path / "vm-data")
    victoria.start()
    yield {"store": "influxdb", "influx_url": victoria.url, "influx_org": "pw", "influx_bucket": "pw"}, victoria
    victoria.stop()


def assert_every_reading_in_the_tsdb(victoria, last_seq: int) -> None:
    """Each reading's (sensor, value) is there; a redelivered one may be there twice
    (victoria-metrics keeps both samples where InfluxDB overwrites)."""
    expected = {(f"{gw}-s{n}", float(seq * 100 + n)) for gw in GATEWAYS for seq in range(1, last_seq + 1)
                for n in range(READINGS)}
    exported = lambda: {(s["metric"]["sensor"], v) for s in victoria.export("weight_weight_kg")  # noqa: E731
                        for v in s["values"]}
    assert wait_for(lambda: exported() == expected, 60), len(expected - exported())


def test_two_processes_split_the_stream_with_no_loss_and_no_duplicate(tmp_path, broker, store):
    timeseries, victoria = store
    with DistinctPorts() as pick:
        ports = [pick(), pick()]
    processes = [start_ingest_process(tmp_path, broker, REGISTRY, n, ports[n], {"timeseries": timeseries or {}}) for n in range(2)]
    try:
        publish(broker.port, stream(1, 400))
        assert len(wait_for_ledger(tmp_path / "data" / "state.sqlite", 1200, timeout_s=60)) == 1200
        if victoria is not None:  # both flush the one spool they share
            assert_every_reading_in_the_tsdb(victoria, 400)
        stored = [httpx.get(f"http://127.0.0.1:{port}/metrics").text for port in ports]
    finally:
        for process in processes:
            stop(process)
    assert audit(tmp_path / "data" / "readings.sqlite", 1200, READINGS) == (0, 0)
    per_process = [float(line.split()[-1]) for text in stored for line in text.splitlines()
                   if line.startswith("pw_messages_stored_total")]
    assert sum(per_process) == 1200 and min(per_process) > 0  # both took a share


def test_sigkill_mid_stream_then_restart_loses_nothing_and_stores_nothing_twice(tmp_path, broker, store):
    timeseries, victoria = store
    process = start_ingest_process(tmp_path, broker, REGISTRY, 0, extra={"timeseries": timeseries or {}})
    publisher = threading.Thread(target=publish, args=(broker.port, stream(1, 1000)))
    publisher.start()
    while ledger_count(tmp_path / "data") < 300:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    publisher.join()
    assert ledger_count(tmp_path / "data") < 3000  # it really died mid-stream
    process = start_ingest_process(tmp_path, broker, REGISTRY, 0, extra={"timeseries": timeseries or {}})  # same session
    try:
        assert len(wait_for_ledger(tmp_path / "data" / "state.sqlite", 3000, timeout_s=90)) == 3000
        if victoria is not None:  # the spool is flushed by the process that wrote it
            assert_every_reading_in_the_tsdb(victoria, 1000)
    finally:
        stop(process)
    assert audit(tmp_path / "data" / "readings.sqlite", 3000, READINGS) == (0, 0)


def test_ingest_resumes_by_itself_after_the_broker_restarts(tmp_path, broker):
    process = start_ingest_process(tmp_path, broker, REGISTRY, 0)
    try:
        publish(broker.port, stream(1, 50))
        wait_for_ledger(tmp_path / "data" / "state.sqlite", 150, timeout_s=30)
        connections = connections_logged(tmp_path)
        broker.stop()
        broker_again = start_broker(tmp_path / "broker", port=broker.port, prefer="mosquitto")
        try:
            # Mosquitto 2.0.11 did not hand a restored shared subscription what was published
            # before its member reconnected; gateways resend until acked, so publish after.
            deadline = time.monotonic() + 60
            while connections_logged(tmp_path) == connections and time.monotonic() < deadline:
                time.sleep(0.1)
            publish(broker.port, stream(51, 100))
            assert len(wait_for_ledger(tmp_path / "data" / "state.sqlite", 300, timeout_s=60)) == 300
        finally:
            broker_again.stop()
    finally:
        stop(process)
    assert audit(tmp_path / "data" / "readings.sqlite", 300, READINGS) == (0, 0)


def connections_logged(tmp_path) -> int:
    return (tmp_path / "ingest-0.log").read_bytes().count(b"ingest connected")


def bad_corpus(now_ms: int) -> list[tuple[str, bytes, str]]:
    """(topic, payload, the reason ingest must give) for each kind of garbage."""
    topic = protocol.topic("gw-a", "data")
    _, good = signed("gw-a", 900)
    body = json.loads(good)
    tampered = dict(body, seq=901)
    wrong_type = dict(body, epoch="1")
    unknown_kind = json.loads(good)
    unknown_kind["readings"][0]["kind"] = "pressure"
    forged_key = Ed25519PrivateKey.generate()
    forged = protocol.encode("gw-a", 1, 902, now_ms, [protocol.Reading("s", "weight", now_ms, {"weight_kg": 1.0})],
                             protocol.Signer(forged_key))
    stranger_key = Ed25519PrivateKey.generate()
    stranger = protocol.encode("gw-x", 1, 1, now_ms, [protocol.Reading("s", "weight", now_ms, {"weight_kg": 1.0})],
                               protocol.Signer(stranger_key))
    return [
        (topic, b"{not json", "bad_json"),
        (topic, good.replace(b'"weight_kg":90000.0', b'"weight_kg":NaN'), "non_finite"),
        (topic, good.replace(b'"weight_kg":90000.0', b'"weight_kg":1e999'), "non_finite"),
        (topic, json.dumps(wrong_type).encode(), "wrong_type"),
        (topic, b" " * (protocol.MAX_MESSAGE_BYTES + 1), "oversize"),
        (topic, json.dumps(unknown_kind).encode(), "unknown_kind"),
        (topic, json.dumps(tampered).encode(), "bad_signature"),
        (topic, forged, "bad_signature"),
        (topic, signed("gw-a", 903, t_ms=now_ms + 3_600_000)[1], "future_timestamp"),
        (protocol.topic("gw-b", "data"), signed("gw-a", 904)[1], "gateway_mismatch"),
        (protocol.topic("gw-x", "data"), stranger, "unknown_gateway"),
    ]


def test_garbage_mixed_into_valid_traffic_is_quarantined_and_the_books_balance(tmp_path, broker):
    http_port = free_port()
    process = start_ingest_process(tmp_path, broker, REGISTRY, 0, http_port)
    corpus = bad_corpus(int(time.time() * 1000))
    valid = stream(1, 30)
    replays = valid[:10]  # the same (gateway, epoch, seq) again
    mixed = []
    for n, (topic, payload) in enumerate(valid):
        mixed.append((topic, payload))
        if n < len(corpus):
            mixed.append(corpus[n][:2])
    try:
        publish(broker.port, mixed + replays)
        assert len(wait_for_ledger(tmp_path / "data" / "state.sqlite", 90, timeout_s=30)) == 90
        deadline = time.monotonic() + 30
        while quarantined(tmp_path) and len(quarantined(tmp_path)) < len(corpus) and time.monotonic() < deadline:
            time.sleep(0.1)
        metrics = httpx.get(f"http://127.0.0.1:{http_port}/metrics").text
        assert process.poll() is None  # it never died
    finally:
        stop(process)
    assert sorted(quarantined(tmp_path)) == sorted(reason for _, _, reason in corpus)
    assert audit(tmp_path / "data" / "readings.sqlite", 90, READINGS) == (0, 0)
    value = {line.split()[0]: float(line.split()[1]) for line in metrics.splitlines()
             if line.startswith("pw_messages_") and not line.startswith("#")}
    assert value["pw_messages_received_total"] == 90 + len(corpus) + len(replays)
    assert value["pw_messages_received_total"] == (value["pw_messages_stored_total"]
                                                   + value["pw_messages_duplicate_total"]
                                                   + sum(v for k, v in value.items() if k.startswith("pw_messages_quarantined_total")))


def quarantined(tmp_path) -> list[str]:
    with sqlite3.connect(tmp_path / "data" / "state.sqlite") as db:
        return [row[0] for row in db.execute("SELECT reason FROM quarantine")]
