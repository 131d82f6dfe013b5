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
    if kind is dict:  # plain loops: this runs for every ledger entry
        for k, v in value.items():
            if type(k) is not str or not k.isascii() or not _plain(v):
                return False
        return True
    if kind is list or kind is tuple:
        for v in value:  # noqa: SIM110  (a loop is faster than all() here)
            if not _plain(v):
                return False
        return True
    return False


def canonical_json(value: Any) -> bytes:
    if _plain(value):
        try:
            return _encode(value).encode()
        except UnicodeEncodeError:  # a lone surrogate: the full encoder escapes it
            pass
    return rfc8785.dumps(value)
