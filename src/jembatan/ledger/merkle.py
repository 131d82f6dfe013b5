"""Merkle tree hashing, proofs and their verification, exactly as RFC 9162 section 2.1.

Proof builders take `subtree(lo, hi)`, a function giving the hash of leaves [lo, hi),
so that the tree can live anywhere (tiles in the database, a list in memory)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

Subtree = Callable[[int, int], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not prove what it claims."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class RootBuilder:
    """The root over leaves added one by one, in O(log n) memory; readable at any size."""

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[tuple[int, bytes]] = []  # (height, hash) of complete subtrees

    def add(self, leaf: bytes) -> None:
        self.add_subtree(0, leaf)

    def add_subtree(self, height: int, h: bytes) -> None:
        """Add 2**height leaves at once by their subtree hash (they must start at a multiple
        of 2**height, as leaves added in whole aligned blocks do)."""
        self.size += 1 << height
        while self.stack and self.stack[-1][0] == height:
            h = node_hash(self.stack.pop()[1], h)
            height += 1
        self.stack.append((height, h))

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        root = self.stack[-1][1]
        for _, h in reversed(self.stack[:-1]):  # the incomplete right edge folds leftwards
            root = node_hash(h, root)
        return root


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    builder = RootBuilder()
    for h in leaf_hashes:
        builder.add(h)
    return builder.root()


def subtree_from(complete: Callable[[int, int], bytes]) -> Subtree:
    """A range hasher over `complete(level, index)`, the hash of the aligned complete
    subtree of 2**level leaves starting at index * 2**level."""

    def subtree(lo: int, hi: int) -> bytes:
        width = hi - lo
        if width <= 0:
            raise ValueError("empty range")
        if width & (width - 1) == 0 and lo % width == 0:
            level = width.bit_length() - 1
            return complete(level, lo >> level)
        k = split(width)
        return node_hash(subtree(lo, lo + k), subtree(lo + k, hi))

    return subtree


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1, leaf side first."""
    if not 0 <= index < size:
        raise ValueError("index must be below the tree size")
    proof: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split(hi - lo)
        if index < lo + k:
            proof.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree(lo, lo + k))
            lo = lo + k
    proof.reverse()
    return proof


def consistency_proof(old: int, new: int, subtree: Subtree) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 2.1.4.1; empty when old is 0 or equals new."""
    if not 0 <= old <= new:
        raise ValueError("the old size must not exceed the new size")
    if old in (0, new):
        return []
    proof: list[bytes] = []
    lo, hi, m, whole = 0, new, old, True
    while True:
        if m == hi - lo:
            if not whole:
                proof.append(subtree(lo, hi))
            break
        k = split(hi - lo)
        if m <= k:
            proof.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree(lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    proof.reverse()
    return proof


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """RFC 9162 2.1.3.2: the root that `proof` leads to from `leaf`."""
    if not 0 <= index < size:
        raise ProofError("index outside the tree")
    _check_hashes([leaf, *proof])
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof too short")
    return r


def _check_hashes(hashes: list[bytes]) -> None:
    if any(len(h) != 32 for h in hashes):
        raise ProofError("every hash must be 32 bytes")


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    _check_hashes([root])
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    """RFC 9162 2.1.4.2; raises ProofError unless the new tree extends the old one. The
    proof is defined for 0 < old <= new: any tree extends the empty one, with no proof."""
    if not 0 < old <= new:
        raise ProofError("consistency is checked from a size of at least 1 up to the new size")
    if old == new:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("same size, different roots")
        return
    _check_hashes([old_root, new_root, *proof])
    if not proof:
        raise ProofError("empty proof")
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the first node of the path
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("proof too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof too short")
    if fr != old_root:
        raise ProofError("proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("proof does not lead to the new root")
