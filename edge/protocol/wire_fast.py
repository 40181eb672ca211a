"""The backend's fast path for data messages: orjson to parse, PyNaCl to verify.

codec.py stays the one definition of the wire format (stdlib + cryptography), and a
gateway never imports this module (orjson and PyNaCl come with the `backend` extra).
It only *accepts*: when a message is anything but plainly valid it answers None and
the caller falls back to `codec.decode`, which gives the verdict and the reason. A
signature that does not verify over orjson's canonical bytes is checked again over the
reference bytes, so the verdict is always the reference's.
tests/integration/ingest/test_decoder_fuzz.py holds the two paths together.
"""
from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any, overload

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from edge.protocol.envelope import MAX_MESSAGE_BYTES, MAX_READINGS_PER_MESSAGE, QUALITIES, Envelope, Reading, Signature
from edge.protocol.signing import DATA_SIGNING_CONTEXT, SIGNATURE_ALG, key_fingerprint
from edge.protocol.topics import TOPIC_ROOT

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ID_MATCH = _ID.fullmatch
_EPC_HEX = re.compile(r"[0-9a-f]{8,64}")
_MAX_INT = 2**53 - 1
_ENVELOPE_KEYS = frozenset({"v", "gateway", "epoch", "seq", "sent_at_ms", "readings"})
_SIGNED_KEYS = _ENVELOPE_KEYS | {"sig"}
_READING_REQUIRED = frozenset({"sensor", "kind", "time_ms", "values", "quality"})
_READING_ALLOWED = _READING_REQUIRED | {"clock_synced", "error"}
_TAG_ALLOWED = frozenset({"epc", "antenna", "rssi_dbm", "seen_count"})
# kind -> (main value, its range); rfid is checked on its own. No weight above 2**53: the
# reference refuses an integer past it (a float could not hold it exactly); declining is safe.
_SCALARS = {"weight": ("weight_kg", 0.0, float(_MAX_INT)), "temperature": ("temperature_c", -273.15, 1000.0),
            "humidity": ("humidity_pct", 0.0, 100.0)}
_QUALITIES = frozenset(QUALITIES)
# A stored row: (gateway, epoch, seq, idx, sensor, kind, time_ms, quality, main value, values_json);
# the main value is None only in a bad reading without it.
Row = tuple[str, int, int, int, str, str, int, str, float | None, str]
RfidRow = tuple[str, int, dict[str, Any]]  # (sensor, time_ms, values) of a good RFID reading


class _NotPlain(Exception):
    """Not provably valid here: let the reference decoder decide."""


def _int(value: Any, minimum: int) -> int:
    if type(value) is not int or not minimum <= value <= _MAX_INT:
        raise _NotPlain
    return value


def _number_in(value: Any, low: float, high: float) -> None:
    if type(value) not in (int, float) or not low <= value <= high or value == math.inf:
        raise _NotPlain


def _ident(value: Any) -> str:
    if type(value) is not str or not _ID.fullmatch(value):
        raise _NotPlain
    return value


def _check_values(kind: str, values: Any, required: bool) -> None:
    if type(values) is not dict:
        raise _NotPlain
    if kind == "rfid":
        _check_tags(values, required)
        return
    name, low, high = _SCALARS[kind]
    allowed = 2 if kind == "weight" else 1
    if len(values) > allowed or (required and name not in values):
        raise _NotPlain
    for key, value in values.items():
        if key == name:
            _number_in(value, low, high)
        elif key != "stable" or kind != "weight" or type(value) is not bool:
            raise _NotPlain


def _check_tags(values: dict[str, Any], required: bool) -> None:
    if values.keys() - {"tags"} or (required and "tags" not in values):
        raise _NotPlain
    tags = values.get("tags", [])
    if type(tags) is not list or len(tags) > 10_000:
        raise _NotPlain
    for tag in tags:
        if type(tag) is not dict or tag.keys() - _TAG_ALLOWED:
            raise _NotPlain
        epc = tag.get("epc")
        if type(epc) is not str or not _EPC_HEX.fullmatch(epc):
            raise _NotPlain
        if "antenna" in tag:
            _int(tag["antenna"], 1)
        if "seen_count" in tag:
            _int(tag["seen_count"], 1)
        if "rssi_dbm" in tag:
            _number_in(tag["rssi_dbm"], -128, 127)


