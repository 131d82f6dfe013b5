"""Between member nodes: our new events (and files) go to the other members through the
secure exchange, as kind workspace:ID under the workspace's agreement; theirs come in
through `ingest`, verified one by one with their authors' keys, so members relay each
other's events. A node missing an event's parents asks for them (`want`)."""

from __future__ import annotations

import json
import tempfile
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jembatan.agreements import rules
from jembatan.errors import Forbidden, InvalidInput, JembatanError
from jembatan.exchange import services as exchange
from jembatan.exchange.models import Message
from jembatan.ledger.entries import record
from jembatan.logs import get_logger
from jembatan.node.context import Node
from jembatan.store.driver import insert_ignoring
from jembatan.workspaces import events, files, fold, held, notify
from jembatan.workspaces.events import Event
from jembatan.workspaces.models import Workspace, WorkspaceEvent, WorkspaceIntake

log = get_logger("jembatan.workspaces")
KIND_PREFIX = "workspace:"  # message kind: workspace:ID, so agreements can name one
EVENTS_TYPE = "application/vnd.jembatan.workspace-events+json"
EVENTS_FORMAT = "jembatan-workspace-events/1"


def kind_of(workspace: str) -> str:
    return f"{KIND_PREFIX}{workspace}"


def recipients(node: Node, state: dict[str, Any]) -> list[str]:
    return sorted(
        m
        for m, info in state.get("members", {}).items()
        if m != node.member_id and info["status"] in ("joined", "invited")
    )


def check_sendable(node: Node, state: dict[str, Any]) -> None:
    """Refuse before anything is stored when no agreement lets the event reach the other
    members (the exchange checks again when it seals)."""
    to = recipients(node, state)
    if to:
        rules.choose(
            node,
            node.member_id,
            to,
            kind_of(state["id"]),
            state["ceiling"],
            state.get("agreement"),
        )


def flush(node: Node, workspace: str) -> int:
    """Send our events not yet sent to the other members, in one message. Runs after each
    action and in the periodic chores (so a failed send is tried again)."""
    with node.db() as s:
        row = s.get(Workspace, workspace)
        pending = list(
            s.scalars(
                select(WorkspaceEvent).where(
                    WorkspaceEvent.workspace_id == workspace, WorkspaceEvent.shared.is_(False)
                )
            )
        )
    if row is None or not pending:
        return 0
    state = held.state_of(row)
    to = recipients(node, state)
    invited = _newly_invited(state, pending)
    if to:
        # A newly invited member gets the whole history instead, in one message.
        if [m for m in to if m not in invited]:
            send_events(
                node,
                state,
                [m for m in to if m not in invited],
                [p.token for p in pending],
                "events",
            )
        uploads = [
            e.body
            for e in (events.from_stored(p.token) for p in pending)
            if e.type in ("document.uploaded", "document.versioned") and e.author == node.member_id
        ]
        for body in uploads:
            send_file(node, state, to, body)
        for member in invited:
            send_history(node, workspace, member)
    with node.transaction() as s:
        s.execute(
            update(WorkspaceEvent)
            .where(WorkspaceEvent.id.in_([p.id for p in pending]))
            .values(shared=True)
        )
    return len(pending)


def flush_all(node: Node, only: str | None = None) -> int:
    """`flush` each workspace with events not sent yet (or only one); a failure is logged
    and left for the next run."""
    with node.db() as s:
        pending = set(
            s.scalars(select(WorkspaceEvent.workspace_id).where(WorkspaceEvent.shared.is_(False)))
        )
    if only is not None:
        pending &= {only}
    sent = 0
    for workspace in sorted(pending):
        try:
            sent += flush(node, workspace)
        except JembatanError as exc:
            log.warning("workspace events not sent", workspace=workspace, reason=exc.detail)
    return sent


def _newly_invited(state: dict[str, Any], pending: list[WorkspaceEvent]) -> list[str]:
    out = []
    for p in pending:
        if p.type == "member.invited" and p.status == "applied":
            member = events.from_stored(p.token).body.get("member")
            if state["members"].get(member, {}).get("status") == "invited":
                out.append(str(member))
    return out


