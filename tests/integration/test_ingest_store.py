"""Ingest service on the real stores: dedup, quarantine, acks, the books balance. The ledger
is the SQLite file or the database one (SQLite and PostgreSQL): the same rules hold."""
from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.adapters.db.engine import make_engine, migrate
from backend.adapters.db.ledger_repo import SqlIngestLedger
from backend.adapters.sqlite_ledger import SqliteIngestLedger
from backend.adapters.sqlite_readings import SqliteReadingStore
from backend.metrics import Metrics
from backend.ports.ingest import InboundMessage, ReadingQuery
from backend.services.ingest import IngestService
from backend.settings import IngestSettings
from edge import protocol

NOW_S = 1_800_000_000.0
KEY = Ed25519PrivateKey.generate()
SIGNER = protocol.Signer(KEY)


@pytest.fixture(params=["file", "sqlite", "postgresql"])
def ledger(request, tmp_path):
    """The SQLite file ledger, or the database ledger on SQLite or PostgreSQL."""
    if request.param == "file":
        yield SqliteIngestLedger(tmp_path / "state.sqlite")
        return
    url = (f"sqlite:///{tmp_path / 'registry.sqlite'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_server").new_database())
    engine = make_engine(url)
    migrate(engine)
    yield SqlIngestLedger(engine)
    engine.dispose()


@pytest.fixture
def ingest(tmp_path, ledger):
    readings = SqliteReadingStore(tmp_path / "readings.sqlite")
    service = IngestService(readings, ledger, {"gw-1": KEY.public_key(), "gw-open": None},
                            IngestSettings(), Metrics())
    yield service
    readings.close()
    ledger.close()


def message(seq: int, n: int = 3, gateway: str = "gw-1", epoch: int = 1, t_ms: int | None = None,
            signer=SIGNER) -> InboundMessage:
    t_ms = int(NOW_S * 1000) if t_ms is None else t_ms
    readings = [protocol.Reading(f"s-{i}", "weight", t_ms, {"weight_kg": 10.0 * i}) for i in range(n)]
    payload = protocol.encode(gateway, epoch, seq, t_ms, readings, signer)
    return InboundMessage(protocol.topic(gateway, "data"), payload, NOW_S)


def counter(service, name: str, **labels) -> float:
    return service.metrics.registry.get_sample_value(name, labels or None) or 0.0


def acked(acks) -> dict:
    """{(gateway, epoch): acked_seq} of what ingest returned."""
    return {key: ack.acked_seq for key, ack in acks.items()}


def test_redelivered_messages_are_stored_once(ingest):
    acks = ingest.ingest([message(1), message(2), message(2)], NOW_S)
    assert acks == {("gw-1", 1): protocol.Ack("gw-1", 1, 2, (1, 2))}
    # re-ack for a resend
    assert ingest.ingest([message(1)], NOW_S) == {("gw-1", 1): protocol.Ack("gw-1", 1, 2, (1,))}
    assert ingest.readings.count() == 6
    assert counter(ingest, "pw_messages_duplicate_total") == 2
    assert counter(ingest, "pw_readings_duplicate_total") == 6


def test_the_acked_seq_is_the_highest_contiguous_seq_per_epoch(ingest):
    assert acked(ingest.ingest([message(1), message(3)], NOW_S)) == {("gw-1", 1): 1}
    assert acked(ingest.ingest([message(2)], NOW_S)) == {("gw-1", 1): 3}
    assert acked(ingest.ingest([message(1, epoch=2)], NOW_S)) == {("gw-1", 2): 1}
    status = {g.gateway: g for g in ingest.ledger.gateways()}["gw-1"]
    assert (status.boot_epoch, status.last_seq, status.acked_seq, status.missing_seqs) == (2, 1, 1, 0)


def test_progress_follows_gaps_filled_in_later_batches(ingest):
    assert acked(ingest.ingest([message(2), message(3)], NOW_S)) == {("gw-1", 1): 0}
    assert acked(ingest.ingest([message(1)], NOW_S)) == {("gw-1", 1): 3}
    assert acked(ingest.ingest([message(4), message(6)], NOW_S)) == {("gw-1", 1): 4}
    assert acked(ingest.ingest([message(5), message(7)], NOW_S)) == {("gw-1", 1): 7}
    status = ingest.ledger.gateways()[0]
    assert (status.last_seq, status.acked_seq, status.missing_seqs) == (7, 7, 0)


