"""Field rules on structured (JSON) payloads: denied fields refused or removed, only
allowed fields kept, identifying fields replaced by keyed HMAC pseudonyms that are stable
within one agreement. Paths are dotted (`patient.nik`); lists are walked through."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from jembatan.agreements.terms import FieldRules
from jembatan.crypto.canonical import canonical_json
from jembatan.errors import Forbidden, InvalidInput

PSEUDONYM_PREFIX = "pse_"
JSON_TYPES = ("application/json",)


def is_json(content_type: str) -> bool:
    base = content_type.split(";")[0].strip().lower()
    return base in JSON_TYPES or base.endswith("+json")


def active(rules: FieldRules) -> bool:
    return bool(rules.allow or rules.deny or rules.pseudonymise)


def pseudonym(key: bytes, value: Any) -> str:
    mac = hmac.new(key, canonical_json(value), hashlib.sha256).digest()
    return PSEUDONYM_PREFIX + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _covered(path: str, names: tuple[str, ...]) -> bool:
    """Whether `path` is one of `names` or lies inside one of them."""
    return any(path == n or path.startswith(n + ".") for n in names)


def _leads_to(path: str, names: tuple[str, ...]) -> bool:
    """Whether some name lies inside `path` (so `path` must be kept to reach it)."""
    return any(n.startswith(path + ".") for n in names)


def _walk(value: Any, path: str, visit: Any) -> Any:
    if isinstance(value, list):
        return [_walk(item, path, visit) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        here = f"{path}.{key}" if path else str(key)
        kept, new = visit(here, item)
        if kept:
            out[key] = new
    return out


def apply(rules: FieldRules, payload: bytes, key: bytes | None, agreement: str) -> bytes:
    """The payload as the agreement lets it leave: refused, trimmed and pseudonymised."""
    try:
        data = json.loads(payload)
    except ValueError:
        raise InvalidInput(
            "agreement {id} has field rules, so the payload must be JSON", id=agreement
        ) from None

    def visit(path: str, value: Any) -> tuple[bool, Any]:
        denied = _covered(path, rules.deny) or (
            bool(rules.allow)
            and not _covered(path, rules.allow + rules.pseudonymise)
            and not _leads_to(path, rules.allow + rules.pseudonymise)
        )
        if denied:
            if rules.denied == "refuse":
                raise Forbidden(
                    "field {path} may not leave under agreement {id}", path=path, id=agreement
                )
            return False, None
        if path in rules.pseudonymise:
            if key is None:
                raise InvalidInput(
                    "this node holds no pseudonym key for agreement {id}", id=agreement
                )
            return True, _pseudonymise(key, value)
        return True, _walk(value, path, visit)

    return canonical_json(_walk(data, "", visit))


def _pseudonymise(key: bytes, value: Any) -> Any:
    if isinstance(value, list):
        return [_pseudonymise(key, v) for v in value]
    return pseudonym(key, value)


def check(rules: FieldRules, payload: bytes, agreement: str) -> None:
    """The receiving end: what arrived must already obey the rules."""
    try:
        data = json.loads(payload)
    except ValueError:
        raise Forbidden(
            "agreement {id} has field rules, but the payload is not JSON", id=agreement
        ) from None

    def visit(path: str, value: Any) -> tuple[bool, Any]:
        if _covered(path, rules.deny) or (
            bool(rules.allow)
            and not _covered(path, rules.allow + rules.pseudonymise)
            and not _leads_to(path, rules.allow + rules.pseudonymise)
        ):
            raise Forbidden(
                "field {path} is not allowed under agreement {id}", path=path, id=agreement
            )
        if path in rules.pseudonymise:
            values = value if isinstance(value, list) else [value]
            if not all(isinstance(v, str) and v.startswith(PSEUDONYM_PREFIX) for v in values):
                raise Forbidden(
                    "field {path} must arrive pseudonymised under agreement {id}",
                    path=path,
                    id=agreement,
                )
            return True, value
        return True, _walk(value, path, visit)

    _walk(data, "", visit)
