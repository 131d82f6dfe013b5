"""The product's proofs against RFC 9162 section 2.1 as written out in tests/ledger/rfc9162.py
(independent of the product): equal proofs, accepted by both verifiers, refused when altered."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jembatan.ledger.merkle import (
    ProofError,
    consistency_proof,
    inclusion_proof,
    root_of,
    subtree_from,
    verify_consistency,
    verify_inclusion,
)
from tests.ledger.rfc9162 import (
    _leaf,
    check_consistency,
    check_inclusion,
    mth,
    path,
    proof,
)

MAX_LEAVES = 40
SubtreeOf = Callable[[Sequence[bytes]], Callable[[int, int], bytes]]


# --- helpers --------------------------------------------------------------------------------


def leaves_of(n: int) -> list[bytes]:
    return [f"leaf {i}".encode() * (i % 3) for i in range(n)]  # includes empty leaves


def list_subtree(d: Sequence[bytes]) -> Callable[[int, int], bytes]:
    def subtree(lo: int, hi: int) -> bytes:
        assert 0 <= lo < hi <= len(d)
        return mth(d[lo:hi])

    return subtree


def complete_subtree(d: Sequence[bytes]) -> Callable[[int, int], bytes]:
    """The product's subtree_from over complete subtrees hashed by MTH."""

    def complete(level: int, index: int) -> bytes:
        lo, hi = index << level, (index + 1) << level
        assert hi <= len(d), "asked for a complete subtree past the end of the tree"
        return mth(d[lo:hi])

    return subtree_from(complete)


SUBTREES = [
    pytest.param(list_subtree, id="list"),
    pytest.param(complete_subtree, id="subtree_from"),
]


def flipped(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit), *h[1:]])


def one_bit_flips(p: list[bytes]) -> list[list[bytes]]:
    return [[flipped(x, i % 8) if j == i else x for j, x in enumerate(p)] for i in range(len(p))]


# --- the test's RFC functions against the RFC's own examples (RFC 9162 2.1.5) -------------

# The 7-leaf tree of 2.1.5: a..f, j are leaves d0..d6; g, h, i are pairs; k = [0, 4);
# l = [4, 7).
RFC_NODES = {
    "a": (0, 1),
    "b": (1, 2),
    "c": (2, 3),
    "d": (3, 4),
    "e": (4, 5),
    "f": (5, 6),
    "j": (6, 7),
    "g": (0, 2),
    "h": (2, 4),
    "i": (4, 6),
    "k": (0, 4),
    "l": (4, 7),
}


@pytest.mark.parametrize("subtree_of", SUBTREES)
@pytest.mark.parametrize(
    ("m", "names"), [(0, "bhl"), (3, "cgl"), (4, "fjk")], ids=["d0", "d3", "d4"]
)
def test_rfc_example_inclusion(m: int, names: str, subtree_of: SubtreeOf) -> None:
    d = leaves_of(7)
    expected = [mth(d[lo:hi]) for lo, hi in (RFC_NODES[x] for x in names)]
    assert path(m, d) == expected
    assert inclusion_proof(m, 7, subtree_of(d)) == expected


@pytest.mark.parametrize("subtree_of", SUBTREES)
@pytest.mark.parametrize(("m", "names"), [(3, "cdgl"), (4, "l"), (6, "ijk")])
def test_rfc_example_consistency(m: int, names: str, subtree_of: SubtreeOf) -> None:
    d = leaves_of(7)
    expected = [mth(d[lo:hi]) for lo, hi in (RFC_NODES[x] for x in names)]
    assert proof(m, d) == expected
    assert consistency_proof(m, 7, subtree_of(d)) == expected


# --- exhaustive up to MAX_LEAVES ------------------------------------------------------------


@pytest.mark.parametrize("n", range(MAX_LEAVES + 1))
def test_root_of_is_mth(n: int) -> None:
    d = leaves_of(n)
    assert root_of(_leaf(x) for x in d) == mth(d)


