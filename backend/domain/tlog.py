"""The evidence log's Merkle tree: RFC 9162 (Certificate Transparency v2) section 2.1, SHA-256.

    leaf hash      = SHA-256(0x00 || leaf bytes)
    interior hash  = SHA-256(0x01 || left || right)
    MTH({})        = SHA-256("")
    MTH(D[n])      = interior(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

Proofs are generated with the RFC's recursions (PATH, section 2.1.3.1; SUBPROOF, 2.1.4.1) and
verified with its iterative algorithms (2.1.3.2, 2.1.4.2). The tests check them against the
RFC 6962 vectors that transparency-dev/merkle and Certificate Transparency publish.

Where the hashes come from. Every node of the RFC tree is either a *perfect* subtree (2**level
leaves starting at a multiple of 2**level) or lies on the ragged right edge, and a ragged node is
the fold of the perfect subtrees that tile it. So generation asks its store for one thing only:
`subtree_hash(level, index)`, the hash of the perfect subtree of leaves
[index * 2**level, (index + 1) * 2**level). A perfect subtree never changes once its last leaf is
appended, so a store may keep it forever (a database table keyed by (level, index) is exactly
that cache). With O(1) `subtree_hash`:

- root for size n: one read per set bit of n, O(log n) hashes;
- inclusion proof: O(log n) reads and hashes (at most one ragged node, itself O(log n));
- consistency proof: O(log n) reads and hashes, the same argument;
- appending a leaf completes on average one perfect node (amortised O(1) hashes, 2n nodes kept).

A store holding only leaf hashes can answer `subtree_hash` by hashing 2**level leaves; proofs
then cost O(n) hashes, fine for a dispute pack of a few thousand entries, not for the live log.
"""
from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Sequence
from typing import Protocol

from .errors import DomainError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()   # MTH of the empty tree


class ProofError(DomainError):
    """A proof does not prove what it claims, or the sizes asked for make no sense."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class SubtreeHashes(Protocol):
    def subtree_hash(self, level: int, index: int) -> bytes:
        """MTH of the 2**level leaves starting at leaf index * 2**level (level 0: a leaf hash).
        Only asked for subtrees that lie wholly inside the tree sizes the caller names."""
        ...


class MemoryTree:
    """Every perfect node kept in memory: the reference store, and the shape a table would have."""

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    @classmethod
    def of_leaves(cls, leaves: Sequence[bytes]) -> MemoryTree:
        tree = cls()
        for leaf in leaves:
            tree.append(leaf_hash(leaf))
        return tree

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, hash_: bytes) -> int:
        """Append one leaf hash; return its index. Completes the perfect nodes it closes."""
        _check_hash(hash_, "leaf hash")
        index = self.size
        self._levels[0].append(hash_)
        level = 0
        while len(self._levels[level]) % 2 == 0:   # the node just completed has a left sibling
            row = self._levels[level]
            if level + 1 == len(self._levels):
                self._levels.append([])
            self._levels[level + 1].append(node_hash(row[-2], row[-1]))
            level += 1
        return index

    def subtree_hash(self, level: int, index: int) -> bytes:
        if level >= len(self._levels) or index >= len(self._levels[level]):
            raise ProofError(f"no complete subtree at level {level}, index {index}")
        return self._levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return root_hash(self, self.size if size is None else size)


# --- generation -------------------------------------------------------------------------------

def _split(n: int) -> int:
    """The largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_hash(tree: SubtreeHashes, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a node of the RFC tree (start is aligned to the node's left child)."""
    count = end - start
    if count & (count - 1) == 0:                     # a power of two, aligned: perfect
        level = count.bit_length() - 1
        return tree.subtree_hash(level, start >> level)
    k = _split(count)
    return node_hash(_range_hash(tree, start, start + k), _range_hash(tree, start + k, end))


def root_hash(tree: SubtreeHashes, size: int) -> bytes:
    """The tree head's root for the first `size` leaves."""
    if size < 0:
        raise ProofError(f"tree size {size} is negative")
    return EMPTY_ROOT if size == 0 else _range_hash(tree, 0, size)


def inclusion_proof(tree: SubtreeHashes, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]): the audit path from leaf `index` to the root of the first `size` leaves."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    return _path(tree, index, 0, size)


def _path(tree: SubtreeHashes, m: int, start: int, end: int) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return _path(tree, m, start, start + k) + [_range_hash(tree, start + k, end)]
    return _path(tree, m - k, start + k, end) + [_range_hash(tree, start, start + k)]


def consistency_proof(tree: SubtreeHashes, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]): shows the first old_size leaves are a prefix of new_size's tree.
    Empty when old_size is 0 or equal to new_size (nothing to prove)."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    return _subproof(tree, old_size, 0, new_size, True)


