"""RFC 9162 section 2.1 by the letter, independent of the product: MTH (2.1.1), PATH
(2.1.3.1), PROOF and SUBPROOF (2.1.4.1) over a list of leaf data, hashing with hashlib.
The verifiers walk the same recursion and recompute the roots; they are not the
bit-twiddling algorithms of 2.1.3.2 and 2.1.4.2 that the product implements."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

# --- RFC 9162 2.1, by the letter ---------------------------------------------------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _leaf(data: bytes) -> bytes:
    return _sha256(b"\x00" + data)


def _node(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right)


def _k(n: int) -> int:
    """The largest power of two smaller than n, for n > 1."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]), 2.1.1."""
    n = len(d)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _leaf(d[0])
    k = _k(n)
    return _node(mth(d[:k]), mth(d[k:]))


def path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]), 2.1.3.1, for 0 <= m < n."""
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]), 2.1.4.1, for 0 < m <= n."""
    return subproof(m, d, True)


def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


# --- independent verifiers ----------------------------------------------------------------


class Invalid(Exception):
    pass


def _root_from_path(m: int, n: int, leaf: bytes, p: list[bytes]) -> bytes:
    if n == 1:
        if p:
            raise Invalid("path too long")
        return leaf
    if not p:
        raise Invalid("path too short")
    *rest, sibling = p
    k = _k(n)
    if m < k:
        return _node(_root_from_path(m, k, leaf, rest), sibling)
    return _node(sibling, _root_from_path(m - k, n - k, leaf, rest))


def check_inclusion(m: int, n: int, leaf: bytes, p: list[bytes], root: bytes) -> bool:
    if not 0 <= m < n:
        return False
    try:
        return _root_from_path(m, n, leaf, p) == root
    except Invalid:
        return False


def _roots_from_subproof(
    m: int, n: int, p: list[bytes], b: bool, old_root: bytes
) -> tuple[bytes, bytes]:
    """(hash of the old tree's part of this subtree, hash of this subtree) per SUBPROOF."""
    if m == n:
        if b:  # the subtree is the old tree itself, whose root the verifier already knows
            if p:
                raise Invalid("proof too long")
            return old_root, old_root
        if len(p) != 1:
            raise Invalid("proof too long" if p else "proof too short")
        return p[0], p[0]
    if not p:
        raise Invalid("proof too short")
    *rest, sibling = p
    k = _k(n)
    if m <= k:  # the old tree lies in the left part; the right part is new
        old, new = _roots_from_subproof(m, k, rest, b, old_root)
        return old, _node(new, sibling)
    old, new = _roots_from_subproof(m - k, n - k, rest, False, old_root)
    return _node(sibling, old), _node(sibling, new)


def check_consistency(m: int, n: int, old_root: bytes, new_root: bytes, p: list[bytes]) -> bool:
    if not 0 < m <= n:
        return False
    try:
        old, new = _roots_from_subproof(m, n, p, True, old_root)
    except Invalid:
        return False
    return old == old_root and new == new_root
