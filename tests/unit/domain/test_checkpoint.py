"""Signed notes, checkpoints and cosignatures against published vectors, then round trips.

Sources of the fixed values:
- golang.org/x/mod, sumdb/note/note_test.go (TestSign, TestOpen, TestNewVerifier): the
  PeterNeumann and EnochRoot keys, the note text and its exact signed form.
- c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature: the example checkpoint of
  example.com/behind-the-sofa with a log signature and a witness cosignature (no keys published).
- github.com/transparency-dev/formats, note/note_cosigv1_test.go: a native cosignature/v1
  verifier key (remora.n621.de, type 0x04), a type 0x01 key whose base64 holds a '+', and a
  cosignature whose timestamp is 1727964367.
"""
from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.domain.checkpoint import (
    COSIGNATURE_V1,
    ED25519,
    Checkpoint,
    Cosigner,
    Note,
    NoteError,
    NoteSigner,
    Signature,
    Verifier,
    cosigned_message,
    key_id,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_note,
    parse_vkey,
)
from backend.domain.evidence import Entry
from backend.domain.tlog import MemoryTree, inclusion_proof, leaf_hash, verify_inclusion

# golang.org/x/mod sumdb/note: "PRIVATE+KEY+PeterNeumann+c74f20a3+" || base64(0x01 || seed)
PETER_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = ("— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6K"
             "E6RyyBwJnAM=\n")
ENOCH_SIG = ("— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1"
             "RvMc+QQ=\n")

# c2sp.org/tlog-cosignature's example.
SOFA = ("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
        "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzG"
        "ku9nTo+zyWE+xeMcTOAYQ8=\n"
        "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
        "qhf5nNo0xUe+mbIUBkBIfZ+qnA==\n")


def test_signing_reproduces_the_go_sumdb_note_vector():
    signer = NoteSigner("PeterNeumann", Ed25519PrivateKey.from_private_bytes(PETER_SEED))
    assert signer.verifier.vkey() == PETER_VKEY
    assert signer.verifier.key_id.hex() == "c74f20a3"
    assert Note(TEXT, (signer.sign(TEXT),)).encode() == TEXT + "\n" + PETER_SIG


def test_opening_the_go_sumdb_notes():
    peter, enoch = parse_vkey(PETER_VKEY), parse_vkey(ENOCH_VKEY)
    both = parse_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG)
    assert both.text == TEXT
    assert [v.name for v in open_note(both, [peter])] == ["PeterNeumann"]            # Enoch ignored
    assert [v.name for v in open_note(both, [peter, enoch])] == ["PeterNeumann", "EnochRoot"]
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(both, [])
    twice = parse_note(TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG)
    assert len(open_note(twice, [peter])) == 1
    broken = parse_note(TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:])
    with pytest.raises(NoteError, match="does not verify"):
        open_note(broken, [peter])
    misnamed = parse_note(TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "CarmenSandiego"))
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(misnamed, [peter])


@pytest.mark.parametrize("message", [
    TEXT,                                                   # no blank line
    TEXT + "\n",                                            # no signature
    TEXT + "\n" + PETER_SIG[:-1],                           # no final newline
    "\x01" + TEXT + "\n" + PETER_SIG,                       # a control character
    b"\xff" + (TEXT + "\n" + PETER_SIG).encode(),           # not UTF-8
    TEXT + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
                  "BwJnAM=\n",                              # a name with a space
    TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    TEXT + "\n" + PETER_SIG * 101,                          # too many signatures
    TEXT + "\n" + "— a+b x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJ"
                  "nAM=\n",                                 # a name with a plus
    TEXT + "\n" + "— PeterNeumann x08go\n",                 # not base64
    TEXT + "\n" + "— PeterNeumann AAAAAA==\n",              # shorter than a key ID and one byte
])
def test_malformed_notes_are_refused(message):
    with pytest.raises(NoteError):
        parse_note(message)


