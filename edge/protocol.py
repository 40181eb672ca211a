"""PledgeWatch wire protocol, version 1: the one definition of topics and payloads.

Everything that crosses MQTT is spelled here and nowhere else; the edge agent, the
backend and the simulators import it. Only the standard library and `cryptography`.
docs/protocol.md describes the same format for people (with a real example).

Topics (``<gw>`` is the gateway id):
    pw/v1/<gw>/data   gateway -> backend   signed batch of readings (QoS 1)
    pw/v1/<gw>/state  gateway -> all       birth / death (retained; death is the will)
    pw/v1/<gw>/ack    backend -> gateway   seqs stored / refused / known dropped, per boot epoch
    pw/v1/<gw>/drops  gateway -> backend   seqs its outbox size cap dropped unsent, signed
    pw/v1/<gw>/heartbeat  gateway -> all   liveness and counters every N s (QoS 0)
    pw/v1/<gw>/cmd    backend -> gateway   remote command, signed by the backend's command key
    pw/v1/<gw>/cmd-result gateway -> backend  what came of a command, signed by the gateway

Signatures: Ed25519 over CONTEXT + canonical bytes, where the canonical bytes are the
envelope without ``sig`` as compact JSON with sorted keys (UTF-8, no NaN). The decoder
keeps those bytes, so a verifier checks exactly what was parsed. Each signed message
type has its own CONTEXT, so no signature can be replayed as another type.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PROTOCOL_VERSION = 1
TOPIC_ROOT = "pw/v1"
FROM_GATEWAY = ("data", "state", "heartbeat", "cmd-result", "drops")  # what a gateway publishes
TO_GATEWAY = ("ack", "cmd")  # what the backend publishes to one gateway (the broker ACL follows both)
CHANNELS = FROM_GATEWAY + TO_GATEWAY
MAX_MESSAGE_BYTES = 256 * 1024
MAX_READINGS_PER_MESSAGE = 1000
READING_KINDS = ("rfid", "weight", "temperature", "humidity")
QUALITIES = ("good", "uncertain", "bad")
SIGNATURE_ALG = "ed25519"
# Domain separation: a data signature can never be replayed as another message type.
DATA_SIGNING_CONTEXT = b"pledgewatch/v1/data\x00"
COMMAND_SIGNING_CONTEXT = b"pledgewatch/v1/cmd\x00"
COMMAND_RESULT_SIGNING_CONTEXT = b"pledgewatch/v1/cmd-result\x00"
ACK_SIGNING_CONTEXT = b"pledgewatch/v1/ack\x00"
DROPS_SIGNING_CONTEXT = b"pledgewatch/v1/drops\x00"
MAX_SEQS_PER_NOTICE = 100_000  # what one ack or drop notice may name (bounds the work it causes)
COMMANDS = ("set_interval", "rebirth", "rotate_key")
COMMAND_STATUSES = ("ok", "refused", "failed")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EPC_HEX = re.compile(r"^[0-9a-f]{8,64}$")
_MAX_INT = 2**53 - 1  # what every JSON reader keeps exact

# Machine-readable reasons a payload is refused.
DECODE_REASONS = (
    "oversize", "bad_json", "non_finite", "wrong_type", "missing_field", "unknown_field",
    "unsupported_version", "invalid_id", "batch_size", "unknown_kind", "negative_weight",
    "out_of_range", "gateway_mismatch", "bad_topic", "bad_signature",
)


class DecodeError(ValueError):
    """The other side sent something we refuse; `reason` is one of DECODE_REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        assert reason in DECODE_REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# ---------------------------------------------------------------- topics

