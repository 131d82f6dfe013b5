"""HTTP Message Signatures (RFC 9421) with Ed25519, and Content-Digest (RFC 9530).

Jembatan's profile: one signature labelled `sig1` covering at least `@method`,
`@target-uri` and `content-digest`, with `created`, `keyid`, `nonce`, `alg="ed25519"` and
`tag="jembatan"`. See docs/protocol.md.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import http_sf
from cryptography.exceptions import InvalidSignature

LABEL = "sig1"
TAG = "jembatan"
REQUIRED = ("@method", "@target-uri", "content-digest")
CLOCK_SKEW = 30  # seconds a sender's clock may run ahead


class SigningKey(Protocol):
    """An Ed25519 private key: cryptography's, or crypto/ed25519.Signing."""

    def sign(self, data: bytes) -> bytes: ...


class VerifyingKey(Protocol):
    """An Ed25519 public key: raises InvalidSignature when a signature fails."""

    def verify(self, signature: bytes, data: bytes) -> None: ...


class SignatureRefused(Exception):
    """The request's signature is missing, malformed, stale, unknown or wrong."""


def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def claimed_sha256(header: str) -> bytes:
    """The SHA-256 a Content-Digest field gives; SignatureRefused without one."""
    plain = _PLAIN_DIGEST.fullmatch(header)
    if plain:
        with contextlib.suppress(binascii.Error):
            return base64.b64decode(plain[1])
    digests: Any
    try:
        digests = http_sf.parse(header.encode(), tltype="dictionary")
        claimed = digests["sha-256"][0]
    except (ValueError, KeyError):
        raise SignatureRefused("Content-Digest with sha-256 is required") from None
    if not isinstance(claimed, bytes):
        raise SignatureRefused("Content-Digest with sha-256 is required")
    return claimed


def _params(components: tuple[str, ...], created: int, keyid: str, nonce: str) -> str:
    inner = " ".join(f'"{c}"' for c in components)
    return f'({inner});created={created};keyid="{keyid}";nonce="{nonce}";alg="ed25519";tag="{TAG}"'


def _base(values: Mapping[str, str], params: str) -> bytes:
    lines = [f'"{name}": {value}' for name, value in values.items()]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode()


