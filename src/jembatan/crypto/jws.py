"""Compact JWS with EdDSA (Ed25519) over exact bytes (RFC 7515, RFC 8037)."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from jembatan.crypto.keys import KeyPair
from jembatan.errors import InvalidInput

# "EdDSA" is the algorithm name every deployed JOSE library knows; RFC 9864's fully
# specified "Ed25519" name is not yet widely supported, so joserfc's notice is silenced.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", module="joserfc")
ALG = "EdDSA"


def sign(payload: bytes, key: KeyPair, typ: str, **header: Any) -> str:
    protected = {"alg": ALG, "kid": key.kid, "typ": typ, **header}
    return str(jws.serialize_compact(protected, payload, key.key, algorithms=[ALG]))


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
        obj = jws.deserialize_compact(token, key, algorithms=[ALG])
    except (JoseError, ValueError) as exc:
        raise InvalidInput("signature does not verify: {reason}", reason=str(exc)) from None
    header = dict(obj.headers())
    if header.get("typ") != typ:
        raise InvalidInput("expected a {typ} JWS", typ=typ)
    return Verified(header, bytes(obj.payload or b""))
