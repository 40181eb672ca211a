"""The wire protocol: round trips, signatures and every rejection reason."""
from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from edge import protocol
from edge.protocol import DecodeError, Reading

ident = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)
time_ms = st.integers(min_value=0, max_value=2**53 - 1)
tag = st.fixed_dictionaries({"epc": st.from_regex(r"[0-9a-f]{24}", fullmatch=True)},
                            optional={"antenna": st.integers(1, 64), "rssi_dbm": st.integers(-128, 127),
                                      "seen_count": st.integers(1, 1000)})
values_by_kind = {
    "weight": st.fixed_dictionaries({"weight_kg": st.floats(0, 1e7)}, optional={"stable": st.booleans()}),
    "temperature": st.fixed_dictionaries({"temperature_c": st.floats(-273.15, 1000)}),
    "humidity": st.fixed_dictionaries({"humidity_pct": st.floats(0, 100)}),
    "rfid": st.fixed_dictionaries({"tags": st.lists(tag, max_size=5)}),
}
reading = st.sampled_from(sorted(values_by_kind)).flatmap(lambda kind: st.builds(
    Reading, sensor=ident, kind=st.just(kind), time_ms=time_ms, values=values_by_kind[kind],
    quality=st.sampled_from(["good", "uncertain"]), clock_synced=st.booleans(),
    error=st.none() | st.text(max_size=10)))

KEY = Ed25519PrivateKey.generate()
SIGNER = protocol.Signer(KEY)


@settings(max_examples=150, deadline=None)
@given(gateway=ident, epoch=st.integers(0, 2**40), seq=st.integers(1, 2**40), sent=time_ms,
       readings=st.lists(reading, min_size=1, max_size=8))
def test_signed_round_trip_gives_back_every_field(gateway, epoch, seq, sent, readings):
    payload = protocol.encode(gateway, epoch, seq, sent, readings, SIGNER)
    envelope = protocol.decode(payload, protocol.topic(gateway, "data"))
    assert (envelope.gateway, envelope.epoch, envelope.seq, envelope.sent_at_ms) == (gateway, epoch, seq, sent)
    assert envelope.readings == tuple(readings)
    protocol.verify(envelope, KEY.public_key())


def valid_body() -> dict:
    reading = Reading("lot-1-scale", "weight", 1_700_000_000_000, {"weight_kg": 500.0, "stable": True})
    return json.loads(protocol.encode("gw-1", 3, 7, 1_700_000_000_100, [reading], SIGNER))


def mutate(change) -> bytes:
    body = valid_body()
    change(body)
    return json.dumps(body).encode()


def set_value(**values):
    return lambda body: body["readings"][0]["values"].update(values)


REJECTIONS = [
    ("bad_json", b"{not json"),
    ("bad_json", b"\xff\xfe"),
    ("wrong_type", b"[1, 2]"),
    ("non_finite", json.dumps(valid_body()).replace("500.0", "NaN").encode()),
    ("non_finite", json.dumps(valid_body()).replace("500.0", "Infinity").encode()),
    ("non_finite", json.dumps(valid_body()).replace("500.0", "1e999").encode()),
    ("negative_weight", mutate(set_value(weight_kg=-0.5))),
    ("unknown_kind", mutate(lambda b: b["readings"][0].update(kind="pressure"))),
    ("unknown_field", mutate(lambda b: b.update(extra=1))),
    ("unknown_field", mutate(lambda b: b["readings"][0].update(colour="red"))),
    ("unknown_field", mutate(set_value(weight_lb=3))),
    ("missing_field", mutate(lambda b: b.pop("seq"))),
    ("missing_field", mutate(lambda b: b["readings"][0]["values"].pop("weight_kg"))),
    ("wrong_type", mutate(lambda b: b.update(seq="7"))),
    ("wrong_type", mutate(lambda b: b.update(epoch=True))),
    ("wrong_type", mutate(set_value(weight_kg="500"))),
    ("wrong_type", mutate(lambda b: b.update(readings={}))),
    ("unsupported_version", mutate(lambda b: b.update(v=2))),
    ("invalid_id", mutate(lambda b: b.update(gateway="gw/1"))),
    ("batch_size", mutate(lambda b: b.update(readings=[]))),
    ("out_of_range", mutate(lambda b: b.update(seq=0))),
    ("out_of_range", mutate(lambda b: b["readings"][0].update(quality="great"))),
    ("out_of_range", mutate(lambda b: b["readings"][0].update(kind="humidity", values={"humidity_pct": 101}))),
    ("oversize", b" " * (protocol.MAX_MESSAGE_BYTES + 1)),
]