def _reading(raw: Any) -> Reading:
    """One plainly valid reading (the reference's checks, spelled for speed), else _NotPlain."""
    sensor, kind, time_ms, quality, _, values = _row_parts(raw)
    return Reading(sensor, kind, time_ms, values, quality, raw.get("clock_synced", True),
                            raw.get("error"))


def _row_parts(raw: Any) -> tuple[str, str, int, str, float | None, dict[str, Any]]:
    """(sensor, kind, time_ms, quality, main value, values) of a plainly valid reading."""
    if type(raw) is not dict:
        raise _NotPlain
    keys = raw.keys()
    if not _READING_REQUIRED <= keys <= _READING_ALLOWED:
        raise _NotPlain
    kind, quality, values = raw["kind"], raw["quality"], raw["values"]
    if type(quality) is not str or quality not in _QUALITIES or type(values) is not dict:
        raise _NotPlain
    if len(keys) != 5:  # clock_synced and/or error present
        clock_synced, error = raw.get("clock_synced", True), raw.get("error")
        if type(clock_synced) is not bool or (error is not None and (type(error) is not str or len(error) > 64)):
            raise _NotPlain
    scalar = _SCALARS.get(kind) if type(kind) is str else None
    if scalar is not None:
        name, low, high = scalar
        value = values.get(name)
        size = len(values)
        if size == 1 and value is not None:
            pass
        elif size == 2 and kind == "weight" and value is not None and type(values.get("stable")) is bool:
            pass
        else:  # unusual shape (e.g. a bad reading without its value): the general check
            _check_values(kind, values, required=quality != "bad")
            value = values.get(name)
        if value is not None and (type(value) is not float and type(value) is not int
                                  or not low <= value <= high or value == math.inf):
            raise _NotPlain
    elif kind == "rfid":
        _check_tags(values, quality != "bad")
        value = float(len(values.get("tags", ())))
    else:
        raise _NotPlain
    sensor, time_ms = raw["sensor"], raw["time_ms"]
    if type(sensor) is not str or not _ID_MATCH(sensor) or type(time_ms) is not int \
            or not 0 <= time_ms <= _MAX_INT:
        raise _NotPlain
    return sensor, kind, time_ms, quality, value, values


class Rows(Sequence[Reading]):
    """The readings of a fast-decoded message: a tuple of `Reading` built only when
    someone looks at them, plus what the SQLite store needs, worked out while validating:
    `rows` (gateway, epoch, seq, idx, sensor, kind, time_ms, quality, main value, values_json),
    `rfid` (sensor, time_ms, values) of the good RFID readings, min/max device time."""

    rows: list[Row]
    rfid: list[RfidRow]
    min_ms: int
    max_ms: int
    _raw: list[Any]  # the parsed readings, made into `Reading`s on first look
    _readings: tuple[Reading, ...] | None

    def __new__(cls, raw_readings: list[Any], rows: list[Row], rfid: list[RfidRow], min_ms: int, max_ms: int) -> Rows:
        self = super().__new__(cls)
        self._raw, self.rows, self.rfid, self.min_ms, self.max_ms = raw_readings, rows, rfid, min_ms, max_ms
        self._readings = None
        return self

    def readings(self) -> tuple[Reading, ...]:
        if self._readings is None:
            self._readings = tuple(map(_reading, self._raw))
        return self._readings

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Reading]:
        return iter(self.readings())

    @overload
    def __getitem__(self, index: int) -> Reading: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Reading, ...]: ...

    def __getitem__(self, index: int | slice) -> Reading | tuple[Reading, ...]:
        return self.readings()[index]

    def __eq__(self, other: object) -> bool:
        return self.readings() == (other.readings() if isinstance(other, Rows) else other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.readings())

    def __repr__(self) -> str:
        return repr(self.readings())

    def __reduce__(self) -> tuple[type[tuple[Any, ...]], tuple[tuple[Reading, ...]]]:
        return tuple, (self.readings(),)

    def sensors(self) -> set[str]:
        return {row[4] for row in self.rows}


