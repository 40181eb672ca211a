"""Hypothesis against the decoders: only DecodeError ever escapes, and the backend's fast
path never accepts what the reference decoder (edge/protocol/codec.py) refuses, nor differs from it."""
from __future__ import annotations

import json

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from backend.adapters.sqlite_readings import main_value, message_rows
from backend.metrics import Metrics
from backend.ports.ingest import AcceptedMessage, InboundMessage
from backend.services.ingest import IngestService
from backend.settings import IngestSettings
from edge import protocol
from edge.protocol import wire_fast

KEY = Ed25519PrivateKey.generate()
TOPIC = protocol.topic("gw-1", "data")
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**60, 2**60), st.floats(allow_nan=False),
                     st.text(max_size=12), st.sampled_from(["gw-1", "weight", "rfid", "good", "bad", "s-1"]))
_json = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=5)), max_leaves=20)


def valid_body(seq: int, weight: float) -> dict:
    readings = [protocol.Reading("s-1", "weight", 1_700_000_000_000, {"weight_kg": weight, "stable": True}),
                protocol.Reading("r-1", "rfid", 1_700_000_000_000, {"tags": [{"epc": "3034f8a1c0000001"}]})]
    return json.loads(protocol.encode("gw-1", 1, seq, 1_700_000_000_000, readings, protocol.Signer(KEY)))


def reference(payload: bytes):
    try:
        return protocol.decode(payload, TOPIC)
    except protocol.DecodeError:
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_decode_errors(payload):
    assert reference(payload) is None
    assert wire_fast.decode_plain(payload, TOPIC) is None


@settings(max_examples=400, deadline=None)
@given(seq=st.integers(1, 2**40), weight=st.floats(0, 1e9), path=st.sampled_from(
    [("seq",), ("v",), ("gateway",), ("readings",), ("readings", 0), ("readings", 0, "kind"),
     ("readings", 0, "values"), ("readings", 0, "values", "weight_kg"), ("readings", 0, "quality"),
     ("readings", 0, "time_ms"), ("readings", 1, "values", "tags", 0, "epc"), ("sig", "value"), ("extra",)]),
    replacement=_json)
# Found by this test on a clean clone: an integer weight past 2**53 the reference refuses (a float
# could not hold it exactly) and the fast path took.
@example(seq=1, weight=1.0, path=("readings", 0, "values", "weight_kg"), replacement=2**60)
def test_a_mutated_message_gets_the_same_verdict_from_both_paths(seq, weight, path, replacement):
    body = valid_body(seq, weight)
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = replacement
    payload = json.dumps(body).encode()
    expected = reference(payload)
    fast = wire_fast.decode_plain(payload, TOPIC)
    if fast is not None:  # the fast path may decline; when it accepts it must agree exactly
        assert expected is not None
        assert (fast.gateway, fast.epoch, fast.seq, fast.readings, fast.signature) == (
            expected.gateway, expected.epoch, expected.seq, expected.readings, expected.signature)
        # What the SQLite store writes comes from the fast path's rows: the reference's readings.
        rows, rfid, min_ms = message_rows(AcceptedMessage(fast, 0, 0))
        assert rows == [(expected.gateway, expected.epoch, expected.seq, idx, r.sensor, r.kind, r.time_ms,
                         r.quality, main_value(r.kind, r.values), orjson.dumps(r.values).decode())
                        for idx, r in enumerate(expected.readings)]
        assert rfid == [(r.sensor, r.time_ms, r.values) for r in expected.readings
                        if r.kind == "rfid" and r.quality != "bad"]
        assert min_ms == min(r.time_ms for r in expected.readings)


@settings(max_examples=100, deadline=None)
@given(seq=st.integers(1, 2**40), weight=st.floats(0, 1e12))
def test_ingest_accepts_every_validly_signed_message(seq, weight):
    """orjson spells some floats (6.1e-05) unlike the reference: the fast check then
    fails and ingest asks the reference, so the verdict never changes."""
    payload = json.dumps(valid_body(seq, weight)).encode()
    service = IngestService(None, None, {"gw-1": KEY.public_key()}, IngestSettings(), Metrics())
    accepted = service._accept(InboundMessage(TOPIC, payload, 1_700_000_000.0), 1_700_000_000.0)
    assert accepted.envelope == reference(payload)


@settings(max_examples=100, deadline=None)
@given(seq=st.integers(1, 2**40), weight=st.floats(0, 1e12))
def test_the_fast_check_never_passes_a_signature_the_reference_refuses(seq, weight):
    body = valid_body(seq, weight)
    body["readings"][0]["values"]["weight_kg"] = weight + 1  # changed after signing
    payload = json.dumps(body).encode()
    fast = wire_fast.decode_plain(payload, TOPIC)
    assert fast is not None and not wire_fast.Verifier().verify(fast, KEY.public_key())


def test_a_huge_integer_weight_is_a_decode_error():
    body = valid_body(1, 1.0)
    payload = json.dumps(body).encode().replace(b'"weight_kg": 1.0', b'"weight_kg": 1' + b"0" * 400)
    assert reference(payload) is None
