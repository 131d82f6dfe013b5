"""Workspace events: each change is one signed event, hash-linked to the events its author
had seen (its parents) and stamped with a Lamport clock. Plain data and functions."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from joserfc.jwk import OKPKey

from jembatan.crypto import jws
from jembatan.crypto.canonical import canonical_json
from jembatan.crypto.keys import KeyPair
from jembatan.errors import InvalidInput
from jembatan.registry.directory import parse_stamp, stamp

FORMAT = "jembatan-workspace-event/1"
TYP = "jembatan-workspace-event+jws"
WORKSPACE_ID_LENGTH = 32  # hex: the first half of the SHA-256 of the creating event
MAX_PARENTS = 20
MAX_EVENT_BYTES = 64 * 1024

# Looks up an author's signing key, as the directory says it was valid at `at`.
KeyLookup = Callable[[str, str, datetime], OKPKey]


@dataclass(frozen=True)
class Event:
    id: str  # hex SHA-256 of the signed payload bytes
    workspace: str  # "" in the creating event: the workspace id is derived from it
    type: str
    author: str  # member id of the organisation whose node signed it
    user: str  # user name at that member
    clock: int
    parents: tuple[str, ...]
    at: str
    body: dict[str, Any]
    token: str  # the compact JWS, as it travels

    @property
    def key(self) -> tuple[int, str, str]:
        """The total order every node folds in: clock, then author, then id."""
        return (self.clock, self.author, self.id)

    @property
    def actor(self) -> str:
        return f"{self.author}/user/{self.user}"


def workspace_of(created: Event) -> str:
    return created.id[:WORKSPACE_ID_LENGTH]


def make(
    signer: KeyPair,
    author: str,
    user: str,
    workspace: str,
    type: str,
    body: dict[str, Any],
    parents: list[Event],
    at: datetime,
) -> Event:
    payload = {
        "format": FORMAT,
        "workspace": workspace,
        "type": type,
        "author": author,
        "user": user,
        "clock": 1 + max((p.clock for p in parents), default=0),
        "parents": sorted(p.id for p in parents),
        "at": stamp(at),
        "body": body,
    }
    raw = canonical_json(payload)
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidInput("an event may be at most {n} bytes", n=MAX_EVENT_BYTES)
    return _event(raw, jws.sign(raw, signer, TYP))


def verify(token: str, lookup: KeyLookup) -> Event:
    """Check an event's signature with its author's key and its shape; raises InvalidInput."""
    if len(token) > 2 * MAX_EVENT_BYTES:
        raise InvalidInput("the event is too large")
    header = jws.unverified_header(token)
    try:
        claimed = json.loads(jws_payload_unverified(token))
        author, at = str(claimed["author"]), parse_stamp(str(claimed["at"]))
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("the event is not a workspace event") from None
    key = lookup(str(header.get("kid", "")), author, at)
    verified = jws.verify(token, key, TYP)
    return _event(verified.payload, token)


def jws_payload_unverified(token: str) -> bytes:
    import base64

    try:
        part = token.split(".")[1]
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (IndexError, ValueError):
        raise InvalidInput("not a compact JWS") from None


def _event(raw: bytes, token: str) -> Event:
    try:
        doc = json.loads(raw)
        if doc.get("format") != FORMAT:
            raise ValueError("format")
        parents = doc["parents"]
        body = doc["body"]
        if (
            not isinstance(parents, list)
            or len(parents) > MAX_PARENTS
            or not all(isinstance(p, str) and len(p) == 64 for p in parents)
            or not isinstance(body, dict)
            or not isinstance(doc["clock"], int)
            or doc["clock"] < 1
        ):
            raise ValueError("shape")
        parse_stamp(doc["at"])
        return Event(
            id=hashlib.sha256(raw).hexdigest(),
            workspace=str(doc["workspace"]),
            type=str(doc["type"]),
            author=str(doc["author"]),
            user=str(doc["user"]),
            clock=doc["clock"],
            parents=tuple(parents),
            at=doc["at"],
            body=body,
            token=token,
        )
    except (ValueError, KeyError, TypeError, InvalidInput):
        raise InvalidInput("the event is not a well-formed workspace event") from None


REDACTABLE: dict[
    str, dict[str, Any]
] = {  # content a retention purge removes from stored events, by event type
    "comment.posted": {"text": "[purged]", "mentions": []},
    "decision.recorded": {"title": "[purged]", "text": "[purged]"},
}


def redact(event: Event) -> str:
    """The stored form of an event whose content a retention purge removed: its id and
    links stay (the log stays whole), its signature and content go."""
    payload = {
        "format": FORMAT,
        "workspace": event.workspace,
        "type": event.type,
        "author": event.author,
        "user": event.user,
        "clock": event.clock,
        "parents": list(event.parents),
        "at": event.at,
        "body": {**event.body, **REDACTABLE[event.type]},
    }
    return json.dumps({"redacted": event.id, "payload": payload}, sort_keys=True)


def is_redacted(token: str) -> bool:
    return token.startswith("{")


def from_stored(token: str) -> Event:
    """An event this node verified when it took it in (stored tokens are trusted), or
    the redacted form a purge left."""
    if is_redacted(token):
        stub = json.loads(token)
        event = _event(canonical_json(stub["payload"]), token)
        return Event(**{**event.__dict__, "id": str(stub["redacted"])})
    return _event(jws_payload_unverified(token), token)


def from_relayed_stub(token: str) -> Event:
    """A redacted event another member relays (it can no longer be verified): only
    content a purge removes may come this way, and only with its redaction applied."""
    try:
        event = from_stored(token)
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("not a redacted workspace event") from None
    redacted = REDACTABLE.get(event.type)
    if redacted is None or any(event.body.get(k) != v for k, v in redacted.items()):
        raise InvalidInput("only purged comments and decisions travel redacted")
    if not re.fullmatch(r"[0-9a-f]{64}", event.id):
        raise InvalidInput("not a redacted workspace event")
    return event