@pytest.mark.parametrize("reason,payload", REJECTIONS, ids=[r for r, _ in REJECTIONS])
def test_each_bad_payload_is_refused_with_its_reason(reason, payload):
    with pytest.raises(DecodeError) as refused:
        protocol.decode(payload)
    assert refused.value.reason == reason


def test_gateway_in_topic_must_match_the_payload():
    payload = json.dumps(valid_body()).encode()
    assert protocol.decode(payload, "pw/v1/gw-1/data").gateway == "gw-1"
    with pytest.raises(DecodeError) as refused:
        protocol.decode(payload, "pw/v1/gw-2/data")
    assert refused.value.reason == "gateway_mismatch"


@pytest.mark.parametrize("topic", ["pw/v1/gw-1", "pw/v2/gw-1/data", "pw/v1/gw-1/other", "pw/v1/+/data"])
def test_malformed_topics_are_refused(topic):
    with pytest.raises(DecodeError) as refused:
        protocol.decode(json.dumps(valid_body()).encode(), topic)
    assert refused.value.reason == "bad_topic"


def test_a_changed_value_breaks_the_signature():
    envelope = protocol.decode(mutate(set_value(weight_kg=5000.0)))
    with pytest.raises(DecodeError) as refused:
        protocol.verify(envelope, KEY.public_key())
    assert refused.value.reason == "bad_signature"


def test_another_gateways_key_does_not_verify():
    envelope = protocol.decode(json.dumps(valid_body()).encode())
    with pytest.raises(DecodeError, match="unknown key"):
        protocol.verify(envelope, Ed25519PrivateKey.generate().public_key())


def test_key_order_and_spacing_do_not_matter_to_the_signature():
    reordered = json.dumps(valid_body(), sort_keys=False, indent=2).encode()
    protocol.verify(protocol.decode(reordered), KEY.public_key())


def test_unsigned_messages_decode_but_do_not_verify():
    reading = Reading("s-1", "temperature", 1, {"temperature_c": -20.5})
    envelope = protocol.decode(protocol.encode("gw-1", 1, 1, 1, [reading], None))
    assert envelope.signature is None
    with pytest.raises(DecodeError, match="not signed"):
        protocol.verify(envelope, KEY.public_key())


def test_a_bad_reading_may_carry_no_measurement_but_an_error_code():
    reading = Reading("lot-1-scale", "weight", 1, {}, quality="bad", error="E07")
    envelope = protocol.decode(protocol.encode("gw-1", 1, 1, 1, [reading], None))
    assert envelope.readings[0].error == "E07"


def test_ack_and_state_round_trip():
    legacy = b'{"acked_seq":99,"epoch":4,"gateway":"gw-1","v":1}'  # what older backends send
    assert protocol.encode_ack(protocol.Ack("gw-1", 4, 99)) == legacy
    assert protocol.decode_ack(legacy) == protocol.Ack("gw-1", 4, 99)
    assert not protocol.decode_ack(legacy).ranged
    state = protocol.decode_state(protocol.encode_state("gw-1", True, 4, {"firmware": "1.0"}))
    assert (state.gateway, state.online, state.epoch, state.info) == ("gw-1", True, 4, {"firmware": "1.0"})


def test_shared_subscription_filter():
    assert protocol.subscription("data") == "pw/v1/+/data"
    assert protocol.subscription("data", "pw-ingest") == "$share/pw-ingest/pw/v1/+/data"


