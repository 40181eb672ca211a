"""Signed test traffic for the ingest tests."""
from __future__ import annotations

import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.ports.ingest import AcceptedMessage
from edge import protocol

NOW_MS = (int(time.time()) // 3600 - 2) * 3_600_000  # whole hours, two ago: TSDBs refuse the future


def public_pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def mixed_readings(seq: int, t_ms: int) -> list[protocol.Reading]:
    """A weight, a temperature and an RFID round per message; values derive from seq."""
    return [protocol.Reading("scale-1", "weight", t_ms, {"weight_kg": 1000.0 + seq, "stable": True}),
            protocol.Reading("probe-1", "temperature", t_ms, {"temperature_c": -18.5 + seq / 100}),
            protocol.Reading("reader-1", "rfid", t_ms, {"tags": [{"epc": f"3034f8a1{seq:08x}"},
                                                                 {"epc": "3034f8a1ffffffff"}]})]


def accepted(seq: int, gateway: str = "gw-1", t_ms: int | None = None) -> AcceptedMessage:
    t_ms = NOW_MS + seq * 1000 if t_ms is None else t_ms
    envelope = protocol.Envelope(gateway, 1, seq, t_ms, tuple(mixed_readings(seq, t_ms)))
    return AcceptedMessage(envelope, t_ms, live_after_ms=NOW_MS)
