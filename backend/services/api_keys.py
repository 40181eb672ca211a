"""API keys: made once, shown once, stored only as a salted hash."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Sequence

from backend.settings import ApiKeyEntry


@dataclass(frozen=True)
class Principal:
    name: str
    role: str  # admin | supervisor | lender | gateway
    lender: str | None = None


def new_api_key() -> str:
    return "pw_" + secrets.token_urlsafe(32)


def hash_api_key(key: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.sha256(salt + key.encode()).hexdigest()
    return f"sha256${salt.hex()}${digest}"


class ApiKeyring:
    def __init__(self, entries: Sequence[ApiKeyEntry]) -> None:
        self._entries = list(entries)

    def authenticate(self, key: str) -> Principal | None:
        for entry in self._entries:
            _, salt_hex, _ = entry.key_hash.split("$")
            if hmac.compare_digest(hash_api_key(key, bytes.fromhex(salt_hex)), entry.key_hash):
                return Principal(entry.name, entry.role, entry.lender)
        return None