def test_verifier_keys():
    remora = parse_vkey("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
    assert remora.signature_type == COSIGNATURE_V1
    assert remora.vkey() == "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
    plus = parse_vkey("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
    assert plus.signature_type == ED25519
    for bad in ("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",  # key too long
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",          # unknown type
                "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",          # wrong key ID
                "PeterNeumann+c74f20a3", "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                "bananas.sigstore.dev+12344556", "rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!"):
        with pytest.raises(NoteError):
            parse_vkey(bad)


def test_the_c2sp_example_checkpoint_parses():
    note = parse_note(SOFA)
    checkpoint = parse_checkpoint(note.text)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint.text() == note.text
    assert note.encode() == SOFA
    log, witness = note.signatures
    assert len(log.value) == 64                                 # Ed25519
    assert len(witness.value) == 8 + 64                         # timestamp || Ed25519
    # transparency-dev/formats: the timestamp of this cosignature/v1 is 1727964367.
    stamped = parse_note("x\n\n— w ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWW"
                         "OworDcFiEBYJXORmnFBOBA==\n").signatures[0]
    assert int.from_bytes(stamped.value[:8], "big") == 1727964367


@pytest.mark.parametrize("text", [
    "o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",     # leading zero
    "o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
    "o\n１\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",      # not ASCII digits
    "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",     # non-canonical base64
    "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n",         # not 32 bytes
    "o\n1\n",
    "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",      # empty origin
    "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",   # an empty extension line
    "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",       # no final newline
])
def test_malformed_checkpoints_are_refused(text):
    with pytest.raises(NoteError):
        parse_checkpoint(text)


def test_a_checkpoint_round_trips_with_extension_lines_and_size_zero():
    root = MemoryTree.of_leaves([b"a", b"b", b"c"]).root()
    checkpoint = Checkpoint("pledgewatch.example/log", 3, root, ("note one",))
    assert parse_checkpoint(checkpoint.text()) == checkpoint
    assert checkpoint.text().endswith("\nnote one\n")
    assert parse_checkpoint("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n").size == 0


def _key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


LOG = NoteSigner("pledgewatch.example/log", _key(1))
BANK_A = Cosigner("bank-a.example/witness", _key(2))
BANK_B = Cosigner("bank-b.example/witness", _key(3))
CHECKPOINT = Checkpoint("pledgewatch.example/log", 3, MemoryTree.of_leaves([b"a", b"b", b"c"]).root())


def _signed(checkpoint: Checkpoint = CHECKPOINT) -> Note:
    note = Note(checkpoint.text())
    return note.with_signature(LOG.sign(note.text))


def test_the_cosigned_message_is_the_spec_layout():
    assert cosigned_message("o\n1\nroot\n", 1679315147) == b"cosignature/v1\ntime 1679315147\no\n1\nroot\n"
    with pytest.raises(NoteError):
        cosigned_message("o\n1\nroot\n", 2**63)
    assert key_id("w", COSIGNATURE_V1, bytes(32)) != key_id("w", ED25519, bytes(32))


def test_a_bank_verifies_the_log_and_the_witnesses():
    note = _signed().with_signature(BANK_A.cosign(CHECKPOINT, 1_700_000_000)) \
                    .with_signature(BANK_B.cosign(CHECKPOINT, 1_700_000_060))
    opened = open_checkpoint(note.encode(), LOG.verifier, [BANK_A.verifier, BANK_B.verifier])
    assert opened.checkpoint == CHECKPOINT
    assert [(c.name, c.timestamp_s) for c in opened.cosignatures] == [
        ("bank-a.example/witness", 1_700_000_000), ("bank-b.example/witness", 1_700_000_060)]
    # Bank B's key unknown to the reader: its line is ignored, not an error.
    assert len(open_checkpoint(note.encode(), LOG.verifier, [BANK_A.verifier]).cosignatures) == 1
    # Re-cosigning replaces the bank's earlier line.
    again = note.with_signature(BANK_A.cosign(CHECKPOINT, 1_700_000_120))
    assert len(again.signatures) == 3


def test_a_forged_or_unsigned_checkpoint_is_refused():
    note = _signed().with_signature(BANK_A.cosign(CHECKPOINT, 1_700_000_000))
    bigger = note.encode().replace("\n3\n", "\n4\n", 1)
    with pytest.raises(NoteError, match="does not verify"):
        open_checkpoint(bigger, LOG.verifier, [BANK_A.verifier])
    only_witness = Note(CHECKPOINT.text(), (BANK_A.cosign(CHECKPOINT, 1_700_000_000),))
    with pytest.raises(NoteError, match="not signed by the log key"):
        open_checkpoint(only_witness.encode(), LOG.verifier, [BANK_A.verifier])
    impostor = NoteSigner("pledgewatch.example/log", _key(9))
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_checkpoint(_signed().encode(), impostor.verifier)


def test_a_cosignature_binds_its_time_and_its_type():
    cosignature = BANK_A.cosign(CHECKPOINT, 1_700_000_000)
    assert BANK_A.verifier.verify(CHECKPOINT.text(), cosignature) == 1_700_000_000
    later = Signature(cosignature.name, cosignature.key_id,
                      (1_700_000_001).to_bytes(8, "big") + cosignature.value[8:])
    with pytest.raises(NoteError, match="does not verify"):
        BANK_A.verifier.verify(CHECKPOINT.text(), later)
    # The same key configured as a plain note key has another key ID: the line is not its.
    plain = Verifier(BANK_A.verifier.name, ED25519, BANK_A.verifier.public_key)
    with pytest.raises(NoteError, match="is not by"):
        plain.verify(CHECKPOINT.text(), cosignature)
    assert LOG.verifier.verify(CHECKPOINT.text(), LOG.sign(CHECKPOINT.text())) is None


class _Colliding(Verifier):
    """Two keys whose IDs collide (a 2**32 search in real life)."""
    key_id = property(lambda self: b"\0\0\0\0")


def test_two_keys_under_one_name_and_id_are_refused():
    with pytest.raises(NoteError, match="share the key ID"):
        open_note(_signed(), [_Colliding("x", ED25519, bytes(32)), _Colliding("x", ED25519, bytes([1]) * 32)])


def test_the_example_in_docs_evidence_is_what_the_code_makes():
    page = (Path(__file__).resolve().parents[3] / "docs" / "evidence.md").read_text()
    entries = [
        Entry("pledge", 1767225600, {"loan": "L-001", "lot": "LOT-7"}, {"by": "ops@pledgewatch"}),
        Entry("price_mark.used", 1767229200, {"commodity": "maize", "loan": "L-001"},
              {"price": Decimal("231.50"), "currency": "USD", "unit": "t", "source": "safex",
               "observed_at_s": 1767225600}),
        Entry("alert.acknowledged", 1767232800, {"alert": "ltv_warning/L-001/1767229200"}, {"by": "credit@bank-a"}),
    ]
    tree = MemoryTree()
    for entry in entries:
        tree.append(leaf_hash(entry.leaf()))
    log = NoteSigner("pledgewatch.example/log", _key(1))
    bank = Cosigner("bank-a.example/witness", _key(2))
    checkpoint = Checkpoint("pledgewatch.example/log", tree.size, tree.root())
    note = Note(checkpoint.text()).with_signature(log.sign(checkpoint.text())) \
        .with_signature(bank.cosign(checkpoint, 1767236400))
    assert "\n".join(entry.leaf().decode() for entry in entries) in page
    assert note.encode() in page
    assert log.verifier.vkey() in page and bank.verifier.vkey() in page
    proof = inclusion_proof(tree, 2, 3)
    assert base64.b64encode(proof[0]).decode() in page
    opened = open_checkpoint(note.encode(), parse_vkey(log.verifier.vkey()), [parse_vkey(bank.verifier.vkey())])
    verify_inclusion(2, opened.checkpoint.size, leaf_hash(entries[2].leaf()), proof, opened.checkpoint.root_hash)
