"""The delivery worker: take due deliveries, POST each envelope to its recipient node,
keep the receipt; retry with exponential backoff and jitter; give up at expiry."""

from __future__ import annotations

import hashlib
import random
import threading
from datetime import timedelta

import httpx
from sqlalchemy import or_, select, tuple_, update

from jembatan.errors import JembatanError
from jembatan.exchange import services, transfer
from jembatan.exchange.models import Delivery, Message
from jembatan.ledger.entries import MESSAGE_DELIVERED, MESSAGE_FAILED, Event, record
from jembatan.logs import get_logger
from jembatan.node.context import Node
from jembatan.registry.membership import federation
from jembatan.registry.peers import send_signed
from jembatan.store.schema import utcnow

log = get_logger("jembatan.exchange")
LEASE = timedelta(seconds=120)
MAX_BACKOFF = 3600.0
ENVELOPE_TYPE = "application/jose+json"
BULK_TIMEOUT = 600.0


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 ... seconds up to an hour, each spread by ±50% so retries do not herd."""
    base = min(2.0**attempts, MAX_BACKOFF)
    return timedelta(seconds=base * random.uniform(0.5, 1.5))  # noqa: S311  (not secret)


def claim_due(node: Node, limit: int = 20) -> list[tuple[str, str]]:
    """Lease due deliveries in one UPDATE ... RETURNING statement, so two workers never
    take the same item: on PostgreSQL the candidate rows are chosen with FOR UPDATE SKIP
    LOCKED (workers pass each other by); on SQLite the statement holds the write lock."""
    now = utcnow()
    due = (
        Delivery.status.in_(("queued", "sent")),
        Delivery.next_attempt_at <= now,
        or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
    )
    candidates = (
        select(Delivery.message_id, Delivery.recipient)
        .where(*due)
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    )
    if node.engine.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claim = (
        update(Delivery)
        .where(tuple_(Delivery.message_id, Delivery.recipient).in_(candidates), *due)
        .values(lease_until=now + LEASE)
        .returning(Delivery.message_id, Delivery.recipient)
    )
    with node.engine.connect() as conn:  # a read first: idle polls take no write lock
        if conn.execute(select(Delivery.message_id).where(*due).limit(1)).first() is None:
            return []
    with node.transaction() as s:
        return [(mid, recipient) for mid, recipient in s.execute(claim)]


def _settle(
    node: Node, mid: str, recipient: str, event: Event | None = None, **changes: object
) -> None:
    """Record an attempt's outcome; a final one goes into the ledger in the same step."""
    with node.transaction() as s:
        row = s.get(Delivery, (mid, recipient))
        if row is None:
            return
        row.lease_until = None
        for key, value in changes.items():
            setattr(row, key, value)
        if event is not None:
            record(s, event)


def _outcome(kind: str, mid: str, recipient: str, receipt: str = "", **details: str) -> Event:
    hashes = {"receipt": hashlib.sha256(receipt.encode()).hexdigest()} if receipt else {}
    return Event(kind, recipient, mid, {"recipient": recipient, **details}, hashes)


def _final(status: int) -> bool:
    """A refusal that retrying cannot change (not a recipient, bad envelope ...)."""
    return 400 <= status < 500 and status not in (401, 408, 409, 429)


def deliver(node: Node, mid: str, recipient: str) -> str:
    """One attempt; returns the new status. `sent` means the recipient was reached at
    least once but no valid receipt is held yet; `queued` that it was never reached."""
    now = utcnow()
    message, _ = services.get_message(node, mid)
    with node.db() as s:
        row = s.get(Delivery, (mid, recipient))
        attempts, status = (row.attempts, row.status) if row else (0, "queued")
    if message.expires_at <= now:
        reason = "gave up: the message expired before the recipient took it"
        _settle(
            node,
            mid,
            recipient,
            _outcome(MESSAGE_FAILED, mid, recipient, status="expired", reason=reason),
            status="expired",
            last_error=reason,
        )
        return "expired"
    member = federation(node).member(recipient)
    reached = False
    if member is None:
        error = f"{recipient} is not in the current directory"
    else:
        try:
            if message.bulk_sha256 is not None:

                def renew() -> None:
                    _settle(node, mid, recipient, lease_until=utcnow() + LEASE)

                transfer.push(node, message, member.node_url, renew)
            answer = send_signed(
                node,
                "POST",
                member.node_url + "/fed/v1/envelopes",
                services.envelope_of(node, message),
                ENVELOPE_TYPE,
                # A large file is checked (hashed and decrypted once) before the receipt.
                timeout=BULK_TIMEOUT if message.bulk_sha256 else None,
            )
            if answer.status_code != 200:
                raise transfer.refusal(answer, "refused")
        except JembatanError as exc:
            error = exc.detail
        except transfer.TransferRefused as exc:
            reached = True
            if _final(exc.status):
                _settle(
                    node,
                    mid,
                    recipient,
                    _outcome(
                        MESSAGE_FAILED, mid, recipient, status="failed", reason=exc.detail[:500]
                    ),
                    status="failed",
                    attempts=attempts + 1,
                    last_error=exc.detail[:500],
                )
                return "failed"
            error = exc.detail
        else:
            return _receipted(node, message, recipient, answer)
    new_status = "sent" if reached or status == "sent" else "queued"
    _settle(
        node,
        mid,
        recipient,
        status=new_status,
        attempts=attempts + 1,
        last_error=error[:500],
        next_attempt_at=now + backoff(attempts + 1),
    )
    return new_status


def _receipted(node: Node, message: Message, recipient: str, answer: httpx.Response) -> str:
    now = utcnow()
    try:
        receipt = str(answer.json()["receipt"])
        services.verify_receipt(node, receipt, message, recipient)
    except (ValueError, KeyError, JembatanError) as exc:
        detail = getattr(exc, "detail", str(exc))
        _settle(
            node,
            message.id,
            recipient,
            status="sent",
            last_error=f"bad receipt: {detail}"[:500],
            next_attempt_at=now + backoff(1),
        )
        return "sent"
    _settle(
        node,
        message.id,
        recipient,
        _outcome(MESSAGE_DELIVERED, message.id, recipient, receipt=receipt),
        status="delivered",
        delivered_at=now,
        sent_at=now,
        receipt=receipt,
        last_error=None,
    )
    log.info("delivered", message_id=message.id, recipient=recipient)
    return "delivered"


def run_once(node: Node, limit: int = 20) -> int:
    """Deliver what is due now; returns how many attempts were made."""
    claimed = claim_due(node, limit)
    for mid, recipient in claimed:
        try:
            deliver(node, mid, recipient)
        except Exception:  # one bad item must not stop the queue
            log.exception("delivery attempt failed", message_id=mid, recipient=recipient)
            _settle(node, mid, recipient, next_attempt_at=utcnow() + backoff(3))
    return len(claimed)


def run_forever(node: Node, stop: threading.Event, idle: float = 0.2) -> None:
    while not stop.is_set():
        try:
            busy = run_once(node)
        except Exception:
            log.exception("delivery loop failed")
            busy = 0
        if not busy:
            stop.wait(idle)
