"""Identifiers the node makes up for rows it indexes: time first, then random."""

from __future__ import annotations

import re
import time
import uuid

from jembatan.crypto.httpsig import new_nonce
from jembatan.identifiers import uuid7


def test_uuid7_is_an_rfc_9562_version_7_uuid_of_now() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid.UUID(uuid7())
    after = time.time_ns() // 1_000_000
    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after  # unix_ts_ms: the first 48 bits


def test_uuid7s_sort_by_time_and_differ() -> None:
    first = [uuid7() for _ in range(1000)]
    time.sleep(0.002)
    later = uuid7()
    assert len(set(first)) == 1000
    assert all(later > made for made in first)


def test_nonces_are_unique_time_ordered_and_within_the_profile() -> None:
    first = [new_nonce() for _ in range(1000)]
    time.sleep(0.002)
    later = new_nonce()
    assert len(set(first)) == 1000
    assert all(later > made for made in first)
    # docs/protocol.md: 8 to 128 characters; as a structured-field string, no quotes or
    # backslashes; 128 random bits after the 48-bit time.
    assert all(re.fullmatch(r"[0-9a-f]{12}[A-Za-z0-9_-]{22}", made) for made in first)
    assert abs(int(later[:12], 16) - time.time_ns() // 1_000_000) < 1000
