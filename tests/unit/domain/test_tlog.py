"""The evidence log's Merkle tree against the RFC 6962 reference vectors, and by properties.

The vectors (the 8 leaves of the RFC 6962 test tree, the roots of its prefixes, and the proofs)
come from github.com/transparency-dev/merkle, proof/verify_test.go (`leaves`, `roots`,
`inclusionProofs`, `consistencyProofs`), which carries them over from Certificate
Transparency's C++ merkle_tree_test.cc; testdata/consistency/1/happy-path.json in the same
repository holds the 1 -> 8 consistency proof. Their inclusion vectors number leaves from 1;
here indexes are 0-based.
"""
from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain.tlog import (
    EMPTY_ROOT,
    MemoryTree,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]

ROOTS = [bytes.fromhex(h) for h in (   # ROOTS[n - 1] is the root of the first n leaves
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]


def _hashes(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


INCLUSION = [  # (0-based leaf index, tree size, proof)
    (0, 1, []),
    (0, 8, _hashes("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (5, 8, _hashes("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                   "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 3, _hashes("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (1, 5, _hashes("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
]

CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, _hashes("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (6, 8, _hashes("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                   "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 5, _hashes("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
    (6, 7, _hashes("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                   "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
]

TREE = MemoryTree.of_leaves(LEAVES)
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1 written out, for comparison with the store-based code."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def test_the_empty_tree_and_the_domain_separation():
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_hash(MemoryTree(), 0) == EMPTY_ROOT
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_of_the_reference_tree(size):
    assert TREE.root(size) == ROOTS[size - 1]
    assert MemoryTree.of_leaves(LEAVES[:size]).root() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_reference_inclusion_proofs_are_generated_and_verify(index, size, proof):
    assert inclusion_proof(TREE, index, size) == proof
    verify_inclusion(index, size, leaf_hash(LEAVES[index]), proof, ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_reference_consistency_proofs_are_generated_and_verify(old, new, proof):
    assert consistency_proof(TREE, old, new) == proof
    verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)


def _corrupted_inclusions(index, size, proof, root, leaf):
    """transparency-dev/merkle's corruptInclusionProof probes: none of these may verify."""
    yield index - 1, size, leaf, proof, root
    yield index + 1, size, leaf, proof, root
    yield index ^ 2, size, leaf, proof, root
    yield index, size * 2, leaf, proof, root
    yield index, size // 2, leaf, proof, root
    yield index, size, leaf_hash(b"WrongLeaf"), proof, root
    yield index, size, leaf, proof, EMPTY_ROOT
    yield index, size, leaf, proof, SOME_HASH
    yield index, size, leaf, proof + [b""], root
    yield index, size, leaf, proof + [root], root
    yield index, size, leaf, [b""] + proof, root
    yield index, size, leaf, [root] + proof, root
    for i in range(len(proof)):
        flipped = bytes([proof[i][0] ^ 8]) + proof[i][1:]
        yield index, size, leaf, proof[:i] + [flipped] + proof[i + 1:], root
    if proof:
        yield index, size, leaf, proof[:-1], root
    if len(proof) > 1:
        yield index, size, leaf, [proof[0], SOME_HASH] + proof[1:], root


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_corrupted_reference_inclusion_proofs_fail(index, size, proof):
    for probe in _corrupted_inclusions(index, size, proof, ROOTS[size - 1], leaf_hash(LEAVES[index])):
        with pytest.raises(ProofError):
            verify_inclusion(*probe)


def _corrupted_consistencies(old, new, root1, root2, proof):
    """transparency-dev/merkle's corruptConsistencyProof probes."""
    yield old - 1, new, root1, root2, proof
    yield old + 1, new, root1, root2, proof
    yield old ^ 2, new, root1, root2, proof
    yield old, new * 2, root1, root2, proof
    yield old, new // 2, root1, root2, proof
    yield old, new, SOME_HASH, root2, proof
    yield old, new, root1, SOME_HASH, proof
    yield old, new, root2, root1, proof
    yield old, new, root1, root2, []
    yield old, new, root1, root2, proof + [b""]
    yield old, new, root1, root2, proof + [root1]
    yield old, new, root1, root2, proof + [root2]
    yield old, new, root1, root2, [b""] + proof
    yield old, new, root1, root2, [root1] + proof
    yield old, new, root1, root2, [root2] + proof
    yield old, new, root1, root2, [proof[0]] + proof
    yield old, new, root1, root2, proof[:-1]
    for i in range(len(proof)):
        flipped = bytes([proof[i][0] ^ 16]) + proof[i][1:]
        yield old, new, root1, root2, proof[:i] + [flipped] + proof[i + 1:]


@pytest.mark.parametrize(("old", "new", "proof"), [c for c in CONSISTENCY if c[2]])
def test_corrupted_reference_consistency_proofs_fail(old, new, proof):
    for probe in _corrupted_consistencies(old, new, ROOTS[old - 1], ROOTS[new - 1], proof):
        with pytest.raises(ProofError):
            verify_consistency(*probe)


def test_edge_sizes():
    verify_consistency(0, 5, EMPTY_ROOT, ROOTS[4], [])          # the empty tree is a prefix of all
    verify_consistency(3, 3, ROOTS[2], ROOTS[2], [])
    with pytest.raises(ProofError, match="forked"):
        verify_consistency(3, 3, ROOTS[2], ROOTS[3], [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(3, 3, ROOTS[2], ROOTS[2], [EMPTY_ROOT])
    with pytest.raises(ProofError, match="shrank"):
        verify_consistency(5, 4, ROOTS[4], ROOTS[3], [])
    with pytest.raises(ProofError, match="empty root"):
        verify_consistency(0, 5, ROOTS[0], ROOTS[4], [])
    for index, size in ((0, 0), (1, 1), (8, 8), (-1, 3)):
        with pytest.raises(ProofError):
            inclusion_proof(TREE, index, size)
        with pytest.raises(ProofError):
            root_from_inclusion_proof(index, size, leaf_hash(b""), [])
    with pytest.raises(ProofError):
        consistency_proof(TREE, 5, 4)
    with pytest.raises(ProofError):                              # beyond what the store holds
        root_hash(TREE, 9)


def test_a_single_leaf_is_its_own_root():
    hash_ = leaf_hash(b"data")
    verify_inclusion(0, 1, hash_, [], hash_)
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, b"", [], hash_)
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, hash_, [], b"")


class CountingTree:
    """A store that counts what a proof asks of it: generation must stay logarithmic."""

    def __init__(self, tree: MemoryTree):
        self.tree, self.reads = tree, 0

    def subtree_hash(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.tree.subtree_hash(level, index)


def test_proofs_read_a_logarithmic_number_of_subtrees():
    tree = MemoryTree.of_leaves([i.to_bytes(4, "big") for i in range(1000)])
    counting = CountingTree(tree)
    for size in (1000, 999, 513, 777):
        for index in (0, size // 2, size - 1):
            counting.reads = 0
            inclusion_proof(counting, index, size)
            assert counting.reads <= 2 * size.bit_length()
        counting.reads = 0
        consistency_proof(counting, size // 3, size)
        assert counting.reads <= 2 * size.bit_length()


# --- properties ---------------------------------------------------------------------------------

def _leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [salt + i.to_bytes(4, "big") for i in range(n)]


@st.composite
def tree_and_index(draw):
    size = draw(st.integers(1, 300))
    return size, draw(st.integers(0, size - 1))


@settings(max_examples=150, deadline=None)
@given(tree_and_index())
def test_every_inclusion_proof_verifies_and_a_wrong_one_fails(case):
    size, index = case
    leaves = _leaves(size)
    tree = MemoryTree.of_leaves(leaves)
    root = tree.root()
    assert root == mth(leaves)
    proof = inclusion_proof(tree, index, size)
    verify_inclusion(index, size, leaf_hash(leaves[index]), proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf_hash(b"not " + leaves[index]), proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf_hash(leaves[index]), proof, mth(leaves[:-1] + [b"x"]))
    for other in {index - 1, index + 1} & set(range(size)):
        with pytest.raises(ProofError):
            verify_inclusion(other, size, leaf_hash(leaves[index]), proof, root)


@st.composite
def two_sizes(draw):
    new = draw(st.integers(1, 300))
    return draw(st.integers(1, new)), new


@settings(max_examples=150, deadline=None)
@given(two_sizes())
def test_every_consistency_proof_verifies(sizes):
    old, new = sizes
    leaves = _leaves(new)
    tree = MemoryTree.of_leaves(leaves)
    old_root, new_root = mth(leaves[:old]), mth(leaves)
    verify_consistency(old, new, old_root, new_root, consistency_proof(tree, old, new))


@settings(max_examples=150, deadline=None)
@given(two_sizes(), st.data())
def test_a_forked_tree_fails_the_consistency_check(sizes, data):
    """The log rewrote leaf j of the first `old` a bank has seen: no proof from the bank's
    root to today's root verifies, neither today's honest-looking proof nor the old tree's."""
    old, new = sizes
    if old == new:
        new += 1
    fork_at = data.draw(st.integers(0, old - 1))
    seen = _leaves(old)
    today = _leaves(new)
    today[fork_at] = b"rewritten " + today[fork_at]
    forked = MemoryTree.of_leaves(today)
    honest = MemoryTree.of_leaves(_leaves(new))
    for proof in (consistency_proof(forked, old, new), consistency_proof(honest, old, new)):
        with pytest.raises(ProofError):
            verify_consistency(old, new, mth(seen), forked.root(), proof)


@settings(max_examples=50, deadline=None)
@given(two_sizes())
def test_changes_after_the_old_size_stay_consistent(sizes):
    old, new = sizes
    leaves = _leaves(new)
    later = leaves[:old] + _leaves(new - old, b"other ")
    tree = MemoryTree.of_leaves(later)
    verify_consistency(old, new, mth(leaves[:old]), tree.root(), consistency_proof(tree, old, new))