@pytest.mark.parametrize("subtree_of", SUBTREES)
@pytest.mark.parametrize("n", range(1, MAX_LEAVES + 1))
def test_inclusion_proofs_are_path(n: int, subtree_of: SubtreeOf) -> None:
    d = leaves_of(n)
    root = mth(d)
    subtree = subtree_of(d)
    for m in range(n):
        leaf = _leaf(d[m])
        got = inclusion_proof(m, n, subtree)
        assert got == path(m, d), (m, n)
        assert check_inclusion(m, n, leaf, got, root), (m, n)
        verify_inclusion(m, n, leaf, got, root)
        for bad in one_bit_flips(got):
            assert not check_inclusion(m, n, leaf, bad, root)
            with pytest.raises(ProofError):
                verify_inclusion(m, n, leaf, bad, root)
        with pytest.raises(ProofError):
            verify_inclusion(m, n, flipped(leaf, m % 8), got, root)
        with pytest.raises(ProofError):
            verify_inclusion(m, n, leaf, got, flipped(root, 7))


@pytest.mark.parametrize("subtree_of", SUBTREES)
@pytest.mark.parametrize("n", range(1, MAX_LEAVES + 1))
def test_consistency_proofs_are_proof(n: int, subtree_of: SubtreeOf) -> None:
    d = leaves_of(n)
    new_root = mth(d)
    subtree = subtree_of(d)
    assert consistency_proof(0, n, subtree) == []  # PROOF is defined for 0 < m only
    for m in range(1, n + 1):
        old_root = mth(d[:m])
        got = consistency_proof(m, n, subtree)
        assert got == proof(m, d), (m, n)
        assert check_consistency(m, n, old_root, new_root, got), (m, n)
        verify_consistency(m, n, old_root, new_root, got)
        for bad in one_bit_flips(got):
            assert not check_consistency(m, n, old_root, new_root, bad)
            with pytest.raises(ProofError):
                verify_consistency(m, n, old_root, new_root, bad)
        with pytest.raises(ProofError):
            verify_consistency(m, n, flipped(old_root, m % 8), new_root, got)
        with pytest.raises(ProofError):
            verify_consistency(m, n, old_root, flipped(new_root, 3), got)


def test_consistency_from_one_size_to_a_different_tree_is_rejected() -> None:
    """A proof between sizes m < n does not verify against a tree with another leaf m."""
    d = leaves_of(MAX_LEAVES)
    forked = [*d[:20], b"forked", *d[21:]]
    for m in range(1, 21):
        got = consistency_proof(m, MAX_LEAVES, list_subtree(forked))
        with pytest.raises(ProofError):
            verify_consistency(m, MAX_LEAVES, mth(d[:m]), mth(d), got)
        # ... while it does verify the fork, whose first m leaves are the same.
        verify_consistency(m, MAX_LEAVES, mth(d[:m]), mth(forked), got)


# --- property: any log, any pair of sizes ---------------------------------------------------


@st.composite
def log_and_sizes(draw: st.DrawFn) -> tuple[list[bytes], int, int, int]:
    d = draw(st.lists(st.binary(max_size=12), min_size=1, max_size=200))
    n = draw(st.integers(1, len(d)))
    m = draw(st.integers(0, n))
    index = draw(st.integers(0, n - 1))
    return d, m, n, index


@settings(max_examples=100, deadline=None, database=None)
@given(log_and_sizes())
def test_any_log_proofs_match_the_rfc(case: tuple[list[bytes], int, int, int]) -> None:
    d, m, n, index = case
    subtree = complete_subtree(d[:n]) if n % 2 else list_subtree(d)
    new_root = mth(d[:n])

    got = consistency_proof(m, n, subtree)
    if m == 0:
        assert got == []
    else:
        old_root = mth(d[:m])
        assert got == proof(m, d[:n])
        assert check_consistency(m, n, old_root, new_root, got)
        verify_consistency(m, n, old_root, new_root, got)

    leaf = _leaf(d[index])
    incl = inclusion_proof(index, n, subtree)
    assert incl == path(index, d[:n])
    assert check_inclusion(index, n, leaf, incl, new_root)
    verify_inclusion(index, n, leaf, incl, new_root)