def test_gaps_are_counted_as_missing_seqs(ingest):
    ingest.ingest([message(1), message(4), message(5)], NOW_S)
    status = ingest.ledger.gateways()[0]
    assert (status.last_seq, status.acked_seq, status.missing_seqs) == (5, 1, 2)


def test_each_batch_is_settled_past_a_refused_one(ingest):
    """Issue 19: seq 2 an hour in the future used to pin every ack at 1."""
    future = message(2, t_ms=int((NOW_S + 3600) * 1000))
    acks = [ingest.ingest([m], NOW_S)[("gw-1", 1)] for m in (message(1), future, message(3), message(4),
                                                            message(5))]
    assert [a.acked_seq for a in acks] == [1, 2, 3, 4, 5]
    assert acks[1].refused == {2: "future_timestamp"} and acks[1].stored == ()
    assert [a.stored for a in acks[2:]] == [(3,), (4,), (5,)]
    # The gateway resends seq 2 (it missed the nack): refused again, no second ledger row.
    assert ingest.ingest([future], NOW_S)[("gw-1", 1)].refused == {2: "future_timestamp"}
    status = ingest.ledger.gateways()[0]
    assert (status.acked_seq, status.missing_seqs, status.refused_seqs, status.dropped_seqs) == (5, 0, 1, 0)


def test_a_forged_message_earns_no_refusal(ingest):
    forged = message(2, signer=protocol.Signer(Ed25519PrivateKey.generate()))
    assert ingest.ingest([message(1), forged], NOW_S)[("gw-1", 1)] == protocol.Ack("gw-1", 1, 1, (1,))
    assert [q.reason for q in ingest.ledger.quarantined(10)] == ["bad_signature"]


def drops(*seqs: int, epoch: int = 1, signer=SIGNER, gateway: str = "gw-1") -> InboundMessage:
    notice = protocol.DropNotice(gateway, epoch, seqs, int(NOW_S * 1000))
    return InboundMessage(protocol.topic(gateway, "drops"), protocol.encode_drops(notice, signer), NOW_S)


def test_announced_drops_are_told_apart_from_unknown_gaps(ingest):
    ingest.ingest([message(1), message(5), message(7)], NOW_S)
    assert ingest.ledger.gateways()[0].missing_seqs == 4  # 2, 3, 4, 6: nobody knows why yet
    ack = ingest.ingest([drops(1, 2, 3)], NOW_S)[("gw-1", 1)]
    # seq 1 had arrived (evicted after sending): stored, not a drop; 2 and 3 are.
    assert (ack.stored, ack.dropped, ack.acked_seq) == ((1,), (2, 3), 3)
    status = ingest.ledger.gateways()[0]
    assert (status.missing_seqs, status.dropped_seqs, status.acked_seq) == (2, 2, 3)
    # A batch announced dropped that turns up after all is stored, and no longer a drop.
    assert ingest.ingest([message(3)], NOW_S)[("gw-1", 1)].stored == (3,)
    status = ingest.ledger.gateways()[0]
    assert (status.missing_seqs, status.dropped_seqs, status.acked_seq) == (2, 1, 3)
    assert ingest.readings.count() == 4 * 3


def test_a_forged_drop_notice_is_quarantined_and_settles_nothing(ingest):
    forged = drops(2, signer=protocol.Signer(Ed25519PrivateKey.generate()))
    assert ingest.ingest([message(1), forged, drops(4, gateway="gw-x")], NOW_S) == {
        ("gw-1", 1): protocol.Ack("gw-1", 1, 1, (1,))}
    assert sorted(q.reason for q in ingest.ledger.quarantined(10)) == ["bad_signature", "unknown_gateway"]
    assert ingest.ledger.gateways()[0].dropped_seqs == 0