def topic(gateway: str, channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if not _ID.match(gateway):
        raise ValueError(f"invalid gateway id {gateway!r}")
    return f"{TOPIC_ROOT}/{gateway}/{channel}"


def subscription(channel: str, share_group: str | None = None) -> str:
    """Filter for one channel of every gateway, optionally as an MQTT 5 shared subscription."""
    pattern = f"{TOPIC_ROOT}/+/{channel}"
    return f"$share/{share_group}/{pattern}" if share_group else pattern


def parse_topic(name: str) -> tuple[str, str]:
    """'pw/v1/gw-1/data' -> ('gw-1', 'data')."""
    parts = name.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT or parts[3] not in CHANNELS \
            or not _ID.match(parts[2]):
        raise DecodeError("bad_topic", f"not a {TOPIC_ROOT} topic: {name!r}")
    return parts[2], parts[3]


# ---------------------------------------------------------------- values

@dataclass(frozen=True)
class Reading:
    sensor: str
    kind: str
    time_ms: int  # device time, ms since the Unix epoch
    values: Mapping[str, Any]
    quality: str = "good"
    clock_synced: bool = True  # False: taken before the gateway's clock was synced
    error: str | None = None  # device error code when quality is "bad"

    def to_json(self) -> dict[str, Any]:
        out = {"sensor": self.sensor, "kind": self.kind, "time_ms": self.time_ms,
               "values": dict(self.values), "quality": self.quality}
        if not self.clock_synced:
            out["clock_synced"] = False
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class Signature:
    key_id: str  # fingerprint of the public key that signed
    value: bytes


@dataclass(frozen=True)
class Envelope:
    gateway: str
    epoch: int  # boot epoch, persisted by the gateway, +1 per start
    seq: int  # 1, 2, 3 ... within an epoch
    sent_at_ms: int
    readings: tuple[Reading, ...]
    signature: Signature | None = None
    # The exact bytes the signature covers (set by decode/encode).
    signed_bytes: bytes = field(default=b"", compare=False, repr=False)

    def body(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "gateway": self.gateway, "epoch": self.epoch,
                "seq": self.seq, "sent_at_ms": self.sent_at_ms,
                "readings": [r.to_json() for r in self.readings]}


def canonical_bytes(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


# ---------------------------------------------------------------- signing

def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes_raw()
    return hashlib.sha256(raw).hexdigest()[:16]


class Signer:
    """Signs messages with an Ed25519 key (a gateway's, or the backend's command key)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.key_id = key_fingerprint(private_key.public_key())

    def sign(self, message: bytes, context: bytes = DATA_SIGNING_CONTEXT) -> Signature:
        return Signature(self.key_id, self._key.sign(context + message))


def verify(envelope: Envelope, public_key: Ed25519PublicKey) -> None:
    """Raise DecodeError('bad_signature') unless `envelope` is signed by `public_key`."""
    verify_signature(envelope.signature, envelope.signed_bytes, public_key, DATA_SIGNING_CONTEXT)


def verify_signature(signature: Signature | None, signed_bytes: bytes,
                     public_key: Ed25519PublicKey, context: bytes) -> None:
    if signature is None:
        raise DecodeError("bad_signature", "message is not signed")
    if signature.key_id != key_fingerprint(public_key):
        raise DecodeError("bad_signature", f"signed by unknown key {signature.key_id}")
    try:
        public_key.verify(signature.value, context + signed_bytes)
    except InvalidSignature as exc:
        raise DecodeError("bad_signature", "signature does not match the content") from exc


def _signed(body: dict[str, Any], signer: Signer | None, context: bytes) -> bytes:
    """The wire bytes of `body`, with a `sig` over its canonical form when a signer is given."""
    if signer is not None:
        signature = signer.sign(canonical_bytes(body), context)
        body = {**body, "sig": {"alg": SIGNATURE_ALG, "kid": signature.key_id,
                                "value": base64.b64encode(signature.value).decode()}}
    return canonical_bytes(body)


# ---------------------------------------------------------------- encode

def encode(gateway: str, epoch: int, seq: int, sent_at_ms: int, readings: list[Reading],
           signer: Signer | None) -> bytes:
    """Build the wire bytes of one data message (signed when a signer is given)."""
    envelope = Envelope(gateway, epoch, seq, sent_at_ms, tuple(readings))
    return _signed(envelope.body(), signer, DATA_SIGNING_CONTEXT)


# ---------------------------------------------------------------- decode

def _reject_constant(name: str) -> None:
    raise DecodeError("non_finite", f"{name} is not a number JSON allows")


def _json_body(payload: bytes) -> Any:
    if len(payload) > MAX_MESSAGE_BYTES:
        raise DecodeError("oversize", f"{len(payload)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        return json.loads(payload, parse_constant=_reject_constant)
    except DecodeError:
        raise
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise DecodeError("bad_json", str(exc)[:120]) from exc


def _check_topic(topic_name: str | None, channel: str, gateway: str) -> None:
    if topic_name is None:
        return
    topic_gateway, topic_channel = parse_topic(topic_name)
    if topic_channel != channel:
        raise DecodeError("bad_topic", f"{channel} message on the {topic_channel} channel")
    if topic_gateway != gateway:
        raise DecodeError("gateway_mismatch", f"topic says {topic_gateway!r}, payload says {gateway!r}")


def decode(payload: bytes, topic_name: str | None = None) -> Envelope:
    """Parse and strictly validate one data message. Raises DecodeError."""
    envelope = _envelope_from(_json_body(payload))
    _check_topic(topic_name, "data", envelope.gateway)
    return envelope


_ENVELOPE_FIELDS = {"v", "gateway", "epoch", "seq", "sent_at_ms", "readings"}


def _envelope_from(body: Any) -> Envelope:
    _check_fields(body, "message", _ENVELOPE_FIELDS, {"sig"})
    if _int(body, "v", "message") != PROTOCOL_VERSION:
        raise DecodeError("unsupported_version", f"v={body['v']}, this side speaks {PROTOCOL_VERSION}")
    gateway = _ident(body, "gateway", "message")
    epoch = _int(body, "epoch", "message", minimum=0)
    seq = _int(body, "seq", "message", minimum=1)
    sent_at_ms = _int(body, "sent_at_ms", "message", minimum=0)
    raw_readings = body["readings"]
    if not isinstance(raw_readings, list):
        raise DecodeError("wrong_type", "readings must be a list")
    if not 1 <= len(raw_readings) <= MAX_READINGS_PER_MESSAGE:
        raise DecodeError("batch_size", f"{len(raw_readings)} readings; allowed 1..{MAX_READINGS_PER_MESSAGE}")
    readings = tuple(_reading_from(raw, n) for n, raw in enumerate(raw_readings))
    signature = _signature_from(body.pop("sig")) if "sig" in body else None
    return Envelope(gateway, epoch, seq, sent_at_ms, readings, signature, canonical_bytes(body))


def _signature_from(raw: Any) -> Signature:
    _check_fields(raw, "sig", {"alg", "kid", "value"}, set())
    if raw["alg"] != SIGNATURE_ALG:
        raise DecodeError("bad_signature", f"unsupported signature algorithm {raw['alg']!r}")
    if not isinstance(raw["kid"], str) or not isinstance(raw["value"], str):
        raise DecodeError("wrong_type", "sig.kid and sig.value must be strings")
    try:
        value = base64.b64decode(raw["value"], validate=True)
    except ValueError as exc:
        raise DecodeError("bad_signature", "sig.value is not base64") from exc
    if len(value) != 64:
        raise DecodeError("bad_signature", f"an Ed25519 signature has 64 bytes, got {len(value)}")
    return Signature(raw["kid"], value)


_READING_FIELDS = {"sensor", "kind", "time_ms", "values", "quality"}


def _reading_from(raw: Any, index: int) -> Reading:
    where = f"readings[{index}]"
    _check_fields(raw, where, _READING_FIELDS, {"clock_synced", "error"})
    sensor = _ident(raw, "sensor", where)
    kind = raw["kind"]
    if kind not in READING_KINDS:
        raise DecodeError("unknown_kind", f"{where}.kind={kind!r}; known: {', '.join(READING_KINDS)}")
    time_ms = _int(raw, "time_ms", where, minimum=0)
    quality = raw["quality"]
    if quality not in QUALITIES:
        raise DecodeError("out_of_range", f"{where}.quality={quality!r}; allowed: {', '.join(QUALITIES)}")
    clock_synced = raw.get("clock_synced", True)
    if not isinstance(clock_synced, bool):
        raise DecodeError("wrong_type", f"{where}.clock_synced must be a boolean")
    error = raw.get("error")
    if error is not None and not (isinstance(error, str) and len(error) <= 64):
        raise DecodeError("wrong_type", f"{where}.error must be a short string")
    values = raw["values"]
    if not isinstance(values, dict):
        raise DecodeError("wrong_type", f"{where}.values must be an object")
    _VALUE_CHECKS[kind](values, f"{where}.values", measurement_required=quality != "bad")
    return Reading(sensor, kind, time_ms, values, quality, clock_synced, error)


# ---------------------------------------------------------------- per-kind values

def _check_weight(values: dict, where: str, measurement_required: bool) -> None:
    _check_fields(values, where, {"weight_kg"} if measurement_required else set(), {"weight_kg", "stable"})
    if "weight_kg" in values and _number(values, "weight_kg", where) < 0:
        raise DecodeError("negative_weight", f"{where}.weight_kg={values['weight_kg']}")
    if "stable" in values and not isinstance(values["stable"], bool):
        raise DecodeError("wrong_type", f"{where}.stable must be a boolean")


def _check_temperature(values: dict, where: str, measurement_required: bool) -> None:
    _check_fields(values, where, {"temperature_c"} if measurement_required else set(), {"temperature_c"})
    if "temperature_c" in values and not -273.15 <= _number(values, "temperature_c", where) <= 1000:
        raise DecodeError("out_of_range", f"{where}.temperature_c={values['temperature_c']}")


def _check_humidity(values: dict, where: str, measurement_required: bool) -> None:
    _check_fields(values, where, {"humidity_pct"} if measurement_required else set(), {"humidity_pct"})
    if "humidity_pct" in values and not 0 <= _number(values, "humidity_pct", where) <= 100:
        raise DecodeError("out_of_range", f"{where}.humidity_pct={values['humidity_pct']}")


_TAG_FIELDS = {"epc"}
_TAG_OPTIONAL = {"antenna", "rssi_dbm", "seen_count"}


def _check_rfid(values: dict, where: str, measurement_required: bool) -> None:
    _check_fields(values, where, {"tags"} if measurement_required else set(), {"tags"})
    tags = values.get("tags", [])
    if not isinstance(tags, list):
        raise DecodeError("wrong_type", f"{where}.tags must be a list")
    if len(tags) > 10_000:
        raise DecodeError("batch_size", f"{where}: {len(tags)} tags in one round")
    for n, tag in enumerate(tags):
        tag_where = f"{where}.tags[{n}]"
        _check_fields(tag, tag_where, _TAG_FIELDS, _TAG_OPTIONAL)
        if not isinstance(tag["epc"], str) or not _EPC_HEX.match(tag["epc"]):
            raise DecodeError("invalid_id", f"{tag_where}.epc must be 8-64 lowercase hex digits")
        if "antenna" in tag:
            _int(tag, "antenna", tag_where, minimum=1)
        if "seen_count" in tag:
            _int(tag, "seen_count", tag_where, minimum=1)
        if "rssi_dbm" in tag and not -128 <= _number(tag, "rssi_dbm", tag_where) <= 127:
            raise DecodeError("out_of_range", f"{tag_where}.rssi_dbm={tag['rssi_dbm']}")


_VALUE_CHECKS = {"weight": _check_weight, "temperature": _check_temperature,
                 "humidity": _check_humidity, "rfid": _check_rfid}


# ---------------------------------------------------------------- field helpers

def _check_fields(obj: Any, where: str, required: set[str], optional: set[str]) -> None:
    if not isinstance(obj, dict):
        raise DecodeError("wrong_type", f"{where} must be an object")
    missing = required - obj.keys()
    if missing:
        raise DecodeError("missing_field", f"{where} lacks {', '.join(sorted(missing))}")
    unknown = obj.keys() - required - optional
    if unknown:
        raise DecodeError("unknown_field", f"{where} has unknown {', '.join(sorted(unknown))}")


def _int(obj: dict, name: str, where: str, minimum: int = 0) -> int:
    value = obj[name]
    if type(value) is not int:  # bool is an int subclass; refuse it
        raise DecodeError("wrong_type", f"{where}.{name} must be an integer")
    if not minimum <= value <= _MAX_INT:
        raise DecodeError("out_of_range", f"{where}.{name}={value}")
    return value


def _number(obj: dict, name: str, where: str) -> float:
    value = obj[name]
    if type(value) not in (int, float):
        raise DecodeError("wrong_type", f"{where}.{name} must be a number")
    if type(value) is int and abs(value) > _MAX_INT:  # a float could not hold it exactly
        raise DecodeError("out_of_range", f"{where}.{name} is too large")
    if not math.isfinite(value):  # 1e999 parses as inf
        raise DecodeError("non_finite", f"{where}.{name} is not finite")
    return value


def _ident(obj: dict, name: str, where: str) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise DecodeError("wrong_type", f"{where}.{name} must be a string")
    if not _ID.match(value):
        raise DecodeError("invalid_id", f"{where}.{name}={value[:70]!r}")
    return value


# ---------------------------------------------------------------- ack and state

@dataclass(frozen=True)
class Ack:
    """Backend -> gateway. A legacy ack (`stored` None) says only: every seq <= acked_seq is
    stored. A ranged ack names the seqs this answer settles: `stored` (durably, now or
    before), `refused` (quarantined for good: seq -> reason; keep it, do not resend) and
    `dropped` (announced by the gateway and never received). `acked_seq` is then the
    highest seq up to which every seq is settled. Ranged acks are signed with the
    backend's command key (ACK_SIGNING_CONTEXT) when the backend has one."""

    gateway: str
    epoch: int
    acked_seq: int
    stored: tuple[int, ...] | None = None
    refused: Mapping[int, str] = field(default_factory=dict)
    dropped: tuple[int, ...] = ()
    signature: Signature | None = field(default=None, compare=False)
    signed_bytes: bytes = field(default=b"", compare=False, repr=False)

    @property
    def ranged(self) -> bool:
        return self.stored is not None


def to_ranges(seqs) -> list[list[int]]:
    """[1, 2, 3, 7] -> [[1, 3], [7, 7]]."""
    ranges: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def _from_ranges(obj: dict, name: str, where: str) -> tuple[int, ...]:
    raw = obj[name]
    if not isinstance(raw, list) or not all(isinstance(r, list) and len(r) == 2 for r in raw):
        raise DecodeError("wrong_type", f"{where}.{name} must be a list of [first, last] pairs")
    seqs: list[int] = []
    for n, pair in enumerate(raw):
        bounds = {"first": pair[0], "last": pair[1]}
        first, last = (_int(bounds, k, f"{where}.{name}[{n}]", minimum=1) for k in ("first", "last"))
        if last < first or len(seqs) + last - first >= MAX_SEQS_PER_NOTICE:
            raise DecodeError("out_of_range", f"{where}.{name}[{n}]=[{first}, {last}]")
        seqs.extend(range(first, last + 1))
    return tuple(seqs)


def encode_ack(ack: Ack, signer: Signer | None = None) -> bytes:
    body: dict[str, Any] = {"v": PROTOCOL_VERSION, "gateway": ack.gateway, "epoch": ack.epoch,
                            "acked_seq": ack.acked_seq}
    if not ack.ranged:
        return canonical_bytes(body)
    body.update(stored=to_ranges(ack.stored or ()), dropped=to_ranges(ack.dropped),
                refused=[{"seq": seq, "reason": reason} for seq, reason in sorted(ack.refused.items())])
    return _signed(body, signer, ACK_SIGNING_CONTEXT)


def decode_ack(payload: bytes) -> Ack:
    """Either form (a gateway must understand an older backend's legacy ack)."""
    body = _json_body(payload)
    _check_fields(body, "ack", {"v", "gateway", "epoch", "acked_seq"}, {"stored", "refused", "dropped", "sig"})
    _check_version(body)
    gateway, epoch = _ident(body, "gateway", "ack"), _int(body, "epoch", "ack")
    acked_seq = _int(body, "acked_seq", "ack")
    if body.keys() <= {"v", "gateway", "epoch", "acked_seq"}:
        return Ack(gateway, epoch, acked_seq)
    _check_fields(body, "ack", {"v", "gateway", "epoch", "acked_seq", "stored", "refused", "dropped"}, {"sig"})
    refused = body["refused"]
    if not isinstance(refused, list) or len(refused) > MAX_SEQS_PER_NOTICE:
        raise DecodeError("wrong_type", "ack.refused must be a list")
    for n, item in enumerate(refused):
        _check_fields(item, f"ack.refused[{n}]", {"seq", "reason"}, set())
        if not isinstance(item["reason"], str) or len(item["reason"]) > 64:
            raise DecodeError("wrong_type", f"ack.refused[{n}].reason must be a short string")
    signature = _signature_from(body.pop("sig")) if "sig" in body else None
    return Ack(gateway, epoch, acked_seq, _from_ranges(body, "stored", "ack"),
               {_int(item, "seq", "ack.refused", minimum=1): item["reason"] for item in refused},
               _from_ranges(body, "dropped", "ack"), signature, canonical_bytes(body))


def verify_ack(ack: Ack, public_key: Ed25519PublicKey) -> None:
    verify_signature(ack.signature, ack.signed_bytes, public_key, ACK_SIGNING_CONTEXT)


@dataclass(frozen=True)
class DropNotice:
    """Gateway -> backend, signed with the gateway's key (DROPS_SIGNING_CONTEXT): its outbox
    size cap dropped these seqs of `epoch` before the backend acknowledged them. Sent again
    until a ranged ack settles each seq (as stored, when it did arrive, or as dropped)."""

    gateway: str
    epoch: int
    seqs: tuple[int, ...]
    at_ms: int
    signature: Signature | None = None
    signed_bytes: bytes = field(default=b"", compare=False, repr=False)


def encode_drops(notice: DropNotice, signer: Signer | None) -> bytes:
    body = {"v": PROTOCOL_VERSION, "gateway": notice.gateway, "epoch": notice.epoch,
            "seqs": to_ranges(notice.seqs), "at_ms": notice.at_ms}
    return _signed(body, signer, DROPS_SIGNING_CONTEXT)


def decode_drops(payload: bytes, topic_name: str | None = None) -> DropNotice:
    body = _json_body(payload)
    _check_fields(body, "drops", {"v", "gateway", "epoch", "seqs", "at_ms"}, {"sig"})
    _check_version(body)
    gateway = _ident(body, "gateway", "drops")
    _check_topic(topic_name, "drops", gateway)
    seqs = _from_ranges(body, "seqs", "drops")
    if not seqs:
        raise DecodeError("batch_size", "a drop notice names no seq")
    signature = _signature_from(body.pop("sig")) if "sig" in body else None
    return DropNotice(gateway, _int(body, "epoch", "drops"), seqs, _int(body, "at_ms", "drops"),
                      signature, canonical_bytes(body))


def verify_drops(notice: DropNotice, public_key: Ed25519PublicKey) -> None:
    verify_signature(notice.signature, notice.signed_bytes, public_key, DROPS_SIGNING_CONTEXT)


@dataclass(frozen=True)
class GatewayState:
    gateway: str
    online: bool
    epoch: int
    info: Mapping[str, Any]  # birth only: firmware, drivers, key id, clock sync, counters


def encode_state(gateway: str, online: bool, epoch: int, info: Mapping[str, Any] | None = None) -> bytes:
    """Birth (online) or death (offline; registered as the MQTT will) message."""
    return canonical_bytes({"v": PROTOCOL_VERSION, "gateway": gateway,
                            "state": "online" if online else "offline", "epoch": epoch,
                            "info": dict(info or {})})


def decode_state(payload: bytes) -> GatewayState:
    try:
        body = json.loads(payload)
    except ValueError as exc:
        raise DecodeError("bad_json", str(exc)[:120]) from exc
    _check_fields(body, "state", {"v", "gateway", "state", "epoch", "info"}, set())
    if body["state"] not in ("online", "offline"):
        raise DecodeError("out_of_range", f"state={body['state']!r}")
    if not isinstance(body["info"], dict):
        raise DecodeError("wrong_type", "state.info must be an object")
    return GatewayState(_ident(body, "gateway", "state"), body["state"] == "online",
                        _int(body, "epoch", "state"), body["info"])


# ---------------------------------------------------------------- heartbeat

@dataclass(frozen=True)
class Heartbeat:
    gateway: str
    epoch: int
    at_ms: int  # gateway clock
    info: Mapping[str, Any]  # outbox_depth, dropped_readings, readings_total, clock_synced, last_seq


def encode_heartbeat(gateway: str, epoch: int, at_ms: int, info: Mapping[str, Any]) -> bytes:
    """Gateway -> all, every `heartbeat_s`, QoS 0, unsigned (advisory, like birth/death)."""
    return canonical_bytes({"v": PROTOCOL_VERSION, "gateway": gateway, "epoch": epoch,
                            "at_ms": at_ms, "info": dict(info)})


def decode_heartbeat(payload: bytes, topic_name: str | None = None) -> Heartbeat:
    body = _json_body(payload)
    _check_fields(body, "heartbeat", {"v", "gateway", "epoch", "at_ms", "info"}, set())
    _check_version(body)
    if not isinstance(body["info"], dict):
        raise DecodeError("wrong_type", "heartbeat.info must be an object")
    gateway = _ident(body, "gateway", "heartbeat")
    _check_topic(topic_name, "heartbeat", gateway)
    return Heartbeat(gateway, _int(body, "epoch", "heartbeat"), _int(body, "at_ms", "heartbeat"),
                     body["info"])


def _check_version(body: dict) -> None:
    if body["v"] != PROTOCOL_VERSION:
        raise DecodeError("unsupported_version", f"v={body['v']}, this side speaks {PROTOCOL_VERSION}")


# ---------------------------------------------------------------- commands

_COMMAND_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass(frozen=True)
class Command:
    """Backend -> gateway, signed with the backend's command key (COMMAND_SIGNING_CONTEXT).

    Replay guard: a gateway runs a command only inside [issued_at_ms, expires_at_ms]
    (with a small clock allowance), only if that window is short, and only once per id
    (it remembers ids until they expire).
    """

    id: str
    gateway: str
    name: str  # one of COMMANDS
    args: Mapping[str, Any]
    issued_at_ms: int
    expires_at_ms: int
    signature: Signature | None = None
    signed_bytes: bytes = field(default=b"", compare=False, repr=False)


def encode_command(command: Command, signer: Signer) -> bytes:
    body = {"v": PROTOCOL_VERSION, "id": command.id, "gateway": command.gateway,
            "command": command.name, "args": dict(command.args),
            "issued_at_ms": command.issued_at_ms, "expires_at_ms": command.expires_at_ms}
    return _signed(body, signer, COMMAND_SIGNING_CONTEXT)


def decode_command(payload: bytes, topic_name: str | None = None) -> Command:
    """Parse a command (not yet verified: see verify_command). Raises DecodeError."""
    body = _json_body(payload)
    _check_fields(body, "command", {"v", "id", "gateway", "command", "args", "issued_at_ms",
                                    "expires_at_ms"}, {"sig"})
    _check_version(body)
    if not isinstance(body["id"], str) or not _COMMAND_ID.match(body["id"]):
        raise DecodeError("invalid_id", "command.id must be 8-64 of [A-Za-z0-9_-]")
    if body["command"] not in COMMANDS:
        raise DecodeError("out_of_range", f"command={body['command']!r}; known: {', '.join(COMMANDS)}")
    if not isinstance(body["args"], dict):
        raise DecodeError("wrong_type", "command.args must be an object")
    gateway = _ident(body, "gateway", "command")
    _check_topic(topic_name, "cmd", gateway)
    signature = _signature_from(body.pop("sig")) if "sig" in body else None
    return Command(body["id"], gateway, body["command"], body["args"],
                   _int(body, "issued_at_ms", "command"), _int(body, "expires_at_ms", "command"),
                   signature, canonical_bytes(body))


def verify_command(command: Command, public_key: Ed25519PublicKey) -> None:
    verify_signature(command.signature, command.signed_bytes, public_key, COMMAND_SIGNING_CONTEXT)


def command_window_error(command: Command, now_ms: int, max_ttl_ms: int, skew_ms: int) -> str | None:
    """Why `command` may not run now (None: it may): expired, not yet valid, or too long-lived."""
    if command.expires_at_ms - command.issued_at_ms > max_ttl_ms:
        return "ttl_too_long"
    if command.expires_at_ms <= command.issued_at_ms:
        return "expired"
    if now_ms >= command.expires_at_ms:
        return "expired"
    if command.issued_at_ms > now_ms + skew_ms:
        return "not_yet_valid"
    return None


@dataclass(frozen=True)
class CommandResult:
    """Gateway -> backend, signed with the gateway's key (COMMAND_RESULT_SIGNING_CONTEXT).

    After `rotate_key` the result is signed with the OLD key and `result` carries the new
    public key: the proof, for whoever trusts the old key, that the new one is the gateway's.
    """

    gateway: str
    id: str
    command: str
    status: str  # one of COMMAND_STATUSES
    detail: str
    result: Mapping[str, Any]
    at_ms: int
    signature: Signature | None = None
    signed_bytes: bytes = field(default=b"", compare=False, repr=False)


def encode_command_result(result: CommandResult, signer: Signer | None) -> bytes:
    body = {"v": PROTOCOL_VERSION, "gateway": result.gateway, "id": result.id,
            "command": result.command, "status": result.status, "detail": result.detail,
            "result": dict(result.result), "at_ms": result.at_ms}
    return _signed(body, signer, COMMAND_RESULT_SIGNING_CONTEXT)


def decode_command_result(payload: bytes, topic_name: str | None = None) -> CommandResult:
    body = _json_body(payload)
    _check_fields(body, "cmd-result", {"v", "gateway", "id", "command", "status", "detail",
                                       "result", "at_ms"}, {"sig"})
    _check_version(body)
    if body["status"] not in COMMAND_STATUSES:
        raise DecodeError("out_of_range", f"status={body['status']!r}")
    if not all(isinstance(body[name], str) for name in ("id", "command", "detail")):
        raise DecodeError("wrong_type", "cmd-result id, command and detail must be strings")
    if not isinstance(body["result"], dict):
        raise DecodeError("wrong_type", "cmd-result.result must be an object")
    gateway = _ident(body, "gateway", "cmd-result")
    _check_topic(topic_name, "cmd-result", gateway)
    signature = _signature_from(body.pop("sig")) if "sig" in body else None
    return CommandResult(gateway, body["id"], body["command"], body["status"], body["detail"],
                         body["result"], _int(body, "at_ms", "cmd-result"), signature,
                         canonical_bytes(body))


def verify_command_result(result: CommandResult, public_key: Ed25519PublicKey) -> None:
    verify_signature(result.signature, result.signed_bytes, public_key,
                     COMMAND_RESULT_SIGNING_CONTEXT)
