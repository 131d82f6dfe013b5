"""Writing entries: each is the RFC 8785 JSON of what happened, written in the same
transaction as the change it records. Payloads never enter; only their hashes do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session

from jembatan.crypto.canonical import canonical_json
from jembatan.ledger.models import LedgerEntry, LedgerHead
from jembatan.registry.directory import stamp
from jembatan.store.driver import Writes
from jembatan.store.schema import utcnow

# Entry types, by capability; docs/protocol.md lists each with its details.
MESSAGE_SENT = "message.sent"  # the outbox row and its envelope (sealed) were written
MESSAGE_DELIVERED = "message.delivered"  # a recipient's verified receipt is held
MESSAGE_FAILED = "message.failed"  # a recipient refused for good, or the message expired
MESSAGE_RECEIVED = "message.received"  # an envelope was accepted and receipted
MESSAGE_REFUSED = "message.refused"  # an envelope from a verified peer was refused
USER_LOGIN = "user.login"
USER_LOCKED = "user.locked"
USER_CREATED = "user.created"
USER_CHANGED = "user.changed"  # role, enabled, password reset or second factor reset
KEYS_ROTATED = "keys.rotated"
KEYS_ACTIVATED = "keys.activated"
DIRECTORY_ACCEPTED = "directory.accepted"
LEDGER_ALERT = "ledger.alert"  # a peer's log failed a witness check
AGREEMENT_REFUSED = "agreement.refused"  # a message no active agreement allows, not sent

HEAD_ID = 1


@dataclass(frozen=True)
class Event:
    type: str
    actor: str  # who did it: a member id, or member id + "/user/" + user name
    subject: str  # what it is about: a message id, a user, a key id ...
    details: Mapping[str, Any] = field(default_factory=dict)
    hashes: Mapping[str, str] = field(default_factory=dict)  # name -> hex SHA-256
    time: datetime | None = None


def encode(event: Event, at: datetime) -> bytes:
    return _encode(event, stamp(at))


def _encode(event: Event, time: str) -> bytes:
    """RFC 8785 bytes of the entry, its six members written in their sorted order."""
    try:
        return b"".join(
            (
                b'{"actor":',
                _string(event.actor),
                b',"details":',
                canonical_json(dict(event.details)),
                b',"hashes":',
                canonical_json(dict(event.hashes)),
                b',"subject":',
                _string(event.subject),
                b',"time":"',
                time.encode(),
                b'","type":',
                _string(event.type),
                b"}",
            )
        )
    except UnicodeEncodeError:  # a lone surrogate: the full canonicaliser escapes it
        return canonical_json(
            {
                "type": event.type,
                "time": time,
                "actor": event.actor,
                "subject": event.subject,
                "details": dict(event.details),
                "hashes": dict(event.hashes),
            }
        )


_string_json = encode_basestring  # the C encoder json.dumps(ensure_ascii=False) uses


def _string(value: str) -> bytes:
    return _string_json(value).encode()


def record(s: Session, event: Event) -> int:
    """Append one entry inside the caller's transaction; returns its index."""
    return record_many(Writes.of(s), [event])[0]


_HEAD = cast(Table, LedgerHead.__table__).c
_TAKE_NUMBERS = (
    update(cast(Table, LedgerHead.__table__))
    .where(_HEAD.id == HEAD_ID)
    .values(size=_HEAD.size + bindparam("count"))
    .returning(_HEAD.size)
)
_ADD = insert(cast(Table, LedgerEntry.__table__))


def record_many(w: Writes, events: Sequence[Event]) -> list[int]:
    """Append entries inside the caller's transaction; returns their indexes."""
    if not events:
        return []
    now = utcnow().replace(microsecond=0)
    # Taking the number first holds the head row until commit: entries are numbered in
    # the order their transactions commit, with no gaps.
    (end,) = w.execute(_TAKE_NUMBERS, {"count": len(events)}).fetchall()[0]
    start = end - len(events)
    rows = []
    stamps: dict[datetime, str] = {}  # written once per distinct time
    for offset, event in enumerate(events):
        at = (event.time or now).replace(microsecond=0)
        if at not in stamps:
            stamps[at] = stamp(at)
        rows.append(
            {
                "leaf_index": start + offset,
                "type": event.type,
                "time": at,
                "actor": event.actor,
                "subject": event.subject,
                "data": _encode(event, stamps[at]),
            }
        )
    w.executemany(_ADD, rows)
    return list(range(start, end))


def user_actor(member: str, username: str) -> str:
    return f"{member}/user/{username}"


def console(node: Any) -> str:
    """The actor for a command an operator ran on the node's own machine."""
    return f"{node.member_id}/console"
