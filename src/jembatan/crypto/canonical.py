"""RFC 8785 JSON Canonicalization Scheme: the exact bytes that get signed and hashed."""

from __future__ import annotations

from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    return rfc8785.dumps(value)
