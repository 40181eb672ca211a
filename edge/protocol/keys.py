"""Ed25519 key pairs as PEM, on disk and in settings: a gateway's, or the backend's command key."""
from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.protocol.signing import key_fingerprint


class KeyFileError(ValueError):
    pass


def new_key_pair(directory: Path, gateway_id: str) -> tuple[Path, Path]:
    """Write <id>.key (private, mode 600) and <id>.pub into `directory`; never overwrites."""
    directory.mkdir(parents=True, exist_ok=True)
    private_key = Ed25519PrivateKey.generate()
    private_path, public_path = directory / f"{gateway_id}.key", directory / f"{gateway_id}.pub"
    pem = private_key_pem(private_key)
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(f"{private_path} exists; refusing to overwrite a gateway key") from exc
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public_path.write_bytes(public_key_pem(private_key.public_key()))
    return private_path, public_path


def private_key_pem(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot load private key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(pem: bytes | str) -> Ed25519PublicKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise KeyFileError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError("not an Ed25519 public key")
    return key


def fingerprint_of_pem(pem: bytes | str) -> str:
    return key_fingerprint(load_public_key(pem))

