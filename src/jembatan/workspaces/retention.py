"""Retention: the owning node signs the purge of content past the workspace's retention
period (every member node folds it alike), and each node then clears what it covers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from jembatan.agreements import retention as agreement_retention
from jembatan.exchange.models import Delivery, Message
from jembatan.ledger.entries import Event as Entry
from jembatan.ledger.entries import record
from jembatan.node.context import Node
from jembatan.registry.directory import parse_stamp, stamp
from jembatan.store.schema import utcnow
from jembatan.workspaces import files, held, replication, services
from jembatan.workspaces.models import Workspace
from jembatan.workspaces.services import Person

# The owning node signs retention purges itself, as this pseudo-user (never a login).
RETENTION_USER = Person(0, "retention", "TLP:AMBER+STRICT")


def forget_purged(node: Node, workspace: str) -> int:
    """After a purge: the files of purged versions, and the messages that carried this
    workspace's events and files before the cut-off, leave this node."""
    with node.db() as s:
        row = held.row_of(s, workspace)
    state = held.state_of(row)
    before = state.get("purged_before")
    if not before:
        return 0
    live = {
        v["sha256"]
        for d in state.get("documents", {}).values()
        for v in d["versions"]
        if not v.get("purged")
    }
    removed = files.forget(node, workspace, live)
    with node.db() as s:
        old = list(
            s.scalars(
                select(Message.id)
                .outerjoin(
                    Delivery,
                    (Delivery.message_id == Message.id) & (Delivery.status.in_(("queued", "sent"))),
                )
                .where(
                    Message.kind == replication.kind_of(workspace),
                    Message.created_at < parse_stamp(before),
                    Delivery.message_id.is_(None),
                )
            )
        )
    purged = agreement_retention.purge(
        node, old, "workspace retention", node.member_id, boxes=("inbox", "outbox")
    )
    if removed:
        with node.transaction() as s:
            record(
                s,
                Entry(
                    held.WORKSPACE_PURGED,
                    node.member_id,
                    workspace,
                    {"workspace": workspace, "before": before, "files": len(removed)},
                    {sha[:16]: sha for sha in removed[:200]},
                ),
            )
    return len(removed) + purged


def purge_due(node: Node, now: datetime | None = None) -> int:
    """For each workspace we own with a retention period: sign the purge of what is past
    it (every member node folds it alike), then clear what it covers here. Members'
    nodes clear theirs when the purge reaches them."""
    now = now or utcnow()
    done = 0
    with node.db() as s:
        rows = list(s.scalars(select(Workspace).where(Workspace.state_hash != "")))
    for row in rows:
        state = held.state_of(row)
        days = state.get("retention_days")
        if state.get("owner") == node.member_id and days:
            cutoff = stamp((now - timedelta(days=days)).replace(hour=0, minute=0, second=0))
            if cutoff > state.get("purged_before", "") and _has_content_before(state, cutoff):
                services.act(
                    node, row.id, RETENTION_USER, "content.purged", {"before": cutoff}, now
                )
        if state.get("purged_before") or days:
            done += forget_purged(node, row.id)
    return done


def _has_content_before(state: dict[str, Any], cutoff: str) -> bool:
    return (
        any(c["at"] < cutoff for c in state.get("comments", []))
        or any(d["at"] < cutoff for d in state.get("decisions", []))
        or any(
            v["at"] < cutoff and not v.get("purged")
            for d in state.get("documents", {}).values()
            for v in d["versions"]
        )
    )
