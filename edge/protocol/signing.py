"""Signatures: Ed25519 over CONTEXT + canonical bytes.

The canonical bytes are the message without ``sig`` as compact JSON with sorted keys (UTF-8,
no NaN). The decoder keeps those bytes, so a verifier checks exactly what was parsed. Each
signed message type has its own CONTEXT, so no signature can be replayed as another type.
"""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.protocol.envelope import Ack, Command, CommandResult, DropNotice, Envelope, Signature
from edge.protocol.errors import DecodeError

SIGNATURE_ALG = "ed25519"
# Domain separation: a data signature can never be replayed as another message type.
DATA_SIGNING_CONTEXT = b"pledgewatch/v1/data\x00"
COMMAND_SIGNING_CONTEXT = b"pledgewatch/v1/cmd\x00"
COMMAND_RESULT_SIGNING_CONTEXT = b"pledgewatch/v1/cmd-result\x00"
ACK_SIGNING_CONTEXT = b"pledgewatch/v1/ack\x00"
DROPS_SIGNING_CONTEXT = b"pledgewatch/v1/drops\x00"


def canonical_bytes(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


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


def signed_wire_bytes(body: dict[str, Any], signer: Signer | None, context: bytes) -> bytes:
    """The wire bytes of `body`, with a `sig` over its canonical form when a signer is given."""
    if signer is not None:
        signature = signer.sign(canonical_bytes(body), context)
        body = {**body, "sig": {"alg": SIGNATURE_ALG, "kid": signature.key_id,
                                "value": base64.b64encode(signature.value).decode()}}
    return canonical_bytes(body)


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


def verify(envelope: Envelope, public_key: Ed25519PublicKey) -> None:
    """Raise DecodeError('bad_signature') unless `envelope` is signed by `public_key`."""
    verify_signature(envelope.signature, envelope.signed_bytes, public_key, DATA_SIGNING_CONTEXT)


def verify_ack(ack: Ack, public_key: Ed25519PublicKey) -> None:
    verify_signature(ack.signature, ack.signed_bytes, public_key, ACK_SIGNING_CONTEXT)


def verify_drops(notice: DropNotice, public_key: Ed25519PublicKey) -> None:
    verify_signature(notice.signature, notice.signed_bytes, public_key, DROPS_SIGNING_CONTEXT)


def verify_command(command: Command, public_key: Ed25519PublicKey) -> None:
    verify_signature(command.signature, command.signed_bytes, public_key, COMMAND_SIGNING_CONTEXT)


def verify_command_result(result: CommandResult, public_key: Ed25519PublicKey) -> None:
    verify_signature(result.signature, result.signed_bytes, public_key,
                     COMMAND_RESULT_SIGNING_CONTEXT)
