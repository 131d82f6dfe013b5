"""The events this node holds for each workspace, and the state folded from them: storing
an event, refolding (state, hash, statuses, search rows), and the redaction a purge asks
for. Every function runs inside the caller's transaction."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from jembatan.errors import NotFound
from jembatan.ledger.entries import Event as Entry
from jembatan.ledger.entries import record
from jembatan.store.driver import insert_ignoring
from jembatan.store.schema import utcnow
from jembatan.workspaces import events, files, fold, search
from jembatan.workspaces.events import Event
from jembatan.workspaces.models import Workspace, WorkspaceEvent

EVENT_STORED = "workspace.event"  # ledger: an event was stored (ours or a partner's)
WORKSPACE_PURGED = "workspace.purged"  # ledger: content past retention left this node


def state_of(row: Workspace) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(row.state)
    return value


def row_of(s: Session, workspace: str) -> Workspace:
    row = s.get(Workspace, workspace)
    if row is None or not row.state_hash:
        raise NotFound("no workspace {id} at this node", id=workspace)
    return row


def events_in(s: Session, workspace: str) -> list[Event]:
    tokens = s.scalars(select(WorkspaceEvent.token).where(WorkspaceEvent.workspace_id == workspace))
    return [events.from_stored(t) for t in tokens]


def refold(s: Session, workspace: str) -> tuple[fold.Folded, Workspace]:
    folded = fold.fold(workspace, events_in(s, workspace))
    row = s.get(Workspace, workspace)
    if row is None:
        row = Workspace(id=workspace)
        s.add(row)
    state = folded.state
    row.state = json.dumps(state, sort_keys=True)
    row.state_hash = folded.state_hash if state else ""
    row.name = str(state.get("name", ""))
    row.owner = str(state.get("owner", ""))
    row.classification = str(state.get("classification", "TLP:AMBER"))
    row.heads = json.dumps([e.id for e in folded.heads])
    row.events = len(folded.applied) + len(folded.rejected) + len(folded.waiting)
    row.waiting = len(folded.waiting)
    row.updated_at = utcnow()
    for status, ids in (
        ("applied", [e.id for e in folded.applied]),
        ("waiting", [e.id for e in folded.waiting]),
    ):
        for chunk in range(0, len(ids), 500):
            s.execute(
                update(WorkspaceEvent)
                .where(WorkspaceEvent.id.in_(ids[chunk : chunk + 500]))
                .values(status=status, reason=None)
            )
    for event_id, reason in folded.rejected.items():
        s.execute(
            update(WorkspaceEvent)
            .where(WorkspaceEvent.id == event_id)
            .values(status="rejected", reason=reason[:500])
        )
    redact_purged(s, workspace, state, folded.applied)
    search.reindex(s, workspace, state, files.texts_in(s, workspace))
    return folded, row


def heads_of(s: Session, row: Workspace) -> list[Event]:
    """The held events nothing points to yet: the parents of the next event made here."""
    ids = json.loads(row.heads)
    tokens = s.scalars(select(WorkspaceEvent.token).where(WorkspaceEvent.id.in_(ids)))
    return [events.from_stored(t) for t in tokens]


def advance(
    s: Session, workspace: str, heads: list[str], event: Event, state: dict[str, Any]
) -> tuple[dict[str, Any], Workspace]:
    """After storing our own new event: the state it gives (from `fold.extend`), without
    refolding the whole log, when the heads are still those it was made on (nothing else
    came in meanwhile); otherwise, and after a purge, a full refold."""
    current = s.scalar(select(Workspace.heads).where(Workspace.id == workspace).with_for_update())
    if current is None or set(json.loads(current)) != set(heads) or event.type == "content.purged":
        folded, refolded = refold(s, workspace)
        return folded.state, refolded
    row = s.get(Workspace, workspace, populate_existing=True)
    assert row is not None
    row.state = json.dumps(state, sort_keys=True)
    row.state_hash = fold.state_hash(state)
    row.name = str(state.get("name", ""))
    row.classification = str(state.get("classification", "TLP:AMBER"))
    row.heads = json.dumps([event.id])
    row.events = (
        s.scalar(
            select(func.count())
            .select_from(WorkspaceEvent)
            .where(WorkspaceEvent.workspace_id == workspace)
        )
        or 0
    )
    row.updated_at = utcnow()
    s.execute(update(WorkspaceEvent).where(WorkspaceEvent.id == event.id).values(status="applied"))
    refs = search.touched(event.type, event.id, event.body)
    documents = state.get("documents", {})
    shas = {documents[r]["versions"][-1]["sha256"] for r in refs if r in documents}
    search.reindex(s, workspace, state, files.texts_in(s, workspace, shas), refs)
    return state, row


def redact_purged(s: Session, workspace: str, state: dict[str, Any], applied: list[Event]) -> None:
    """Once a purge is folded in, the comments and decisions it covers leave the stored
    events too: only their redacted form stays, so the log remains whole."""
    before = state.get("purged_before")
    if not before:
        return
    gone = [
        e
        for e in applied
        if e.type in events.REDACTABLE and e.at < before and not events.is_redacted(e.token)
    ]
    for e in gone:
        s.execute(
            update(WorkspaceEvent).where(WorkspaceEvent.id == e.id).values(token=events.redact(e))
        )
    if gone:
        record(
            s,
            Entry(
                WORKSPACE_PURGED,
                state["owner"],
                workspace,
                {"workspace": workspace, "before": before, "events": len(gone)},
                {e.id[:16]: e.id for e in gone[:200]},
            ),
        )


def store(s: Session, event: Event, via: str | None, shared: bool) -> bool:
    added = insert_ignoring(
        s,
        WorkspaceEvent,
        {
            "id": event.id,
            "workspace_id": event.workspace or events.workspace_of(event),
            "type": event.type,
            "author": event.author,
            "user": event.user,
            "clock": event.clock,
            "at": event.at,
            "token": event.token,
            "status": "waiting",
            "via": via,
            "shared": shared,
        },
    )
    return added


def entry(event: Event, workspace: str, classification: str, status: str) -> Entry:
    return Entry(
        EVENT_STORED,
        event.actor,
        workspace,
        {
            "workspace": workspace,
            "event": event.id,
            "type": event.type,
            "author": event.author,
            "clock": event.clock,
            "status": status,
            "classification": classification,
        },
        {"event": event.id},
    )


def held_ids(s: Session, workspace: str) -> set[str]:
    return set(s.scalars(select(WorkspaceEvent.id).where(WorkspaceEvent.workspace_id == workspace)))
