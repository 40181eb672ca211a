"""docs/protocol.md shows a real message: it must still decode and verify."""
from __future__ import annotations

import json
import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge import protocol

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def test_the_documented_example_decodes_and_verifies():
    example = re.search(r"```json\n(.*?)```", DOC.read_text(), re.S).group(1)
    envelope = protocol.decode(example.encode(), "pw/v1/gw-shanghai/data")
    documented_key = Ed25519PrivateKey.from_private_bytes(bytes(range(32))).public_key()
    protocol.verify(envelope, documented_key)
    assert {r.kind for r in envelope.readings} == {"weight", "rfid", "humidity"}
    assert documented_key.public_bytes_raw().hex() in DOC.read_text()
    assert json.loads(example)["v"] == protocol.PROTOCOL_VERSION
