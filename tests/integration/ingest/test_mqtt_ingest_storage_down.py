"""Storage failing under ingest: nothing is acknowledged that was not stored, and what the
broker redelivers once ingest gives up is stored exactly once when storage is back."""
from __future__ import annotations

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from helpers import NOW_MS, mixed_readings
from waiting import wait_for

from backend.adapters.mqtt_ingest import MqttIngest
from backend.adapters.sqlite_ledger import SqliteIngestLedger
from backend.adapters.sqlite_readings import SqliteReadingStore
from backend.metrics import Metrics
from backend.services.ingest import IngestService
from backend.settings import IngestSettings
from edge import protocol
from edge.protocol.broker import BrokerSettings

MESSAGES = 30


class FailingStore(SqliteReadingStore):
    """Refuses its first `failures` writes, as a full disk would."""

    def __init__(self, path, failures: int) -> None:
        super().__init__(path)
        self.failures, self.refused = failures, 0

    def append(self, messages):
        if self.refused < self.failures:
            self.refused += 1
            raise OSError("disk full (simulated)")
        return super().append(messages)


def publish_all(port: int, key: Ed25519PrivateKey) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gw-1", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    signer = protocol.Signer(key)
    infos = [client.publish(protocol.topic("gw-1", "data"),
                            protocol.encode("gw-1", 1, seq, NOW_MS, mixed_readings(seq, NOW_MS), signer),
                            qos=1) for seq in range(1, MESSAGES + 1)]
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def test_messages_refused_by_storage_are_redelivered_and_stored_once(tmp_path, mosquitto):
    key = Ed25519PrivateKey.generate()
    store = FailingStore(tmp_path / "readings.sqlite", failures=4)  # more than one round of retries
    ledger = SqliteIngestLedger(tmp_path / "state.sqlite")
    service = IngestService(store, ledger, {"gw-1": key.public_key()}, IngestSettings(), Metrics())
    ingest = MqttIngest(BrokerSettings(port=mosquitto.port), IngestSettings(client_id="pw-ingest-t"),
                        service, storage_retry_s=(0.05, 0.05))
    ingest.start()
    try:
        assert ingest.connected.wait(10)
        publish_all(mosquitto.port, key)
        wait_for(lambda: store.count() == MESSAGES * 3, timeout_s=30)
    finally:
        ingest.stop()
    assert store.refused == 4
    assert store.count() == MESSAGES * 3                 # three readings per message, each once
    assert ledger.contiguous_seqs([("gw-1", 1)]) == {("gw-1", 1): MESSAGES}
    store.close()
    ledger.close()
