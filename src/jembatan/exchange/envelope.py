"""The envelope: a payload signed by the sending member (JWS, EdDSA) and then encrypted to
the recipient members (JWE general JSON, ECDH-ES+A256KW with X25519, A256GCM).

Plain functions over bytes and keys; see docs/protocol.md for the wire format.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwa import DeflateZipModel
from joserfc.jwk import OKPKey

from jembatan.crypto import jws
from jembatan.crypto.keys import KeyPair
from jembatan.errors import InvalidInput
from jembatan.registry.directory import parse_stamp, stamp

ENVELOPE_TYP = "jembatan-envelope+jwe"
MAX_INLINE = 128 * 1024 * 1024
INFLATE_LIMIT = MAX_INLINE * 4 // 3 + 1024 * 1024
MESSAGE_TYP = "jembatan-message+jws"
KEY_ALG, ENC, ZIP = "ECDH-ES+A256KW", "A256GCM", "DEF"
_JWE_ALGS = [KEY_ALG, ENC, ZIP]
# Fields that appear in both headers and must agree: routing data the receiver checks
# before it decrypts, and the same data under the sender's signature.
ROUTING = ("mid", "from", "to", "created", "expires")
TLP = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")
_SEALING = jwe.JWERegistry(header_registry=jws.header_registry(), algorithms=_JWE_ALGS)
# One recipient of many opens only its own share.
_OPENING = jwe.JWERegistry(
    header_registry=jws.header_registry(), algorithms=_JWE_ALGS, verify_all_recipients=False
)
for _registry in (_SEALING, _OPENING):
    # joserfc's defaults suit tokens; a message is bounded by the node's size setting and
    # a list of at most MAX_RECIPIENTS (+1 for the sender's own copy).
    _registry.max_ciphertext_length = 2**40
    _registry.max_protected_header_length = 16 * 1024
    _registry.max_recipients = 64
# Inflating is capped (a compression bomb from a member must not exhaust memory) just
# above the largest inline message: JWS base64 (4/3) of JEMBATAN_MAX_MESSAGE_BYTES.
DeflateZipModel.MAX_SIZE = INFLATE_LIMIT
_INCOMPRESSIBLE = (
    "image/",
    "video/",
    "audio/",
    "application/zip",
    "application/gzip",
    "application/pdf",
    "application/x-7z",
    "application/zstd",
)


@dataclass(frozen=True)
class Letter:
    """What the sender states about a message; all of it is signed."""

    mid: str
    conversation: str
    sender: str
    recipients: tuple[str, ...]
    created: datetime
    expires: datetime
    subject: str
    classification: str
    content_type: str
    filename: str | None = None
    agreement: str | None = None
    kind: str = "message"  # what the agreement rules call the message (its flow kind)
    # TLP:RED: the people (MEMBER/user/NAME) who alone may read it, at each end.
    readers: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def routing(self) -> dict[str, Any]:
        return {
            "mid": self.mid,
            "from": self.sender,
            "to": list(self.recipients),
            "created": stamp(self.created),
            "expires": stamp(self.expires),
        }


def cleared_labels(clearance: str) -> tuple[str, ...]:
    """The labels a person with this clearance may read: TLP is ordered."""
    return TLP[: TLP.index(clearance) + 1] if clearance in TLP else ()


def check_classification(label: str) -> str:
    if label not in TLP:
        raise InvalidInput(
            "classification {label!r} is not a TLP 2.0 label ({labels})",
            label=label,
            labels=", ".join(TLP),
        )
    return label


def _worth_compressing(payload: bytes, content_type: str) -> bool:
    if content_type.startswith(_INCOMPRESSIBLE) or len(payload) < 256:
        return False
    sample = payload[: 64 * 1024]
    return len(zlib.compress(sample, 1)) < 0.9 * len(sample)


def seal(
    letter: Letter,
    payload: bytes,
    signer: KeyPair,
    recipient_keys: list[dict[str, Any]],
) -> bytes:
    """Sign then encrypt. `recipient_keys` are the X25519 JWKs to encrypt to (each
    recipient's current key, plus the sender's own so it can read its sent mail)."""
    header: dict[str, Any] = {
        **letter.routing(),
        "cid": letter.conversation,
        "subject": letter.subject,
        "tlp": letter.classification,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "content_type": letter.content_type,
        **({"filename": letter.filename} if letter.filename else {}),
        **({"agreement": letter.agreement} if letter.agreement else {}),
        "kind": letter.kind,
        **({"readers": list(letter.readers)} if letter.readers else {}),
        **letter.extra,
    }
    inner = jws.sign(payload, signer, MESSAGE_TYP, **header).encode()
    protected: dict[str, Any] = {"enc": ENC, "typ": ENVELOPE_TYP, "cty": "JWS", **letter.routing()}
    if _worth_compressing(payload, letter.content_type):
        protected["zip"] = ZIP
    obj = jwe.GeneralJSONEncryption(protected, inner)
    for jwk in recipient_keys:
        key = OKPKey.import_key({k: jwk[k] for k in ("kty", "crv", "x")})
        obj.add_recipient({"alg": KEY_ALG, "kid": jwk["kid"]}, key)
    sealed = jwe.encrypt_json(obj, None, registry=_SEALING)
    return json.dumps(sealed, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Outside:
    """What anyone can read on an envelope: the routing header, and who can open it."""

    routing: dict[str, Any]
    kids: tuple[str, ...]
    document: dict[str, Any]


def inspect(envelope: bytes) -> Outside:
    import base64

    try:
        doc = json.loads(envelope)
        head = doc["protected"]
        protected = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        kids = tuple(r["header"]["kid"] for r in doc["recipients"])
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("not a Jembatan envelope (JWE general JSON)") from None
    if protected.get("typ") != ENVELOPE_TYP:
        raise InvalidInput("not a Jembatan envelope (typ)")
    routing = {k: protected.get(k) for k in ROUTING}
    if any(v is None for v in routing.values()) or not isinstance(routing["to"], list):
        raise InvalidInput("envelope header lacks routing fields")
    return Outside(routing, kids, doc)


@dataclass(frozen=True)
class Opened:
    letter: Letter
    payload: bytes
    signer_kid: str


def open_envelope(
    envelope: bytes,
    my_keys: list[KeyPair],
    sender_key: Any,
) -> Opened:
    """Decrypt with one of our keys, then verify the sender's signature.

    `sender_key(kid, member, created)` returns the sender's verified public OKPKey or
    raises InvalidInput (unknown, revoked, not yet or no longer valid).
    """
    outside = inspect(envelope)
    mine = [k for k in my_keys if k.kid in outside.kids]
    if not mine:
        raise InvalidInput("this node holds none of the keys the envelope is encrypted to")
    registry = _OPENING
    plaintext = None
    for key in mine:
        try:
            document = cast(jwe.GeneralJSONSerialization, outside.document)
            plaintext = jwe.decrypt_json(document, key.key, registry=registry).plaintext
            break
        except (JoseError, ValueError):
            continue
    if plaintext is None:
        raise InvalidInput("the envelope does not decrypt (tampered, or not for us)")
    token = plaintext.decode("ascii", errors="replace")
    header = jws.unverified_header(token)
    routing = outside.routing
    created = parse_stamp(str(header.get("created")))
    key = sender_key(str(header.get("kid")), str(header.get("from")), created)
    verified = jws.verify(token, key, MESSAGE_TYP)
    head = verified.header
    for name in ROUTING:
        if head.get(name) != routing[name]:
            raise InvalidInput("signed and outer headers disagree on {name!r}", name=name)
    if hashlib.sha256(verified.payload).hexdigest() != head.get("sha256"):
        raise InvalidInput("payload SHA-256 does not match the signed header")
    letter = Letter(
        mid=head["mid"],
        conversation=str(head.get("cid", head["mid"])),
        sender=head["from"],
        recipients=tuple(head["to"]),
        created=created,
        expires=parse_stamp(head["expires"]),
        subject=str(head.get("subject", "")),
        classification=check_classification(str(head.get("tlp"))),
        content_type=str(head.get("content_type", "application/octet-stream")),
        filename=head.get("filename"),
        agreement=head.get("agreement"),
        kind=str(head.get("kind", "message")),
        readers=tuple(str(r) for r in head.get("readers", [])),
    )
    return Opened(letter, verified.payload, str(head["kid"]))
