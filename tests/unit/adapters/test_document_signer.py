"""The backend's document signature: canonical bytes, a signature anyone can check with the
public key, and a refusal of floats (money is Decimal)."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.adapters.document_signer import Ed25519DocumentSigner, canonical_json, verify_document
from edge.protocol.keys import load_public_key


def test_a_signed_document_verifies_and_any_change_does_not(tmp_path):
    signer = Ed25519DocumentSigner.from_data_dir(tmp_path)
    document = {"kind": "delivery_order", "epcs": ["E2-1", "E2-2"], "repayment": Decimal("1500.50"), "lot": "lot-1"}
    signed = signer.sign(document)
    public = load_public_key(signer.public_key_pem())
    assert signed.body == b'{"epcs":["E2-1","E2-2"],"kind":"delivery_order","lot":"lot-1","repayment":"1500.50"}'
    assert verify_document(signed, public)
    assert not verify_document(replace(signed, body=signed.body.replace(b"E2-2", b"E2-3")), public)
    assert not verify_document(signed, Ed25519PrivateKey.generate().public_key())
    assert Ed25519DocumentSigner.from_data_dir(tmp_path).key_id == signer.key_id  # the same key next start


def test_floats_are_refused():
    with pytest.raises(TypeError, match="no floats"):
        canonical_json({"amount": 1.5})
