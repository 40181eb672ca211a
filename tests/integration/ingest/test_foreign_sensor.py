"""A gateway may report only the sensors registered under it: gw-qingdao, signing with its own
valid key, reports a Shanghai scale -> quarantined as foreign_sensor, never stored, never
mapped to a lot, and tamper_detected on both gateways. Real Mosquitto, real ingest, real stores."""
from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from helpers import public_pem
from waiting import wait_for

from backend.bootstrap import build_context
from backend.domain.alerts import AlertOpened
from backend.ports.ingest import ReadingQuery, StoredReading
from backend.services.monitor import lot_samples
from backend.settings import BackendSettings
from edge import protocol

BOOK = Path(__file__).resolve().parents[3] / "seeds" / "demo.yaml"
GATEWAYS = ("gw-shanghai", "gw-qingdao", "gw-ningbo")
WAIT_S = 20


@pytest.fixture
def backend(mosquitto, tmp_path):
    keys = {gw: Ed25519PrivateKey.generate() for gw in GATEWAYS}
    context = build_context(BackendSettings(
        data_dir=tmp_path / "data", book=BOOK, roles=["ingest", "monitor"],
        broker={"port": mosquitto.port}, ingest={"client_id": f"pw-ingest-{time.monotonic_ns()}"},
        gateways=[{"id": gw, "public_key_pem": public_pem(key)} for gw, key in keys.items()]))
    context.ingest.start()  # the monitor is ticked by the test
    assert context.ingest.connected.wait(WAIT_S)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, client_id="t-gateway")
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()

    def publish(gateway: str, seq: int, sensor: str) -> None:
        now_ms = int(time.time() * 1000)
        reading = protocol.Reading(sensor, "weight", now_ms, {"weight_kg": 125.0})
        payload = protocol.encode(gateway, 1, seq, now_ms, [reading], protocol.Signer(keys[gateway]))
        client.publish(protocol.topic(gateway, "data"), payload, qos=1).wait_for_publish(WAIT_S)

    yield context, publish
    client.loop_stop()
    client.disconnect()
    context.close()


def test_a_gateway_reporting_another_warehouses_scale_is_quarantined_and_both_gateways_flagged(backend):
    context, publish = backend
    publish("gw-qingdao", 1, "lot-qd-1-scale")
    publish("gw-qingdao", 2, "lot-sh-1-scale")  # Shanghai's scale, signed with Qingdao's own valid key
    publish("gw-qingdao", 3, "lot-qd-1-scale")  # the marker: ingest handles a gateway's messages in order
    assert wait_for(lambda: context.readings.count() >= 2, WAIT_S)
    stored = context.readings.query(ReadingQuery())
    assert [(r.gateway, r.sensor) for r in stored] == [("gw-qingdao", "lot-qd-1-scale")] * 2
    # the ledger commits the quarantine a moment after the readings are queryable
    assert wait_for(lambda: len(context.ledger.quarantined(10)) == 1, WAIT_S)
    [quarantined] = context.ledger.quarantined(10)
    assert quarantined.reason == "foreign_sensor"
    assert "lot-sh-1-scale (gw-shanghai)" in quarantined.detail
    # counted once the batch it came in is committed (a moment after the readings are queryable)
    assert wait_for(lambda: context.metrics.messages_quarantined.labels("foreign_sensor")._value.get() == 1, WAIT_S)
    assert b'pw_messages_quarantined_total{reason="foreign_sensor"} 1.0' in context.metrics.render()

    events = context.monitor.tick()
    tampered = sorted(e.alert.gateway for e in events if isinstance(e, AlertOpened)
                      and e.alert.type == "tamper_detected")
    assert tampered == ["gw-qingdao", "gw-shanghai"]


def test_a_reading_stored_under_another_gateway_never_reaches_a_lot(backend):
    """Even if one got stored (before this check existed), the monitor maps a sensor to its
    lot only when its own gateway reported it."""
    context, _ = backend
    registry = context.registry.snapshot()
    now_ms = int(time.time() * 1000)
    reading = lambda gateway: StoredReading(1, gateway, "lot-sh-1-scale", "weight", now_ms, "good",  # noqa: E731
                                            {"weight_kg": 0.0}, False)
    assert lot_samples([reading("gw-qingdao")], registry) == {}
    assert [s.lot_id for s in lot_samples([reading("gw-shanghai")], registry)["gw-shanghai"]] == ["lot-sh-1"]
