"""Signed documents with the backend's Ed25519 document key (port: DocumentSigner).

The key lives in `<data_dir>/keys/backend-documents.key`; the first start makes it (mode 600)
and logs its id. `verify_document` is what anyone holding the public key runs.
"""
from __future__ import annotations

import base64
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from backend.adapters.data_keys import data_dir_key
from backend.ports.documents import SignedDocument
from edge.protocol.keys import public_key_pem

DOCUMENT_KEY = "backend-documents"  # <data_dir>/keys/<this>.key


def canonical_json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(_plain(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _plain(value: Any) -> Any:
    """JSON values only; a Decimal as its string, a float refused (its text is not one number)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        raise TypeError("a signed document holds no floats: write amounts as Decimal")
    if value is None or isinstance(value, (str, int)):
        return value
    raise TypeError(f"cannot sign a {type(value).__name__}")


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Ed25519DocumentSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.key_id = key_id(private_key.public_key())

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> Ed25519DocumentSigner:
        """The data directory's document key, made on the first start."""
        return cls(data_dir_key(data_dir, DOCUMENT_KEY))

    def sign(self, document: Mapping[str, Any]) -> SignedDocument:
        body = canonical_json(document)
        return SignedDocument(body, base64.b64encode(self._key.sign(body)).decode(), self.key_id)

    def public_key_pem(self) -> str:
        return public_key_pem(self._key.public_key()).decode()


def verify_document(signed: SignedDocument, public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(base64.b64decode(signed.signature, validate=True), signed.body)
    except (InvalidSignature, ValueError):
        return False
    return signed.key_id == key_id(public_key)
