"""The JetStream ingest with storage failing: nothing is acknowledged to JetStream that was
not stored; what it offers again once ingest gives up is stored exactly once when storage is
back, and then every message is acknowledged (the consumer holds nothing)."""
from __future__ import annotations

import asyncio

import nats
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from helpers import NOW_MS, mixed_readings
from waiting import wait_for

from backend.adapters.jetstream_ingest import JetStreamIngest
from backend.adapters.sqlite_ledger import SqliteIngestLedger
from backend.metrics import Metrics
from backend.services.ingest import IngestService
from backend.settings import IngestSettings
from edge import protocol
from tests.integration.ingest.test_mqtt_ingest_storage_down import FailingStore

pytestmark = pytest.mark.integration
MESSAGES = 30


async def publish_all(servers: list[str], key: Ed25519PrivateKey) -> None:
    """As the MQTT listener does with a gateway's QoS 1 publish: onto the subject."""
    connection = await nats.connect(servers)
    signer = protocol.Signer(key)
    for seq in range(1, MESSAGES + 1):
        payload = protocol.encode("gw-1", 1, seq, NOW_MS, mixed_readings(seq, NOW_MS), signer)
        await connection.jetstream().publish(protocol.nats_subject(protocol.topic("gw-1", "data")), payload)
    await connection.close()


async def consumer_holds(servers: list[str], settings: IngestSettings) -> tuple[int, int]:
    """(messages not yet delivered, delivered but unacknowledged) of the shared consumer."""
    connection = await nats.connect(servers)
    info = await connection.jetstream().consumer_info(settings.jetstream.stream, settings.jetstream.durable)
    await connection.close()
    return info.num_pending, info.num_ack_pending


def test_messages_refused_by_storage_are_offered_again_and_stored_once(tmp_path, nats_cluster):
    key = Ed25519PrivateKey.generate()
    store = FailingStore(tmp_path / "readings.sqlite", failures=4)  # more than one round of retries
    ledger = SqliteIngestLedger(tmp_path / "state.sqlite")
    settings = IngestSettings(client_id="pw-ingest-t", source="jetstream",
                              jetstream={"servers": nats_cluster.nats_urls})
    service = IngestService(store, ledger, {"gw-1": key.public_key()}, settings, Metrics())
    ingest = JetStreamIngest(settings, service, storage_retry_s=(0.05, 0.05))
    ingest.start()
    try:
        assert ingest.connected.wait(30)
        asyncio.run(publish_all(nats_cluster.nats_urls, key))
        assert wait_for(lambda: store.count() == MESSAGES * 3, timeout_s=30), store.count()
        assert wait_for(lambda: asyncio.run(consumer_holds(nats_cluster.nats_urls, settings)) == (0, 0), timeout_s=10)
    finally:
        ingest.stop()
    assert store.refused == 4
    assert store.count() == MESSAGES * 3                 # three readings per message, each once
    assert ledger.contiguous_seqs([("gw-1", 1)]) == {("gw-1", 1): MESSAGES}
    store.close()
    ledger.close()
