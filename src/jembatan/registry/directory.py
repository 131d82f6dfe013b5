"""The signed member directory: its document, its signature, and a node's view of it.

Plain functions over plain data: no database, no network. See docs/protocol.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jembatan.crypto import jws
from jembatan.crypto.canonical import canonical_json
from jembatan.crypto.keys import KeyPair, public_key
from jembatan.errors import InvalidInput

DIRECTORY_TYP = "jembatan-directory+jws"
ANCHOR_VERSION = 1
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_INSTANCE = re.compile(r"^[A-Za-z0-9'()+,\-.=?]{1,255}$")


def stamp(moment: datetime) -> str:
    """RFC 3339 UTC with seconds, as every time in the protocol is written."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise InvalidInput("time {text!r} is not YYYY-MM-DDTHH:MM:SSZ", text=text) from None


def check_country(code: str) -> str:
    if not _COUNTRY.match(code):
        raise InvalidInput("country {code!r} must be an ISO 3166-1 alpha-2 code", code=code)
    return code


def check_instance(code: str) -> str:
    if not _INSTANCE.match(code):
        raise InvalidInput("instance {code!r} is not a valid identifier part", code=code)
    return code


# The anchor ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustAnchor:
    instance: str
    registry_url: str
    key: dict[str, Any]  # the registry's public JWK

    def document(self) -> dict[str, Any]:
        return {
            "version": ANCHOR_VERSION,
            "instance": self.instance,
            "registry_url": self.registry_url,
            "key": self.key,
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.document())

    @classmethod
    def parse(cls, raw: bytes | str | dict[str, Any]) -> TrustAnchor:
        try:
            doc = raw if isinstance(raw, dict) else json.loads(raw)
            if doc.get("version") != ANCHOR_VERSION:
                raise InvalidInput("unsupported anchor version {v!r}", v=doc.get("version"))
            anchor = cls(
                check_instance(doc["instance"]), str(doc["registry_url"]).rstrip("/"), doc["key"]
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InvalidInput("not a Jembatan trust anchor file") from None
        public_key({**anchor.key, "use": "sig"})
        return anchor


# Signing and verifying -------------------------------------------------------------------


def sign_directory(document: dict[str, Any], key: KeyPair) -> str:
    return jws.sign(canonical_json(document), key, DIRECTORY_TYP)


@dataclass(frozen=True)
class KeyRecord:
    kid: str
    member: str
    use: str
    jwk: dict[str, Any]
    not_before: datetime
    not_after: datetime | None
    revoked_at: datetime | None

    def usable_at(self, moment: datetime) -> bool:
        if moment < self.not_before:
            return False
        if self.not_after is not None and moment > self.not_after:
            return False
        return self.revoked_at is None or moment < self.revoked_at


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    country: str
    node_url: str
    subsystems: tuple[str, ...]
    services: tuple[dict[str, Any], ...]


@dataclass
class Directory:
    """A verified directory of one instance, indexed for look-ups."""

    instance: str
    serial: int
    issued_at: datetime
    expires_at: datetime
    registry_url: str
    members: dict[str, Member] = field(default_factory=dict)
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    trusted: dict[str, TrustAnchor] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)

    def keys_of(self, member: str, use: str, moment: datetime) -> list[KeyRecord]:
        return [
            k
            for k in self.keys.values()
            if k.member == member and k.use == use and k.usable_at(moment)
        ]


def verify_directory(
    signed: str, anchor: TrustAnchor, now: datetime, previous_serial: int | None = None
) -> Directory:
    """Check signature, instance, expiry and rollback; refuse with the reason."""
    verified = jws.verify(signed, public_key({**anchor.key, "use": "sig"}), DIRECTORY_TYP)
    try:
        doc = json.loads(verified.payload)
    except ValueError:
        raise InvalidInput("directory payload is not JSON") from None
    if canonical_json(doc) != verified.payload:
        raise InvalidInput("directory payload is not RFC 8785 canonical JSON")
    directory = parse_directory(doc)
    if directory.instance != anchor.instance:
        raise InvalidInput(
            "directory is for instance {got!r}, the anchor for {want!r}",
            got=directory.instance,
            want=anchor.instance,
        )
    if directory.expires_at <= now:
        raise InvalidInput("directory expired at {at}", at=stamp(directory.expires_at))
    if previous_serial is not None and directory.serial < previous_serial:
        raise InvalidInput(
            "directory serial {got} is older than the last accepted {have} (rollback refused)",
            got=directory.serial,
            have=previous_serial,
        )
    return directory


def parse_directory(doc: dict[str, Any]) -> Directory:
    try:
        directory = Directory(
            instance=doc["instance"],
            serial=int(doc["serial"]),
            issued_at=parse_stamp(doc["issued_at"]),
            expires_at=parse_stamp(doc["expires_at"]),
            registry_url=doc["registry"]["url"],
            document=doc,
        )
        revoked = {r["kid"]: parse_stamp(r["revoked_at"]) for r in doc.get("revoked_keys", [])}
        for m in doc["members"]:
            directory.members[m["id"]] = Member(
                m["id"],
                m["name"],
                m["country"],
                m["node_url"],
                tuple(m.get("subsystems", [])),
                tuple(m.get("services", [])),
            )
            for k in m["keys"]:
                directory.keys[k["kid"]] = KeyRecord(
                    kid=k["kid"],
                    member=m["id"],
                    use=k["use"],
                    jwk={x: k[x] for x in ("kty", "crv", "x", "kid", "use")},
                    not_before=parse_stamp(k["nbf"]),
                    not_after=parse_stamp(k["exp"]) if k.get("exp") else None,
                    revoked_at=revoked.get(k["kid"]),
                )
        for t in doc.get("trusted_instances", []):
            anchor = TrustAnchor.parse({"version": ANCHOR_VERSION, **t})
            directory.trusted[anchor.instance] = anchor
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("directory document is malformed: {reason}", reason=str(exc)) from None
    return directory