def send_events(
    node: Node, state: dict[str, Any], to: list[str], tokens: list[str], what: str, **more: Any
) -> None:
    doc = {
        "format": EVENTS_FORMAT,
        "workspace": state["id"],
        "events": [t for t in tokens if not events.is_redacted(t)],
        **more,
    }
    redacted = [t for t in tokens if events.is_redacted(t)]
    if redacted:
        doc["redacted"] = redacted
    exchange.send(
        node,
        to,
        f"Workspace {state['name']}: {len(tokens)} {what}"[:500],
        json.dumps(doc, sort_keys=True).encode(),
        content_type=EVENTS_TYPE,
        classification=state["ceiling"],
        kind=kind_of(state["id"]),
        agreement=state.get("agreement"),
        lifetime=timedelta(days=90),
    )


def send_file(node: Node, state: dict[str, Any], to: list[str], body: dict[str, Any]) -> None:
    with files.decrypted(node, state["id"], body["sha256"]) as path, path.open("rb") as plain:
        exchange.send(
            node,
            to,
            f"Workspace {state['name']}: file {body['sha256'][:12]}"[:500],
            plain,
            content_type=body["content_type"],
            filename=body["filename"],
            classification=state["ceiling"],
            kind=kind_of(state["id"]),
            agreement=state.get("agreement"),
            lifetime=timedelta(days=90),
        )


def send_history(node: Node, workspace: str, member: str) -> None:
    """Everything a new member needs: the whole event log and every file we hold."""
    with node.db() as s:
        row = held.row_of(s, workspace)
        tokens = list(
            s.scalars(
                select(WorkspaceEvent.token)
                .where(WorkspaceEvent.workspace_id == workspace)
                .order_by(WorkspaceEvent.clock)
            )
        )
    state = held.state_of(row)
    send_events(node, state, [member], tokens, "events (history)")
    for doc in state.get("documents", {}).values():
        for version in doc["versions"]:
            if files.held(node, workspace, version["sha256"]):
                send_file(node, state, [member], version)


def ingest(node: Node) -> int:
    """Take in workspace messages from other members: events (verified one by one with
    their authors' keys, so a member may relay another's) and document files. A node
    whose keys are locked leaves them for `serve`."""
    if node.keyring is None:
        return 0
    with node.db() as s:
        waiting = list(
            s.scalars(
                select(Message)
                .outerjoin(WorkspaceIntake, WorkspaceIntake.message_id == Message.id)
                .where(
                    Message.box == "inbox",
                    Message.kind.startswith(KIND_PREFIX),
                    WorkspaceIntake.message_id.is_(None),
                )
                .order_by(Message.id)
                .limit(200)
            )
        )
    for message in waiting:
        workspace = message.kind[len(KIND_PREFIX) :]
        try:
            outcome = _take(node, workspace, message)
        except JembatanError as exc:
            outcome = f"refused: {exc.detail}"
            log.warning("workspace message refused", sender=message.sender, reason=exc.detail)
        except Exception as exc:  # one bad message never blocks the others
            outcome = f"refused: {type(exc).__name__}"
            log.exception("workspace message failed", sender=message.sender)
        with node.transaction() as s:
            insert_ignoring(
                s,
                WorkspaceIntake,
                {
                    "message_id": message.id,
                    "workspace_id": workspace[:32],
                    "outcome": outcome[:500],
                },
            )
    return len(waiting)