def test_ack_messages_are_signed_ranged_then_legacy(ingest):
    key = Ed25519PrivateKey.generate()
    ingest.ack_signer = protocol.Signer(key)
    acks = ingest.ingest([message(1), message(3)], NOW_S)
    (topic, ranged), (_, legacy) = ingest.ack_messages(acks)
    assert topic == "pw/v1/gw-1/ack"
    decoded = protocol.decode_ack(ranged)
    protocol.verify_ack(decoded, key.public_key())
    assert decoded.stored == (1, 3)
    assert protocol.decode_ack(legacy) == protocol.Ack("gw-1", 1, 1)
    ingest.settings = IngestSettings(legacy_acks=False)
    assert len(ingest.ack_messages(acks)) == 1


def test_bad_messages_are_quarantined_with_reasons_and_good_ones_flow(ingest):
    good = [message(seq) for seq in (1, 2, 3)]
    forged = message(4, signer=protocol.Signer(Ed25519PrivateKey.generate()))
    body = json.loads(message(5).payload)
    body["readings"][0]["values"]["weight_kg"] = 999.0  # tampered after signing
    tampered = InboundMessage(good[0].topic, json.dumps(body).encode(), NOW_S)
    stranger = message(1, gateway="gw-x")
    future = message(6, t_ms=int((NOW_S + 3600) * 1000))
    garbage = InboundMessage(good[0].topic, b"\x00garbage", NOW_S)
    nan = InboundMessage(good[0].topic, message(7).payload.replace(b"0.0", b"NaN", 1), NOW_S)
    wrong_topic = InboundMessage("pw/v1/gw-2/data", message(8).payload, NOW_S)

    ingest.ingest([good[0], forged, tampered, good[1], stranger, future, garbage, nan, wrong_topic,
                   good[2]], NOW_S)

    reasons = sorted(q.reason for q in ingest.ledger.quarantined(100))
    assert reasons == sorted(["bad_signature", "bad_signature", "unknown_gateway", "future_timestamp",
                              "bad_json", "non_finite", "gateway_mismatch"])
    assert ingest.readings.count() == 9
    assert counter(ingest, "pw_messages_quarantined_total", reason="bad_signature") == 2
    received = counter(ingest, "pw_readings_received_total")
    assert received == (counter(ingest, "pw_readings_stored_total") + counter(ingest, "pw_readings_duplicate_total")
                        + counter(ingest, "pw_readings_quarantined_total"))
    assert received == 9 + 6 * 3 + 1  # garbage counts as one reading


def test_an_unsigned_message_from_a_keyed_gateway_is_refused(ingest):
    ingest.ingest([message(1, signer=None), message(1, gateway="gw-open", signer=None)], NOW_S)
    assert sorted(q.reason for q in ingest.ledger.quarantined(10)) == ["bad_signature", "unsigned"]


def test_old_readings_are_stored_as_historical(ingest):
    ingest.ingest([message(1, t_ms=int((NOW_S - 3600) * 1000)), message(2)], NOW_S)
    rows = ingest.readings.query(ReadingQuery())
    assert [r.historical for r in rows] == [True] * 3 + [False] * 3


def test_query_filters_and_pages(ingest):
    ingest.ingest([message(seq, n=10) for seq in range(1, 4)], NOW_S)
    first = ingest.readings.query(ReadingQuery(sensors=["s-1", "s-2"], limit=4))
    assert [r.sensor for r in first] == ["s-1", "s-2", "s-1", "s-2"]
    rest = ingest.readings.query(ReadingQuery(sensors=["s-1", "s-2"], after_id=first[-1].id))
    assert len(rest) == 2
    assert ingest.readings.query(ReadingQuery(from_ms=int(NOW_S * 1000) + 1)) == []


def test_birth_and_death_update_the_gateway_state(ingest):
    topic = protocol.topic("gw-1", "state")
    ingest.gateway_state(InboundMessage(topic, protocol.encode_state("gw-1", True, 9, {"fw": "1"}), NOW_S))
    assert ingest.ledger.gateways()[0].online and ingest.ledger.gateways()[0].boot_epoch == 9
    ingest.gateway_state(InboundMessage(topic, protocol.encode_state("gw-1", False, 9), NOW_S + 1))
    assert not ingest.ledger.gateways()[0].online
    ingest.gateway_state(InboundMessage(topic, protocol.encode_state("gw-2", True, 1), NOW_S))
    assert [q.reason for q in ingest.ledger.quarantined(10)] == ["gateway_mismatch"]