def _subproof(tree: SubtreeHashes, m: int, start: int, end: int, whole: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if whole else [_range_hash(tree, start, end)]
    k = _split(n)
    if m <= k:
        return _subproof(tree, m, start, start + k, whole) + [_range_hash(tree, start + k, end)]
    return _subproof(tree, m - k, start + k, end, False) + [_range_hash(tree, start, start + k)]


# --- verification (what a bank runs; needs nothing but the proof) ------------------------------

def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.3.2: the root that `proof` puts leaf hash `leaf` under at `index` of `size`."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    _check_hash(leaf, "leaf hash")
    fn, sn, r = index, size - 1, leaf
    for i, p in enumerate(proof):
        _check_hash(p, f"proof[{i}]")
        if sn == 0:
            raise ProofError(f"inclusion proof is too long: {len(proof)} hashes for leaf {index} of {size}")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"inclusion proof is too short: {len(proof)} hashes for leaf {index} of {size}")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless `proof` shows leaf hash `leaf` at `index` in the tree `root` of `size`."""
    _check_hash(root, "root hash")
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError(f"inclusion proof for leaf {index} of {size} does not lead to the root")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """RFC 9162 2.1.4.2. Raise ProofError unless the tree `old_root` of `old_size` leaves is a
    prefix of the tree `new_root` of `new_size` leaves."""
    _check_hash(old_root, "old root hash")
    _check_hash(new_root, "new root hash")
    if not 0 <= old_size <= new_size:
        raise ProofError(f"size {new_size} is smaller than size {old_size}: the log shrank")
    if old_size == new_size or old_size == 0:
        if proof:
            raise ProofError(f"a consistency proof from {old_size} to {new_size} must be empty")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise ProofError("a tree of size 0 must have the empty root")
        if old_size == new_size and old_root != new_root:
            raise ProofError(f"two different roots for the same size {old_size}: the log forked")
        return
    if not proof:
        raise ProofError(f"empty consistency proof from {old_size} to {new_size}")
    for i, p in enumerate(proof):
        _check_hash(p, f"proof[{i}]")
    path = list(proof)
    if old_size & (old_size - 1) == 0:     # the old tree is one perfect node, its root not in the proof
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof from {old_size} to {new_size} is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"consistency proof from {old_size} to {new_size} is too short")
    if fr != old_root:
        raise ProofError(f"consistency proof does not lead to the root of size {old_size}: the log forked")
    if sr != new_root:
        raise ProofError(f"consistency proof does not lead to the root of size {new_size}")


# --- many leaves at once (a dispute pack's batches) --------------------------------------------
#
# A pack may hold millions of leaves of one tree. One inclusion proof each would repeat the
# same upper nodes millions of times; instead the pack carries, for the sorted set S of its
# leaf indices, the hashes of the maximal RFC-tree nodes that hold no leaf of S, left to
# right. The verifier folds S's leaf hashes and those nodes back into the root. Nodes wholly
# inside S cost nothing to prove, so a set made of long runs needs O(runs × log n) hashes.

def _count_in(indices: Sequence[int], start: int, end: int) -> int:
    return bisect_left(indices, end) - bisect_left(indices, start)


def multi_proof_ranges(indices: Sequence[int], size: int) -> list[tuple[int, int]]:
    """The leaf ranges [start, end) of the maximal RFC-tree nodes of a tree of `size` that
    hold none of the sorted, distinct `indices`, left to right."""
    _check_indices(indices, size)
    ranges: list[tuple[int, int]] = []
    stack = [(0, size)] if size else []
    while stack:                         # depth first, left child first
        start, end = stack.pop()
        held = _count_in(indices, start, end)
        if held == 0:
            ranges.append((start, end))
        elif held < end - start:
            k = _split(end - start)
            stack += [(start + k, end), (start, start + k)]
    return ranges


def perfect_cover(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees (level, index) whose hashes make up the RFC node [start, end)."""
    count = end - start
    if count & (count - 1) == 0:
        level = count.bit_length() - 1
        return [(level, start >> level)]
    k = _split(count)
    return perfect_cover(start, start + k) + perfect_cover(start + k, end)


