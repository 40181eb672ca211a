"""The codec: wire bytes <-> the values of edge.protocol.envelope, strictly validated.

Every message is compact JSON with sorted keys; `encode_*` build it (signed when given a
signer), `decode_*` parse and check it and raise DecodeError with the reason. The standard
library's json only: the backend's faster reader of data messages (wire_fast) falls back to
this one for anything but a plainly valid message.
"""
from __future__ import annotations

import base64
import json
import math
import re
from typing import Any, Iterable, Mapping, cast

from edge.protocol.envelope import (
    COMMAND_STATUSES,
    COMMANDS,
    MAX_MESSAGE_BYTES,
    MAX_READINGS_PER_MESSAGE,
    MAX_SEQS_PER_NOTICE,
    PROTOCOL_VERSION,
    QUALITIES,
    READING_KINDS,
    Ack,
    Command,
    CommandResult,
    DropNotice,
    Envelope,
    GatewayState,
    Heartbeat,
    Reading,
    Signature,
)
from edge.protocol.errors import DecodeError
from edge.protocol.signing import (
    ACK_SIGNING_CONTEXT,
    COMMAND_RESULT_SIGNING_CONTEXT,
    COMMAND_SIGNING_CONTEXT,
    DATA_SIGNING_CONTEXT,
    DROPS_SIGNING_CONTEXT,
    SIGNATURE_ALG,
    Signer,
    canonical_bytes,
    signed_wire_bytes,
)
from edge.protocol.topics import IDENTIFIER, parse_topic

_EPC_HEX = re.compile(r"^[0-9a-f]{8,64}$")
_MAX_INT = 2**53 - 1  # what every JSON reader keeps exact


# ---------------------------------------------------------------- encode

def encode(gateway: str, epoch: int, seq: int, sent_at_ms: int, readings: list[Reading],
           signer: Signer | None) -> bytes:
    """Build the wire bytes of one data message (signed when a signer is given)."""
    envelope = Envelope(gateway, epoch, seq, sent_at_ms, tuple(readings))
    return signed_wire_bytes(envelope.body(), signer, DATA_SIGNING_CONTEXT)


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

def _check_weight(values: dict[str, Any], where: str, measurement_required: bool) -> None:
    _check_fields(values, where, {"weight_kg"} if measurement_required else set(), {"weight_kg", "stable"})
    if "weight_kg" in values and _number(values, "weight_kg", where) < 0:
        raise DecodeError("negative_weight", f"{where}.weight_kg={values['weight_kg']}")
    if "stable" in values and not isinstance(values["stable"], bool):
        raise DecodeError("wrong_type", f"{where}.stable must be a boolean")


def _check_temperature(values: dict[str, Any], where: str, measurement_required: bool) -> None:
    _check_fields(values, where, {"temperature_c"} if measurement_required else set(), {"temperature_c"})
    if "temperature_c" in values and not -273.15 <= _number(values, "temperature_c", where) <= 1000:
        raise DecodeError("out_of_range", f"{where}.temperature_c={values['temperature_c']}")


def _check_humidity(values: dict[str, Any], where: str, measurement_required: bool) -> None:
    _check_fields(values, where, {"humidity_pct"} if measurement_required else set(), {"humidity_pct"})
    if "humidity_pct" in values and not 0 <= _number(values, "humidity_pct", where) <= 100:
        raise DecodeError("out_of_range", f"{where}.humidity_pct={values['humidity_pct']}")


_TAG_FIELDS = {"epc"}
_TAG_OPTIONAL = {"antenna", "rssi_dbm", "seen_count"}


def _check_rfid(values: dict[str, Any], where: str, measurement_required: bool) -> None:
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


def _int(obj: dict[str, Any], name: str, where: str, minimum: int = 0) -> int:
    value = obj[name]
    if type(value) is not int:  # bool is an int subclass; refuse it
        raise DecodeError("wrong_type", f"{where}.{name} must be an integer")
    if not minimum <= value <= _MAX_INT:
        raise DecodeError("out_of_range", f"{where}.{name}={value}")
    return value


def _number(obj: dict[str, Any], name: str, where: str) -> float:
    value = obj[name]
    if type(value) not in (int, float):
        raise DecodeError("wrong_type", f"{where}.{name} must be a number")
    if type(value) is int and abs(value) > _MAX_INT:  # a float could not hold it exactly
        raise DecodeError("out_of_range", f"{where}.{name} is too large")
    if not math.isfinite(value):  # 1e999 parses as inf
        raise DecodeError("non_finite", f"{where}.{name} is not finite")
    return cast(float, value)  # an int or a float: its type was checked above


def _ident(obj: dict[str, Any], name: str, where: str) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise DecodeError("wrong_type", f"{where}.{name} must be a string")
    if not IDENTIFIER.match(value):
        raise DecodeError("invalid_id", f"{where}.{name}={value[:70]!r}")
    return value


# ---------------------------------------------------------------- acks, drop notices, state, heartbeat

def to_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """[1, 2, 3, 7] -> [[1, 3], [7, 7]]."""
    ranges: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def _from_ranges(obj: dict[str, Any], name: str, where: str) -> tuple[int, ...]:
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
    return signed_wire_bytes(body, signer, ACK_SIGNING_CONTEXT)


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


def encode_drops(notice: DropNotice, signer: Signer | None) -> bytes:
    body = {"v": PROTOCOL_VERSION, "gateway": notice.gateway, "epoch": notice.epoch,
            "seqs": to_ranges(notice.seqs), "at_ms": notice.at_ms}
    return signed_wire_bytes(body, signer, DROPS_SIGNING_CONTEXT)


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


def _check_version(body: dict[str, Any]) -> None:
    if body["v"] != PROTOCOL_VERSION:
        raise DecodeError("unsupported_version", f"v={body['v']}, this side speaks {PROTOCOL_VERSION}")


# ---------------------------------------------------------------- commands

_COMMAND_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def encode_command(command: Command, signer: Signer) -> bytes:
    body = {"v": PROTOCOL_VERSION, "id": command.id, "gateway": command.gateway,
            "command": command.name, "args": dict(command.args),
            "issued_at_ms": command.issued_at_ms, "expires_at_ms": command.expires_at_ms}
    return signed_wire_bytes(body, signer, COMMAND_SIGNING_CONTEXT)


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


def encode_command_result(result: CommandResult, signer: Signer | None) -> bytes:
    body = {"v": PROTOCOL_VERSION, "gateway": result.gateway, "id": result.id,
            "command": result.command, "status": result.status, "detail": result.detail,
            "result": dict(result.result), "at_ms": result.at_ms}
    return signed_wire_bytes(body, signer, COMMAND_RESULT_SIGNING_CONTEXT)


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