def _take(node: Node, workspace: str, message: Message) -> str:
    if message.content_type.split(";")[0].strip() != EVENTS_TYPE:
        return _take_file(node, workspace, message)
    doc = json.loads(exchange.read_payload(node, message))
    if doc.get("format") != EVENTS_FORMAT or doc.get("workspace") != workspace:
        raise InvalidInput("not a workspace events document")
    lookup = exchange.sender_key_for(node)
    received, bad = [], 0
    for token in doc.get("events", [])[:10000]:
        try:
            received.append(events.verify(str(token), lookup))
        except JembatanError:
            bad += 1
    with node.transaction() as s:
        row = s.get(Workspace, workspace)
        state = held.state_of(row) if row is not None and row.state_hash else None
        stubs = _purged_stubs(s, workspace, state, received, doc.get("redacted", []))
        if not _may_send(state, message.sender, [*received, *stubs], node.member_id, workspace):
            raise Forbidden(
                "{sender} is not a member of workspace {id}", sender=message.sender, id=workspace
            )
        new = [e for e in [*received, *stubs] if held.store(s, e, message.id, shared=True)]
        folded, row = held.refold(s, workspace)
        fresh = {e.id for e in new}
        status = {e.id: "applied" for e in folded.applied}
        status |= dict.fromkeys(folded.rejected, "rejected")
        for e in new:
            record(s, held.entry(e, workspace, row.classification, status.get(e.id, "waiting")))
        applied = [e for e in folded.applied if e.id in fresh]
        notify.tell_users(s, node, folded.state, applied)
        notify.enqueue(s, workspace, row.state_hash, applied)
        missing = sorted(
            {p for e in folded.waiting for p in e.parents}
            - {e.id for e in received}
            - held.held_ids(s, workspace)
        )
        wanted = [str(w) for w in doc.get("want", [])][:1000]
    if wanted:
        _answer_want(node, workspace, message.sender, wanted)
    if missing and folded.state:
        send_events(node, folded.state, [message.sender], [], "events wanted", want=missing)
    return f"{len(new)} new of {len(received)} events" + (f", {bad} unverifiable" if bad else "")


def _purged_stubs(
    s: Session,
    workspace: str,
    state: dict[str, Any] | None,
    received: list[Event],
    stubs: list[Any],
) -> list[Event]:
    """Redacted events a member relays (their content is gone, so is their signature):
    accepted only as purged comments or decisions that verified events name as parents,
    older than a purge cut-off, so they change nothing but keep the log whole."""
    if not stubs:
        return []
    known = held.events_in(s, workspace)
    named = {p for e in [*known, *received] for p in e.parents}
    cutoffs = [e.body.get("before", "") for e in received if e.type == "content.purged"]
    cutoff = max([*cutoffs, (state or {}).get("purged_before", "")])
    out = []
    for token in stubs[:10000]:
        try:
            stub = events.from_relayed_stub(str(token))
        except JembatanError:
            continue
        if stub.id in named and stub.workspace == workspace and stub.at < cutoff:
            out.append(stub)
    return out


def _may_send(
    state: dict[str, Any] | None, sender: str, received: list[Event], me: str, workspace: str
) -> bool:
    """Members relay; a workspace we do not hold yet comes only with our invitation."""
    if state is not None:
        return state["members"].get(sender, {}).get("status") in ("joined", "invited", "left")
    trial = fold.fold(workspace, received).state
    return (
        bool(trial)
        and trial["members"].get(me, {}).get("status") == "invited"
        and (trial["members"].get(sender, {}).get("status") == "joined")
    )


def _answer_want(node: Node, workspace: str, to: str, wanted: list[str]) -> None:
    """Send the wanted events and everything before them."""
    with node.db() as s:
        row = held.row_of(s, workspace)
        by_id = {e.id: e for e in held.events_in(s, workspace)}
    state = held.state_of(row)
    if state["members"].get(to, {}).get("status") not in ("joined", "invited"):
        return
    out, stack = {}, [w for w in wanted if w in by_id]
    while stack:
        event = by_id[stack.pop()]
        if event.id not in out:
            out[event.id] = event
            stack.extend(p for p in event.parents if p in by_id)
    if out:
        tokens = [e.token for e in sorted(out.values(), key=lambda e: e.key)]
        send_events(node, state, [to], tokens, "events (catching up)")


def _take_file(node: Node, workspace: str, message: Message) -> str:
    with node.db() as s:
        row = held.row_of(s, workspace)
    state = held.state_of(row)
    if state["members"].get(message.sender, {}).get("status") not in ("joined", "invited", "left"):
        raise Forbidden(
            "{sender} is not a member of workspace {id}", sender=message.sender, id=workspace
        )
    with tempfile.TemporaryFile(dir=node.blobs.temp_path("").parent) as tmp:
        exchange.write_payload(node, message, tmp)
        tmp.seek(0)
        sha256, size = files.store(
            node, workspace, tmp, message.content_type, message.filename or "file"
        )
    return f"file {sha256} ({size} bytes)"
