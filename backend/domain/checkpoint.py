"""Checkpoints of the evidence log, signed and cosigned, in the C2SP formats banks' tools read.

- c2sp.org/signed-note: a text ending in a newline, a blank line, then signature lines
  "— <key name> <base64(4-byte key ID || signature)>". The key ID of a key is
  SHA-256(name || 0x0A || signature type || public key)[:4]; type 0x01 is Ed25519 over the text.
- c2sp.org/tlog-checkpoint: the text is the log's origin, the tree size in decimal, the base64
  root hash (RFC 6962/9162) and optional extension lines, each line ending in a newline.
- c2sp.org/tlog-cosignature (cosignature/v1, type 0x04): a witness signs, with Ed25519,
  "cosignature/v1\\ntime <unix seconds>\\n" followed by the checkpoint text; the signature is
  the 8-byte big-endian timestamp followed by the 64-byte Ed25519 signature.
- Verifier keys ("vkeys"), how a key is configured: "<name>+<hex key ID>+<base64(type || key)>".

Pure: the time of a cosignature comes in as an argument. Checked against golang.org/x/mod's
sumdb/note vectors and transparency-dev/formats' keys (tests/unit/domain/test_checkpoint.py).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import DomainError
from .tlog import HASH_SIZE

ED25519 = 0x01            # a plain note signature: the log's own key
COSIGNATURE_V1 = 0x04     # a timestamped Ed25519 cosignature: a witness (a bank)
SIGNATURE_PREFIX = "— "   # em dash, space
MAX_SIGNATURES = 100      # the spec asks to accept at least 16
MAX_TIMESTAMP = 2**63 - 1
_SIZE = re.compile(r"0|[1-9][0-9]*")


class NoteError(DomainError):
    """A note, checkpoint, key or signature is malformed or does not verify."""


def _b64decode(text: str, what: str) -> bytes:
    """Standard base64, and only its canonical spelling (one text per value)."""
    try:
        value = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what} is not base64: {text!r}") from exc
    if base64.b64encode(value).decode() != text:
        raise NoteError(f"{what} is not canonical base64: {text!r}")
    return value


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"key name {name!r} is empty or holds a space or '+'")


def _check_text(text: str) -> None:
    if any(c < " " and c != "\n" for c in text):
        raise NoteError("a note may hold no control character but newline")


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4], as signed-note recommends and
    tlog-cosignature requires."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()[:4]


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    key_id: bytes     # 4 bytes
    value: bytes      # what follows the key ID: the algorithm's signature

    def line(self) -> str:
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(self.key_id + self.value).decode()}\n"


@dataclass(frozen=True, slots=True)
class Note:
    text: str                                 # ends in a newline
    signatures: tuple[Signature, ...] = ()

    def __post_init__(self) -> None:
        if not self.text.endswith("\n"):
            raise NoteError("a note's text must end in a newline")
        _check_text(self.text)

    def encode(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signature(self, signature: Signature) -> Note:
        """The note with `signature` added, replacing one by the same key."""
        kept = tuple(s for s in self.signatures if (s.name, s.key_id) != (signature.name, signature.key_id))
        return replace(self, signatures=kept + (signature,))


def parse_note(data: bytes | str) -> Note:
    """Split a signed note into its text and signature lines (nothing is verified here)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("a note must be UTF-8") from exc
    _check_text(data)
    split = data.rfind("\n\n")
    if split < 0:
        raise NoteError("a note has no blank line before its signatures")
    text, block = data[:split + 1], data[split + 2:]
    if not block.endswith("\n"):
        raise NoteError("a note must end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"a note with {len(lines)} signatures (at most {MAX_SIGNATURES})")
    return Note(text, tuple(_parse_signature(line) for line in lines))


def _parse_signature(line: str) -> Signature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError(f"not a signature line: {line!r}")
    name, _, encoded = line[len(SIGNATURE_PREFIX):].partition(" ")
    _check_name(name)
    raw = _b64decode(encoded, f"signature of {name}")
    if len(raw) < 5:
        raise NoteError(f"signature of {name} is too short")
    return Signature(name, raw[:4], raw[4:])


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()   # opaque; the spec advises against them

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise NoteError(f"origin {self.origin!r} is empty or spans lines")
        if not 0 <= self.size < 2**64:
            raise NoteError(f"tree size {self.size} is out of range")
        if len(self.root_hash) != HASH_SIZE:
            raise NoteError(f"root hash is {len(self.root_hash)} bytes, not {HASH_SIZE}")
        if any(not line or "\n" in line for line in self.extensions):
            raise NoteError("an extension line is empty or spans lines")
        _check_text(self.text())

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint in a note's text (the text alone, signatures split off by parse_note)."""
    if not text.endswith("\n"):
        raise NoteError("a checkpoint must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError(f"a checkpoint has at least 3 lines, not {len(lines)}")
    origin, size, root, *extensions = lines
    if not _SIZE.fullmatch(size):
        raise NoteError(f"tree size {size!r} is not a decimal without leading zeros")
    return Checkpoint(origin, int(size), _b64decode(root, "root hash"), tuple(extensions))


def cosigned_message(checkpoint_text: str, timestamp_s: int) -> bytes:
    """What a cosignature/v1 signs: a header, the time, then the checkpoint text."""
    if not 0 <= timestamp_s <= MAX_TIMESTAMP:
        raise NoteError(f"cosignature time {timestamp_s} is out of range")
    return f"cosignature/v1\ntime {timestamp_s}\n{checkpoint_text}".encode()


@dataclass(frozen=True, slots=True)
class Verifier:
    """A public key the caller trusts, under its name, for one signature type."""
    name: str
    signature_type: int          # ED25519 or COSIGNATURE_V1
    public_key: bytes            # 32 bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.signature_type not in (ED25519, COSIGNATURE_V1):
            raise NoteError(f"signature type {self.signature_type:#04x} is not supported")
        if len(self.public_key) != 32:
            raise NoteError(f"an Ed25519 public key is 32 bytes, not {len(self.public_key)}")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.signature_type, self.public_key)

    def vkey(self) -> str:
        material = base64.b64encode(bytes([self.signature_type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    def matches(self, signature: Signature) -> bool:
        return (signature.name, signature.key_id) == (self.name, self.key_id)

    def verify(self, text: str, signature: Signature) -> int | None:
        """Check a signature line by this key over a note's text. Return the cosignature's
        time (None for a plain signature); raise NoteError if it does not verify."""
        if not self.matches(signature):
            raise NoteError(f"signature by {signature.name}+{signature.key_id.hex()} is not by {self.name}")
        key = Ed25519PublicKey.from_public_bytes(self.public_key)
        timestamp: int | None = None
        message, value = text.encode(), signature.value
        if self.signature_type == COSIGNATURE_V1:
            if len(value) != 8 + 64:
                raise NoteError(f"cosignature of {self.name} is {len(value)} bytes, not 72")
            timestamp = int.from_bytes(value[:8], "big")
            message, value = cosigned_message(text, timestamp), value[8:]
        try:
            key.verify(value, message)
        except InvalidSignature as exc:
            raise NoteError(f"signature of {self.name} does not verify") from exc
        return timestamp


def parse_vkey(vkey: str) -> Verifier:
    """"<name>+<hex key ID>+<base64(type || public key)>"; the key ID must match."""
    parts = vkey.split("+", 2)      # base64 may hold '+'; a name may not
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise NoteError(f"not a verifier key: {vkey!r}")
    name, id_hex, material = parts
    raw = _b64decode(material, f"key of {name}")
    if not raw:
        raise NoteError(f"key of {name} is empty")
    verifier = Verifier(name, raw[0], raw[1:])
    if verifier.key_id.hex() != id_hex:
        raise NoteError(f"key ID {id_hex} does not match the key of {name}")
    return verifier


class NoteSigner:
    """The log's signing key: plain Ed25519 note signatures (type 0x01)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey):
        self._key = private_key
        self.verifier = Verifier(name, ED25519, _raw_public(private_key))

    def sign(self, text: str) -> Signature:
        return Signature(self.verifier.name, self.verifier.key_id, self._key.sign(text.encode()))


class Cosigner:
    """A witness's key: cosignature/v1 (type 0x04). One key per cosigner, as the spec requires."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey):
        self._key = private_key
        self.verifier = Verifier(name, COSIGNATURE_V1, _raw_public(private_key))

    def cosign(self, checkpoint: Checkpoint, timestamp_s: int) -> Signature:
        signed = self._key.sign(cosigned_message(checkpoint.text(), timestamp_s))
        return Signature(self.verifier.name, self.verifier.key_id, timestamp_s.to_bytes(8, "big") + signed)


def _raw_public(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True, slots=True)
class Verified:
    name: str
    signature_type: int
    timestamp_s: int | None     # a cosignature's time


def open_note(note: Note, verifiers: Iterable[Verifier]) -> tuple[Verified, ...]:
    """The signatures of known keys, all verified (signed-note's rules): a signature by an
    unknown (name, key ID) is ignored, one by a known key that fails rejects the whole note,
    and a note no known key signed is rejected."""
    known: dict[tuple[str, bytes], Verifier] = {}
    for verifier in verifiers:
        previous = known.setdefault((verifier.name, verifier.key_id), verifier)
        if previous != verifier:
            raise NoteError(f"two keys named {verifier.name} share the key ID {verifier.key_id.hex()}")
    verified: dict[tuple[str, bytes], Verified] = {}    # a key that signed twice counts once
    for signature in note.signatures:
        key = known.get((signature.name, signature.key_id))
        if key is not None:
            timestamp = key.verify(note.text, signature)
            verified.setdefault((key.name, key.key_id), Verified(key.name, key.signature_type, timestamp))
    if not verified:
        raise NoteError("no signature by a known key")
    return tuple(verified.values())


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    cosignatures: tuple[Verified, ...]    # the known witnesses' that verified, with their times


def open_checkpoint(data: bytes | str, log: Verifier, witnesses: Iterable[Verifier] = ()) -> SignedCheckpoint:
    """Parse and verify a checkpoint a bank received or kept: the log's own signature is
    required; witnesses' cosignatures are checked when present and returned."""
    note = parse_note(data)
    checkpoint = parse_checkpoint(note.text)
    verified = open_note(note, [log, *witnesses])
    if not any(v.name == log.name and v.signature_type == log.signature_type for v in verified):
        raise NoteError(f"checkpoint is not signed by the log key {log.name}")
    cosignatures = tuple(v for v in verified
                         if v.signature_type == COSIGNATURE_V1 and (v.name, v.signature_type) != (log.name, log.signature_type))
    return SignedCheckpoint(checkpoint, cosignatures)
