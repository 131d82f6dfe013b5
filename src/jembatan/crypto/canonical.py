"""RFC 8785 JSON Canonicalization Scheme: the exact bytes that get signed and hashed."""

from __future__ import annotations

import json
from typing import Any

import rfc8785

_SAFE = 2**53 - 1
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def _plain(value: Any) -> bool:
    """True when the standard encoder already writes RFC 8785: no floats (their form
    differs), integers within IEEE 754 precision, ASCII keys (sorted alike in UTF-16)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE <= value <= _SAFE)
    if kind is dict:
        return all(type(k) is str and k.isascii() and _plain(v) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(_plain(v) for v in value)
    return False


def canonical_json(value: Any) -> bytes:
    if _plain(value):
        try:
            return _encode(value).encode()
        except UnicodeEncodeError:  # a lone surrogate: the full encoder escapes it
            pass
    return rfc8785.dumps(value)
