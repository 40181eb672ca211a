"""Port of the backend's document signature: delivery orders and borrowing-base
certificates leave the backend as signed JSON anyone can check with its public key."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol


@dataclass(frozen=True)
class SignedDocument:
    body: bytes                                # the document's canonical JSON (what is signed)
    signature: str                             # base64 Ed25519 signature over `body`
    key_id: str                                # which backend key signed (see DocumentSigner.key_id)


class DocumentSigner(Protocol):
    key_id: str                                # the first 16 hex digits of SHA-256 of the raw public key

    def sign(self, document: Mapping[str, Any]) -> SignedDocument:
        """Canonical JSON (sorted keys, no spaces, UTF-8; Decimals as strings, no floats) signed."""

    def public_key_pem(self) -> str: ...