def sign(
    method: str,
    target_uri: str,
    body: bytes,
    key: SigningKey,
    keyid: str,
    created: int,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers to add to a request: Content-Digest, Signature-Input and Signature."""
    digest = content_digest(body)
    values = {"@method": method.upper(), "@target-uri": target_uri, "content-digest": digest}
    headers, _ = sign_values(values, key, keyid, created, nonce)
    return {"Content-Digest": digest, **headers}


def new_nonce() -> str:
    """128 random bits after the time in milliseconds (12 hex digits): unique and
    unguessable, and a verifier's index of seen nonces grows at its end, not all over."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_urlsafe(16)}"


def sign_values(
    values: Mapping[str, str],
    key: SigningKey,
    keyid: str,
    created: int,
    nonce: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """Sign the given components (in order); the Signature-Input and Signature headers,
    and the signature bytes."""
    params = _params(tuple(values), created, keyid, nonce or new_nonce())
    signature = key.sign(_base(values, params))
    headers = {
        "Signature-Input": f"{LABEL}={params}",
        "Signature": f"{LABEL}=:{base64.b64encode(signature).decode()}:",
    }
    return headers, signature


def signature_base(values: Mapping[str, str], signature_input: str) -> bytes:
    """The signature base of components signed with this Signature-Input header."""
    return _base(values, signature_input.split("=", 1)[1])


@dataclass(frozen=True)
class SignedRequest:
    keyid: str
    nonce: str
    created: int


def verify(
    method: str,
    target_uri: str,
    headers: Mapping[str, str],
    body: bytes,
    key_for: Callable[[str, int], VerifyingKey],
    now: int,
    max_age: int,
) -> SignedRequest:
    """Verify the request or raise SignatureRefused naming the reason.

    `headers` must be case-insensitive (e.g. Starlette's). `key_for(keyid, created)`
    returns the sender's key valid at `created` or raises SignatureRefused.
    """
    if headers.get("signature-input") and headers.get("signature"):
        claimed = claimed_sha256(headers.get("content-digest", ""))
        if not hmac.compare_digest(claimed, hashlib.sha256(body).digest()):
            raise SignatureRefused("Content-Digest does not match the body")

    def value_of(name: str) -> str | None:
        if name == "@method":
            return method.upper()
        if name == "@target-uri":
            return target_uri
        return None

    return verify_values(headers, value_of, REQUIRED, key_for, now, max_age).request


Fields = tuple[list[str], dict[str, Any], str, bytes]

# Fields as RFC 8941 serializes them (Jembatan's own, and most senders'): one `sig1`
# member, covered components as strings, parameters as integers or strings. Such a field
# is read by these patterns, and its @signature-params value is its own text; any other
# field goes through the full structured-field parser and serializer.
_SF_STRING = r'"[\x20\x21\x23-\x5b\x5d-\x7e]*"'
_SF_PARAM = r";([a-z*][a-z0-9_.*-]*)=(0|-?[1-9][0-9]{0,14}|" + _SF_STRING + ")"
_PLAIN_INPUT = re.compile(
    rf"{LABEL}=((\((?:{_SF_STRING}(?: {_SF_STRING})*)?\))((?:{_SF_PARAM})*))", re.ASCII
)
_PLAIN_SIGNATURE = re.compile(rf"{LABEL}=:([A-Za-z0-9+/]*={{0,2}}):", re.ASCII)
_PLAIN_DIGEST = re.compile(r"sha-256=:([A-Za-z0-9+/]*={0,2}):", re.ASCII)
_STRINGS = re.compile(_SF_STRING)
_PARAMS = re.compile(_SF_PARAM)


def read_fields(raw_input: str, raw_signature: str) -> Fields:
    """The `sig1` signature's covered components, parameters, @signature-params value and
    signature bytes."""
    plain_input = _PLAIN_INPUT.fullmatch(raw_input)
    plain_signature = _PLAIN_SIGNATURE.fullmatch(raw_signature)
    if plain_input and plain_signature:
        text, inner, rest = plain_input.group(1, 2, 3)
        params: dict[str, Any] = {}
        for key, value in _PARAMS.findall(rest):
            params[key] = value[1:-1] if value[0] == '"' else int(value)
        if len(params) == rest.count(";"):  # else a repeated key (or a ';' in a string)
            with contextlib.suppress(binascii.Error):  # unpadded: the parser allows it
                signature = base64.b64decode(plain_signature[1])
                components = [c[1:-1] for c in _STRINGS.findall(inner)]
                return components, params, text, signature
    return _parsed_fields(raw_input, raw_signature)


def _parsed_fields(raw_input: str, raw_signature: str) -> Fields:
    inputs: Any
    signatures: Any
    try:
        inputs = http_sf.parse(raw_input.encode(), tltype="dictionary")
        signatures = http_sf.parse(raw_signature.encode(), tltype="dictionary")
    except ValueError:
        raise SignatureRefused("Signature-Input or Signature is not a structured field") from None
    if LABEL not in inputs or LABEL not in signatures:
        raise SignatureRefused(f"no signature labelled {LABEL!r}")
    members, params = inputs[LABEL]
    signature = signatures[LABEL][0]
    if not isinstance(members, list) or not isinstance(signature, bytes):
        raise SignatureRefused("malformed signature fields")
    components = [m[0] for m in members]
    if any(not isinstance(c, str) or m[1] for c, m in zip(components, members, strict=True)):
        raise SignatureRefused("component parameters are not supported")
    return components, dict(params), http_sf.ser([inputs[LABEL]]), signature


@dataclass(frozen=True)
class Verified:
    request: SignedRequest
    signature: bytes
    base: bytes


def verify_values(
    headers: Mapping[str, str],
    derived: Callable[[str], str | None],
    required: tuple[str, ...],
    key_for: Callable[[str, int], VerifyingKey],
    now: int,
    max_age: int,
) -> Verified:
    """Verify the `sig1` signature of a request or response whose derived components
    (`@method`, `@status`, ...) `derived` answers; header components come from `headers`."""
    raw_input, raw_signature = headers.get("signature-input"), headers.get("signature")
    if not raw_input or not raw_signature:
        raise SignatureRefused("the request is not signed (no Signature-Input/Signature)")
    components, params, params_text, signature = read_fields(raw_input, raw_signature)
    missing = [c for c in required if c not in components]
    if missing:
        raise SignatureRefused(f"the signature does not cover {', '.join(missing)}")
    created, keyid, nonce = params.get("created"), params.get("keyid"), params.get("nonce")
    if not isinstance(created, int) or not isinstance(keyid, str) or not isinstance(nonce, str):
        raise SignatureRefused("the signature lacks created, keyid or nonce")
    if params.get("alg", "ed25519") != "ed25519":
        raise SignatureRefused("only alg ed25519 is accepted")
    if created > now + CLOCK_SKEW:
        raise SignatureRefused("the signature was created in the future; check the clock")
    if created < now - max_age:
        raise SignatureRefused(f"the signature is older than {max_age} seconds")
    expires = params.get("expires")
    if isinstance(expires, int) and expires < now:
        raise SignatureRefused("the signature has expired")
    if not 8 <= len(nonce) <= 128:
        raise SignatureRefused("the nonce must be 8 to 128 characters")
    values: dict[str, str] = {}
    for name in components:
        value = derived(name) if name.startswith("@") else headers.get(name)
        if value is None:
            if name.startswith("@"):
                raise SignatureRefused(f"component {name} is not supported")
            raise SignatureRefused(f"covered header {name} is missing")
        values[name] = value.strip()
    base = _base(values, params_text)
    try:
        key_for(keyid, created).verify(signature, base)
    except InvalidSignature:
        raise SignatureRefused("the signature does not verify") from None
    return Verified(SignedRequest(keyid, nonce, created), signature, base)