def _rows(raw_readings: list[Any], gateway: str, epoch: int, seq: int) -> Rows:
    rows: list[Row] = []
    rfid: list[RfidRow] = []
    kind: Any  # as parsed; a str where `scalars` knows it (mypy cannot follow that check)
    dumps, scalars, qualities, id_match = orjson.dumps, _SCALARS, _QUALITIES, _ID_MATCH
    for idx, raw in enumerate(raw_readings):
        # The common shape inline: exactly the 5 required keys, a scalar kind, its value
        # (+ `stable` for weight); anything else takes _row_parts (the same checks, in full).
        if type(raw) is dict and len(raw) == 5:
            kind, values, quality = raw.get("kind"), raw.get("values"), raw.get("quality")
            scalar = scalars.get(kind) if type(kind) is str else None
            if scalar is not None and type(values) is dict and type(quality) is str and quality in qualities:
                name, low, high = scalar
                value = values.get(name)
                size = len(values)
                sensor, time_ms = raw.get("sensor"), raw.get("time_ms")
                if (size == 1 or size == 2 and kind == "weight" and type(values.get("stable")) is bool) \
                        and (type(value) is float or type(value) is int) and low <= value <= high \
                        and value != math.inf and type(sensor) is str and id_match(sensor) \
                        and type(time_ms) is int and 0 <= time_ms <= _MAX_INT:
                    rows.append((gateway, epoch, seq, idx, sensor, kind, time_ms, quality, value,
                                 dumps(values).decode()))
                    continue
        sensor, kind, time_ms, quality, value, values = _row_parts(raw)
        rows.append((gateway, epoch, seq, idx, sensor, kind, time_ms, quality, value, dumps(values).decode()))
        if kind == "rfid" and quality != "bad":
            rfid.append((sensor, time_ms, values))
    times_ms = [row[6] for row in rows]  # a batch holds at least one reading
    return Rows(raw_readings, rows, rfid, min(times_ms), max(times_ms))


def _signature(raw: Any) -> Signature:
    if type(raw) is not dict or raw.keys() != {"alg", "kid", "value"} or raw["alg"] != SIGNATURE_ALG:
        raise _NotPlain
    if type(raw["kid"]) is not str or type(raw["value"]) is not str:
        raise _NotPlain
    try:
        value = base64.b64decode(raw["value"], validate=True)
    except ValueError as exc:
        raise _NotPlain from exc
    if len(value) != 64:
        raise _NotPlain
    return Signature(raw["kid"], value)


def decode_plain(payload: bytes, topic: str) -> Envelope | None:
    """The envelope of a plainly valid data message on `topic`, or None to fall back."""
    if len(payload) > MAX_MESSAGE_BYTES:
        return None
    try:
        body = orjson.loads(payload)
        if type(body) is not dict or not _ENVELOPE_KEYS <= body.keys() <= _SIGNED_KEYS:
            return None
        gateway = _ident(body["gateway"])
        if topic != f"{TOPIC_ROOT}/{gateway}/data" or body["v"] != 1 or type(body["v"]) is not int:
            return None
        raw_readings = body["readings"]
        if type(raw_readings) is not list or not 1 <= len(raw_readings) <= MAX_READINGS_PER_MESSAGE:
            return None
        epoch, seq = _int(body["epoch"], 0), _int(body["seq"], 1)
        readings = _rows(raw_readings, gateway, epoch, seq)
        signature = _signature(body.pop("sig")) if "sig" in body else None
        return Envelope(gateway, epoch, seq, _int(body["sent_at_ms"], 0), readings, signature,
                                 orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
    except (_NotPlain, orjson.JSONDecodeError, TypeError, ValueError, KeyError):
        return None  # anything odd: the reference decoder decides


class Verifier:
    """Ed25519 checks with the fingerprint and PyNaCl key of each gateway worked out once."""

    def __init__(self) -> None:
        self._keys: dict[bytes, tuple[str, VerifyKey]] = {}

    def verify(self, envelope: Envelope, public_key: Ed25519PublicKey) -> bool:
        """True when the signature matches `envelope.signed_bytes`; False means: ask the reference."""
        raw = public_key.public_bytes_raw()
        if raw not in self._keys:
            self._keys[raw] = (key_fingerprint(public_key), VerifyKey(raw))
        key_id, verify_key = self._keys[raw]
        signature = envelope.signature
        if signature is None or signature.key_id != key_id:
            return False
        try:
            verify_key.verify(DATA_SIGNING_CONTEXT + envelope.signed_bytes, signature.value)
        except BadSignatureError:
            return False
        return True
