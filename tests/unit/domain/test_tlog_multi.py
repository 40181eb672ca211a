"""Multi-leaf proofs: a dispute pack's many leaves proven at once against one root."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain.tlog import (
    DictTree,
    MemoryTree,
    ProofError,
    leaf_hash,
    multi_inclusion_proof,
    multi_proof_ranges,
    perfect_cover,
    root_from_multi_proof,
)


def _tree(size: int) -> MemoryTree:
    return MemoryTree.of_leaves([f"leaf {i}".encode() for i in range(size)])


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)))))
def test_any_set_of_leaves_folds_back_into_the_root(case):
    size, chosen = case
    tree = _tree(size)
    indices = sorted(chosen)
    proof = multi_inclusion_proof(tree, indices, size)
    hashes = [tree.subtree_hash(0, i) for i in indices]
    assert root_from_multi_proof(size, indices, hashes, proof) == tree.root()


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 200).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1), min_size=1))))
def test_a_changed_leaf_or_proof_hash_changes_the_root(case):
    size, chosen = case
    tree = _tree(size)
    indices = sorted(chosen)
    proof = multi_inclusion_proof(tree, indices, size)
    hashes = [tree.subtree_hash(0, i) for i in indices]
    hashes[0] = leaf_hash(b"forged")
    assert root_from_multi_proof(size, indices, hashes, proof) != tree.root()


def test_runs_of_leaves_need_few_hashes():
    tree = _tree(1000)
    indices = list(range(100, 400)) + list(range(600, 1000))
    assert len(multi_inclusion_proof(tree, indices, 1000)) <= 2 * 10 * 2


def test_ranges_are_tiled_by_perfect_subtrees_the_store_keeps():
    tree = _tree(77)
    indices = [3, 40, 41, 70]
    nodes = {key: tree.subtree_hash(*key) for start, end in multi_proof_ranges(indices, 77)
             for key in perfect_cover(start, end)}
    assert multi_inclusion_proof(DictTree(nodes), indices, 77) == multi_inclusion_proof(tree, indices, 77)


def test_wrong_lengths_and_orders_are_refused():
    tree = _tree(8)
    proof = multi_inclusion_proof(tree, [1, 5], 8)
    hashes = [tree.subtree_hash(0, 1), tree.subtree_hash(0, 5)]
    with pytest.raises(ProofError, match="too short"):
        root_from_multi_proof(8, [1, 5], hashes, proof[:-1])
    with pytest.raises(ProofError, match="too long"):
        root_from_multi_proof(8, [1, 5], hashes, proof + proof[:1])
    with pytest.raises(ProofError, match="sorted"):
        root_from_multi_proof(8, [5, 1], hashes, proof)
