"""Identifiers the node makes up for rows it indexes: time first, then random."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import pytest

from jembatan.crypto.httpsig import new_nonce
from jembatan.identifiers import uuid7


def test_uuid7_is_an_rfc_9562_version_7_uuid_of_now() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid.UUID(uuid7())
    after = time.time_ns() // 1_000_000
    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after  # unix_ts_ms: the first 48 bits


@pytest.mark.parametrize("make", [uuid7, new_nonce], ids=["uuid7", "nonce"])
def test_made_ids_differ_and_sort_by_time(make: Callable[[], str]) -> None:
    first = [make() for _ in range(1000)]
    time.sleep(0.002)
    later = make()
    assert len(set(first)) == 1000
    assert all(later > made for made in first)


def test_nonces_fit_the_signature_profile() -> None:
    made = new_nonce()
    # docs/protocol.md: 8 to 128 characters; as a structured-field string, no quotes or
    # backslashes; 128 random bits after the 48-bit time.
    assert re.fullmatch(r"[0-9a-f]{12}[A-Za-z0-9_-]{22}", made)
    assert abs(int(made[:12], 16) - time.time_ns() // 1_000_000) < 1000
