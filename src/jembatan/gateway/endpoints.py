"""Endpoint patterns: which registered endpoint a call's method and path fall under.
Plain functions over plain data."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from jembatan.errors import InvalidInput

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
ANY_METHOD = "*"
ANY_PATH = "**"
_SEGMENT = re.compile(r"^(\{[A-Za-z0-9_.-]+\}|\*|\*\*|[A-Za-z0-9._~!$&'()+,;=:@%-]+)$")


@dataclass(frozen=True)
class Pattern:
    id: int
    method: str
    path: str
    enabled: bool = True


def check_method(method: str) -> str:
    upper = method.strip().upper()
    if upper != ANY_METHOD and upper not in METHODS:
        raise InvalidInput(
            "method {method!r} must be * or one of {methods}",
            method=method,
            methods=", ".join(METHODS),
        )
    return upper


def check_path(path: str) -> str:
    """`/v1/status/{id}`: `{name}` or `*` is one segment, `**` (last only) any rest."""
    path = path.strip()
    if path == ANY_PATH:
        return path
    if not path.startswith("/"):
        raise InvalidInput("endpoint path {path!r} must start with / (or be **)", path=path)
    segments = path[1:].split("/")
    for i, segment in enumerate(segments):
        if segment == "" and i == len(segments) - 1:
            continue  # a trailing slash
        if not _SEGMENT.match(segment):
            raise InvalidInput(
                "endpoint path {path!r}: segment {segment!r} is not allowed",
                path=path,
                segment=segment,
            )
        if segment == ANY_PATH and i != len(segments) - 1:
            raise InvalidInput("endpoint path {path!r}: ** may only come last", path=path)
    return path


def _segments(path: str) -> list[str]:
    return path.split("?", 1)[0].lstrip("/").split("/")


def matches(pattern: str, path: str) -> bool:
    if pattern == ANY_PATH:
        return True
    want, got = _segments(pattern), _segments(path)
    for i, segment in enumerate(want):
        if segment == ANY_PATH:
            return True
        if i >= len(got):
            return False
        if segment == "*" or (segment.startswith("{") and segment.endswith("}")):
            if not got[i]:
                return False
            continue
        if segment != got[i]:
            return False
    return len(got) == len(want)


def _specificity(p: Pattern) -> tuple[int, int, int]:
    segments = [] if p.path == ANY_PATH else _segments(p.path)
    literal = sum(1 for s in segments if s not in ("*", ANY_PATH) and not s.startswith("{"))
    return (literal, len(segments) - segments.count(ANY_PATH), int(p.method != ANY_METHOD))


def match(patterns: Sequence[Pattern], method: str, path: str) -> Pattern | None:
    """The most specific pattern the call falls under (enabled or not), or None."""
    found = [
        p for p in patterns if p.method in (ANY_METHOD, method.upper()) and matches(p.path, path)
    ]
    return max(found, key=_specificity) if found else None
