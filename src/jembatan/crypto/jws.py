"""Compact JWS with EdDSA (Ed25519) over exact bytes (RFC 7515, RFC 8037)."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.registry import HeaderParameter

from jembatan.crypto.keys import KeyPair
from jembatan.errors import InvalidInput

# "EdDSA" is the algorithm name every deployed JOSE library knows; RFC 9864's fully
# specified "Ed25519" name is not yet widely supported, so joserfc's notice is silenced.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", module="joserfc")
ALG = "EdDSA"

# Jembatan's private header parameters (RFC 7515 §4.3), declared so joserfc's strict
# header check accepts them; docs/protocol.md defines each.
PRIVATE_HEADERS: dict[str, str] = {
    "mid": "str",
    "cid": "str",
    "from": "str",
    "to": "list[str]",
    "created": "str",
    "expires": "str",
    "subject": "str",
    "tlp": "str",
    "kind": "str",
    "agreement": "str",
    "sha256": "str",
    "content_type": "str",
    "filename": "str",
    "readers": "list[str]",
}


def header_registry() -> dict[str, HeaderParameter]:
    return {
        name: HeaderParameter(f"Jembatan {name}", kind) for name, kind in PRIVATE_HEADERS.items()
    }


_REGISTRY = jws.JWSRegistry(header_registry=header_registry(), algorithms=[ALG])
# joserfc's defaults (512-byte header, 128 kB payload) are for tokens, not messages: a
# subject alone may be 500 characters, and message size is limited by the node's setting.
_REGISTRY.max_header_length = 16 * 1024
_REGISTRY.max_payload_length = 2**40


def sign(payload: bytes, key: KeyPair, typ: str, **header: Any) -> str:
    protected = {"alg": ALG, "kid": key.kid, "typ": typ, **header}
    return str(jws.serialize_compact(protected, payload, key.key, registry=_REGISTRY))


@dataclass(frozen=True)
class Verified:
    header: dict[str, Any]
    payload: bytes


def unverified_header(token: str) -> dict[str, Any]:
    """The protected header, to learn which key to verify with; trust nothing in it yet."""
    import base64

    try:
        head = token.split(".", 1)[0]
        value = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, IndexError):
        raise InvalidInput("not a compact JWS") from None
    if not isinstance(value, dict):
        raise InvalidInput("not a compact JWS")
    return value


def verify(token: str, key: OKPKey, typ: str) -> Verified:
    try:
        obj = jws.deserialize_compact(token, key, registry=_REGISTRY)
    except (JoseError, ValueError) as exc:
        raise InvalidInput("signature does not verify: {reason}", reason=str(exc)) from None
    header = dict(obj.headers())
    if header.get("typ") != typ:
        raise InvalidInput("expected a {typ} JWS", typ=typ)
    return Verified(header, bytes(obj.payload or b""))
