"""Retention: data received under an agreement is purged when the agreement's retention
ends, or at once when a party revokes it with purge. Content leaves the database and the
blob store; the ledger keeps what was purged, by hash."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from jembatan.agreements.models import Agreement
from jembatan.agreements.rules import parse_terms_cached
from jembatan.exchange.models import Message
from jembatan.ledger.entries import Event, record
from jembatan.logs import get_logger
from jembatan.node.context import Node
from jembatan.store.schema import utcnow

log = get_logger("jembatan.agreements")
DATA_PURGED = "data.purged"


def purge(
    node: Node, message_ids: list[str], reason: str, actor: str, boxes: tuple[str, ...] = ("inbox",)
) -> int:
    """Remove received messages (or, where asked, sent ones) and their content; one
    ledger entry each."""
    gone = 0
    for mid in message_ids:
        with node.transaction() as s:
            message = s.get(Message, mid)
            if message is None or message.box not in boxes:
                continue
            blobs = [
                message.envelope_sha256,
                *([message.bulk_sha256] if message.bulk_sha256 else []),
            ]
            record(
                s,
                Event(
                    DATA_PURGED,
                    actor,
                    mid,
                    {
                        "reason": reason,
                        "agreement": message.agreement_id,
                        "sender": message.sender,
                        "size": message.size,
                    },
                    {"envelope": message.envelope_sha256, "payload": message.payload_sha256},
                ),
            )
            s.delete(message)
        # After the commit: a blob still named by another row stays (content-addressed).
        for digest in blobs:
            with node.db() as s:
                still = s.scalar(
                    select(Message.id)
                    .where((Message.envelope_sha256 == digest) | (Message.bulk_sha256 == digest))
                    .limit(1)
                )
            if still is None:
                node.blobs.delete(digest)
        gone += 1
    return gone


def received_under(node: Node, agreement_id: str) -> list[str]:
    with node.db() as s:
        return list(
            s.scalars(
                select(Message.id).where(
                    Message.box == "inbox", Message.agreement_id == agreement_id
                )
            )
        )


def purge_due(node: Node) -> int:
    """Purge what any agreement's retention no longer allows this node to keep."""
    now = utcnow()
    with node.db() as s:
        rows = list(s.scalars(select(Agreement).where(Agreement.status != "draft")))
    latest: dict[str, Agreement] = {}
    for row in rows:
        if row.id not in latest or row.version > latest[row.id].version:
            latest[row.id] = row
    total = 0
    for row in latest.values():
        days = parse_terms_cached(row.terms).retention_days
        if days is None:
            continue
        cutoff = now - timedelta(days=days)
        with node.db() as s:
            due = list(
                s.scalars(
                    select(Message.id).where(
                        Message.box == "inbox",
                        Message.agreement_id == row.id,
                        Message.received_at < cutoff,
                    )
                )
            )
        if due:
            total += purge(node, due, f"retention of {days} days ended", node.member_id)
    if total:
        log.info("purged by retention", messages=total)
    return total