def range_hash(tree: SubtreeHashes, start: int, end: int) -> bytes:
    """MTH(D[start:end]) of an RFC-tree node, from its perfect subtrees."""
    return _range_hash(tree, start, end)


def multi_inclusion_proof(tree: SubtreeHashes, indices: Sequence[int], size: int) -> list[bytes]:
    """The hashes of the maximal nodes of the tree of `size` leaves that hold none of the
    sorted, distinct `indices`, in left-to-right order."""
    return [_range_hash(tree, start, end) for start, end in multi_proof_ranges(indices, size)]


class DictTree:
    """Perfect subtree hashes fetched beforehand, keyed (level, index)."""

    def __init__(self, nodes: dict[tuple[int, int], bytes]) -> None:
        self.nodes = nodes

    def subtree_hash(self, level: int, index: int) -> bytes:
        found = self.nodes.get((level, index))
        if found is None:
            raise ProofError(f"no node at level {level}, index {index}")
        return found


def root_from_multi_proof(size: int, indices: Sequence[int], leaves: Sequence[bytes],
                          proof: Sequence[bytes]) -> bytes:
    """The root that the leaf hashes `leaves` (at the sorted, distinct `indices`) and a
    multi_inclusion_proof put them under, for a tree of `size` leaves."""
    if len(indices) != len(leaves):
        raise ProofError(f"{len(indices)} indices for {len(leaves)} leaf hashes")
    _check_indices(indices, size)
    for i, p in enumerate(proof):
        _check_hash(p, f"proof[{i}]")
    hashes = iter(proof)
    position = 0                         # next leaf of `leaves` to consume

    def fold(start: int, end: int) -> bytes:
        nonlocal position
        held = _count_in(indices, start, end)
        if held == 0:
            node = next(hashes, None)
            if node is None:
                raise ProofError(f"multi-leaf proof is too short for a tree of {size}")
            return node
        if held == end - start:          # every leaf here is ours: hash them up
            level = list(leaves[position:position + held])
            position += held
            return _fold_leaves(level)
        k = _split(end - start)
        left = fold(start, start + k)
        return node_hash(left, fold(start + k, end))

    if size == 0:
        raise ProofError("no leaf is in an empty tree")
    root = fold(0, size)
    if next(hashes, None) is not None:
        raise ProofError(f"multi-leaf proof is too long for a tree of {size}")
    return root


def _fold_leaves(level: list[bytes]) -> bytes:
    """MTH of consecutive leaf hashes forming one node of the RFC tree."""
    for i, leaf in enumerate(level):
        _check_hash(leaf, f"leaf hash {i}")
    while len(level) > 1:             # RFC split = pairing from the left, odd one carried up
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _check_indices(indices: Sequence[int], size: int) -> None:
    previous = -1
    for index in indices:
        if not previous < index < size:
            raise ProofError(f"leaf indices must be distinct, sorted and below {size}; {index} is not")
        previous = index