@given(st.from_regex(protocol.topics.IDENTIFIER, fullmatch=True), st.sampled_from(protocol.CHANNELS))
def test_a_topic_becomes_a_nats_subject_and_back(gateway, channel):
    topic = protocol.topic(gateway, channel)
    subject = protocol.nats_subject(topic)
    assert subject.split(".")[:2] == ["pw", "v1"] and len(subject.split(".")) == 4  # one token per level
    assert protocol.mqtt_topic(subject) == topic


def test_nats_subjects_follow_the_servers_mapping():
    assert protocol.nats_subject("pw/v1/gw-1/data") == "pw.v1.gw-1.data"
    assert protocol.nats_subject("pw/v1/gw.sh.1/ack") == "pw.v1.gw//sh//1.ack"  # nats-server 2.10 on
    assert protocol.subject_filter("drops") == "pw.v1.*.drops"


def test_a_ranged_ack_carries_stored_refused_and_dropped_seqs_signed():
    key = Ed25519PrivateKey.generate()
    ack = protocol.Ack("gw-1", 4, 1, stored=(1, 3, 4, 5), refused={2: "future_timestamp"}, dropped=(7, 8))
    wire = protocol.encode_ack(ack, protocol.Signer(key))
    assert json.loads(wire)["stored"] == [[1, 1], [3, 5]]
    decoded = protocol.decode_ack(wire)
    assert decoded == ack and decoded.ranged
    protocol.verify_ack(decoded, key.public_key())
    with pytest.raises(DecodeError, match="bad_signature"):
        protocol.verify_ack(decoded, Ed25519PrivateKey.generate().public_key())
    # An unsigned ranged ack does not verify either.
    with pytest.raises(DecodeError, match="bad_signature"):
        protocol.verify_ack(protocol.decode_ack(protocol.encode_ack(ack)), key.public_key())


def test_a_forged_nack_does_not_verify():
    key = Ed25519PrivateKey.generate()
    body = json.loads(protocol.encode_ack(protocol.Ack("gw-1", 4, 0, (), {}, ()), protocol.Signer(key)))
    body["refused"] = [{"seq": 3, "reason": "future_timestamp"}]  # a nack the backend never signed
    with pytest.raises(DecodeError, match="bad_signature"):
        protocol.verify_ack(protocol.decode_ack(json.dumps(body).encode()), key.public_key())


@pytest.mark.parametrize("ranges", [[[3, 2]], [[0, 1]], [[1, protocol.MAX_SEQS_PER_NOTICE + 1]], [[1]], "x"])
def test_bad_seq_ranges_are_refused(ranges):
    key = Ed25519PrivateKey.generate()
    body = json.loads(protocol.encode_drops(protocol.DropNotice("gw-1", 2, (5,), 1), protocol.Signer(key)))
    body["seqs"] = ranges
    with pytest.raises(DecodeError):
        protocol.decode_drops(json.dumps(body).encode())


def test_a_drop_notice_round_trips_signed_on_its_own_topic():
    key = Ed25519PrivateKey.generate()
    notice = protocol.DropNotice("gw-1", 2, (5, 6, 7, 9), 1_800_000_000_000)
    wire = protocol.encode_drops(notice, protocol.Signer(key))
    decoded = protocol.decode_drops(wire, "pw/v1/gw-1/drops")
    assert (decoded.gateway, decoded.epoch, decoded.seqs) == ("gw-1", 2, (5, 6, 7, 9))
    protocol.verify_drops(decoded, key.public_key())
    with pytest.raises(DecodeError, match="gateway_mismatch"):
        protocol.decode_drops(wire, "pw/v1/gw-2/drops")
    with pytest.raises(DecodeError, match="bad_signature"):  # the contexts keep types apart
        protocol.verify_signature(decoded.signature, decoded.signed_bytes, key.public_key(),
                                  protocol.ACK_SIGNING_CONTEXT)
