"""Workspace actions: each validates, signs one event, stores it with its ledger entry in
one transaction, refolds the state, and then sends the event to the other member nodes
through the secure exchange. Events from partners come in through `ingest`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jembatan.accounts.models import User
from jembatan.agreements import retention, rules
from jembatan.errors import Forbidden, InvalidInput, JembatanError, NotFound
from jembatan.exchange import services as exchange
from jembatan.exchange.envelope import TLP, check_classification, cleared_labels
from jembatan.exchange.models import Delivery, Message
from jembatan.identifiers import MemberId
from jembatan.ledger.entries import Event as Entry
from jembatan.ledger.entries import record, user_actor
from jembatan.logs import get_logger
from jembatan.node.context import Node
from jembatan.registry.directory import parse_stamp, stamp
from jembatan.registry.membership import federation
from jembatan.store.batch import insert_ignoring
from jembatan.store.schema import utcnow
from jembatan.workspaces import events, files, fold, notify, search
from jembatan.workspaces.events import Event
from jembatan.workspaces.models import Notification, Workspace, WorkspaceEvent, WorkspaceIntake

log = get_logger("jembatan.workspaces")

KIND_PREFIX = "workspace:"  # message kind: workspace:ID, so agreements can name one
EVENTS_TYPE = "application/vnd.jembatan.workspace-events+json"
EVENTS_FORMAT = "jembatan-workspace-events/1"
EVENT_STORED = "workspace.event"  # ledger: an event was stored (ours or a partner's)
WORKSPACE_PURGED = "workspace.purged"  # ledger: content past retention left this node
HIGHEST_LABEL = "TLP:AMBER+STRICT"  # TLP:RED goes to named people, not to rooms
_MENTION = re.compile(
    r"@([A-Za-z0-9'()+,\-.=?]+/[A-Za-z0-9'()+,\-.=?]+/[A-Za-z0-9'()+,\-.=?]+/user/[A-Za-z0-9._@-]+|[A-Za-z0-9._-]+)"
)


def kind_of(workspace: str) -> str:
    return f"{KIND_PREFIX}{workspace}"


@dataclass(frozen=True)
class Person:
    """Who acts or reads: a local user with their clearance."""

    user_id: int
    username: str
    clearance: str

    @classmethod
    def of(cls, user: Any) -> Person:
        return cls(int(user.id), str(user.username), str(user.clearance))


# The owning node signs retention purges itself, as this pseudo-user (never a login).
RETENTION_USER = Person(0, "retention", "TLP:AMBER+STRICT")


@dataclass(frozen=True)
class View:
    """A workspace as one person may see it."""

    id: str
    state: dict[str, Any]
    state_hash: str
    role: str | None  # the person's role; None for an invitation they may accept
    events: int
    waiting: int
    hidden_documents: int

    @property
    def name(self) -> str:
        return str(self.state.get("name", ""))


# Reading -------------------------------------------------------------------------------


def _state(row: Workspace) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(row.state)
    return value


def _row(s: Session, workspace: str) -> Workspace:
    row = s.get(Workspace, workspace)
    if row is None or not row.state_hash:
        raise NotFound("no workspace {id} at this node", id=workspace)
    return row


def resolve(node: Node, ref: str) -> str:
    """A workspace id from its id or a unique prefix of it."""
    ref = ref.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{4,32}", ref):
        raise NotFound("no workspace {id} at this node", id=ref)
    with node.db() as s:
        found = list(s.scalars(select(Workspace.id).where(Workspace.id.startswith(ref)).limit(2)))
    if len(found) != 1:
        raise NotFound("no workspace {id} at this node", id=ref)
    return found[0]


def _may_enter(node: Node, state: dict[str, Any], person: Person) -> str | None:
    """The person's role, or "invited" when their organisation may accept an invitation;
    None when they may not see the workspace at all."""
    if state.get("classification") not in cleared_labels(person.clearance):
        return None
    role = fold.role_of(state, node.member_id, person.username)
    if role is not None:
        return role
    if state.get("members", {}).get(node.member_id, {}).get("status") == "invited":
        return "invited"
    return None


def _view(node: Node, row: Workspace, person: Person | None) -> View | None:
    state = _state(row)
    role = "auditor" if person is None else _may_enter(node, state, person)
    if role is None:
        return None
    hidden = 0
    if person is not None:
        allowed = cleared_labels(person.clearance)
        documents = state.get("documents", {})
        visible = {k: d for k, d in documents.items() if d["classification"] in allowed}
        hidden = len(documents) - len(visible)
        if role == "invited":  # an invitation shows what it is, not what is inside
            state = {k: state[k] for k in ("id", "name", "purpose", "owner", "members")}
            state |= {"classification": row.classification}
        else:
            state = {**state, "documents": visible}
            gone = set(documents) - set(visible)
            state["comments"] = [c for c in state["comments"] if c["thread"] not in gone]
    return View(
        row.id,
        state,
        row.state_hash,
        None if role == "invited" else role,
        row.events,
        row.waiting,
        hidden,
    )


def list_workspaces(node: Node, person: Person | None) -> list[View]:
    """The workspaces a person may see (with `None`: all, for the node's own tools)."""
    ingest(node)
    with node.db() as s:
        rows = list(s.scalars(select(Workspace).where(Workspace.state_hash != "")))
    views = [v for v in (_view(node, r, person) for r in rows) if v is not None]
    return sorted(views, key=lambda v: v.name.lower())


def get(node: Node, workspace: str, person: Person | None) -> View:
    ingest(node)
    with node.db() as s:
        row = _row(s, workspace)
    view = _view(node, row, person)
    if view is None:
        raise NotFound("no workspace {id} at this node", id=workspace)
    return view


def history(node: Node, workspace: str, limit: int = 50) -> list[WorkspaceEvent]:
    with node.db() as s:
        return list(
            s.scalars(
                select(WorkspaceEvent)
                .where(WorkspaceEvent.workspace_id == workspace)
                .order_by(WorkspaceEvent.clock.desc(), WorkspaceEvent.author.desc())
                .limit(limit)
            )
        )


def _events(s: Session, workspace: str) -> list[Event]:
    tokens = s.scalars(select(WorkspaceEvent.token).where(WorkspaceEvent.workspace_id == workspace))
    return [events.from_stored(t) for t in tokens]


def find(items: dict[str, Any], ref: str, what: str) -> str:
    """An item (document, task, milestone) by its id or a unique prefix of at least 6."""
    ref = ref.strip().lower()
    found = [k for k in items if k.startswith(ref)] if len(ref) >= 6 else []
    if len(found) != 1:
        raise NotFound("no {what} {ref} in this workspace", what=what, ref=ref)
    return found[0]


# Writing -------------------------------------------------------------------------------


def _refold(s: Session, workspace: str) -> tuple[fold.Folded, Workspace]:
    folded = fold.fold(workspace, _events(s, workspace))
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
    _redact_purged(s, workspace, state, folded.applied)
    search.reindex(s, workspace, state, files.texts_in(s, workspace))
    return folded, row


def _redact_purged(s: Session, workspace: str, state: dict[str, Any], applied: list[Event]) -> None:
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


def forget_purged(node: Node, workspace: str) -> int:
    """After a purge: the files of purged versions, and the messages that carried this
    workspace's events and files before the cut-off, leave this node."""
    with node.db() as s:
        row = _row(s, workspace)
    state = _state(row)
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
                    Message.kind == kind_of(workspace),
                    Message.created_at < parse_stamp(before),
                    Delivery.message_id.is_(None),
                )
            )
        )
    purged = retention.purge(
        node, old, "workspace retention", node.member_id, boxes=("inbox", "outbox")
    )
    if removed:
        with node.transaction() as s:
            record(
                s,
                Entry(
                    WORKSPACE_PURGED,
                    node.member_id,
                    workspace,
                    {"workspace": workspace, "before": before, "files": len(removed)},
                    {sha[:16]: sha for sha in removed[:200]},
                ),
            )
    return len(removed) + purged


def _store(s: Session, event: Event, via: str | None, shared: bool) -> bool:
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


def _entry(event: Event, workspace: str, classification: str, status: str) -> Entry:
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


def _act(
    node: Node,
    workspace: str,
    person: Person,
    type: str,
    body: dict[str, Any],
    at: datetime | None = None,
) -> Event:
    """Sign one event by this person, store it if the workspace allows it, send it on."""
    now = (at or utcnow()).replace(microsecond=0)
    with node.transaction() as s:
        known = _events(s, workspace) if workspace else []
        current = fold.fold(workspace, known) if workspace else fold.Folded({})
        if workspace and not current.state:
            raise NotFound("no workspace {id} at this node", id=workspace)
        if workspace and current.state.get("classification") not in cleared_labels(
            person.clearance
        ):
            raise NotFound("no workspace {id} at this node", id=workspace)
        event = events.make(
            node.keys().signer(),
            node.member_id,
            person.username,
            workspace,
            type,
            body,
            current.heads,
            now,
        )
        ws_id = workspace or events.workspace_of(event)
        after = fold.fold(ws_id, [*known, event])
        if event.id in after.rejected:
            raise Forbidden("{reason}", reason=after.rejected[event.id])
        _check_sendable(node, after.state)
        _store(s, event, None, shared=False)
        folded, row = _refold(s, ws_id)
        record(s, _entry(event, ws_id, row.classification, "applied"))
        _notify(s, node, folded.state, [event])
        notify.enqueue(s, ws_id, row.state_hash, [event])
    flush(node, ws_id)
    return event


def _recipients(node: Node, state: dict[str, Any]) -> list[str]:
    return sorted(
        m
        for m, info in state.get("members", {}).items()
        if m != node.member_id and info["status"] in ("joined", "invited")
    )


def _check_sendable(node: Node, state: dict[str, Any]) -> None:
    """Refuse before anything is stored when no agreement lets the event reach the other
    members (the exchange checks again when it seals)."""
    to = _recipients(node, state)
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
    state = _state(row)
    to = _recipients(node, state)
    invited = _newly_invited(state, pending)
    if to:
        # A newly invited member gets the whole history instead, in one message.
        if [m for m in to if m not in invited]:
            _send_events(
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
            _send_file(node, state, to, body)
        for member in invited:
            send_history(node, workspace, member)
    with node.transaction() as s:
        s.execute(
            update(WorkspaceEvent)
            .where(WorkspaceEvent.id.in_([p.id for p in pending]))
            .values(shared=True)
        )
    return len(pending)


def flush_all(node: Node) -> int:
    with node.db() as s:
        pending = set(
            s.scalars(select(WorkspaceEvent.workspace_id).where(WorkspaceEvent.shared.is_(False)))
        )
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


def _send_events(
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


def _send_file(node: Node, state: dict[str, Any], to: list[str], body: dict[str, Any]) -> None:
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
        row = _row(s, workspace)
        tokens = list(
            s.scalars(
                select(WorkspaceEvent.token)
                .where(WorkspaceEvent.workspace_id == workspace)
                .order_by(WorkspaceEvent.clock)
            )
        )
    state = _state(row)
    _send_events(node, state, [member], tokens, "events (history)")
    for doc in state.get("documents", {}).values():
        for version in doc["versions"]:
            if files.held(node, workspace, version["sha256"]):
                _send_file(node, state, [member], version)


# Actions -------------------------------------------------------------------------------


def create(
    node: Node,
    person: Person,
    name: str,
    purpose: str = "",
    classification: str = "TLP:AMBER",
    ceiling: str | None = None,
    retention_days: int | None = None,
    agreement: str | None = None,
) -> str:
    """A new workspace owned by our organisation, with the person as its first owner."""
    ceiling = ceiling or classification
    for label in (classification, ceiling):
        check_classification(label)
        if TLP.index(label) > TLP.index(HIGHEST_LABEL):
            raise InvalidInput(
                "workspaces go up to {label}; TLP:RED is for messages to named people",
                label=HIGHEST_LABEL,
            )
    if TLP.index(classification) > TLP.index(ceiling):
        raise InvalidInput("the classification cannot be above the ceiling")
    if classification not in cleared_labels(person.clearance):
        raise Forbidden("you cannot create a workspace above your own clearance")
    if agreement:
        _check_agreement(node, agreement)
    body = {
        "name": name.strip(),
        "purpose": purpose.strip(),
        "classification": classification,
        "ceiling": ceiling,
        "retention_days": retention_days,
        "agreement": agreement or None,
    }
    event = _act(node, "", person, "workspace.created", _checked("workspace.created", body))
    return events.workspace_of(event)


def _check_agreement(node: Node, agreement: str) -> None:
    if rules.terms_of(node, agreement) is None:
        raise InvalidInput("no agreement {id} at this node", id=agreement)


def _checked(type: str, body: dict[str, Any]) -> dict[str, Any]:
    """Refuse a malformed body with the field that is wrong, before signing anything."""
    try:
        fold.BODIES[type].model_validate(body)
    except Exception as exc:
        errors = getattr(exc, "errors", None)
        if errors is None:
            raise
        first = errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidInput("{where}: {problem}", where=where, problem=first["msg"]) from None
    return {k: v for k, v in body.items() if v is not None or type == "workspace.created"}


def update_settings(node: Node, workspace: str, person: Person, **changes: Any) -> Event:
    body = {k: v for k, v in changes.items() if v is not None}
    if not body:
        raise InvalidInput("name at least one setting to change")
    if body.get("agreement"):
        _check_agreement(node, body["agreement"])
    return _act(node, workspace, person, "workspace.updated", _checked("workspace.updated", body))


def invite(node: Node, workspace: str, person: Person, member: str) -> Event:
    member = str(MemberId.parse(member.strip()))
    if member == node.member_id:
        raise InvalidInput("our own organisation is already a member")
    if federation(node).member(member) is None:
        raise InvalidInput("{member} is not in the member directory", member=member)
    return _act(node, workspace, person, "member.invited", {"member": member})


def join(node: Node, workspace: str, person: Person) -> Event:
    """Accept our organisation's invitation; the person becomes its first owner here."""
    return _act(node, workspace, person, "member.joined", {})


def leave(node: Node, workspace: str, person: Person) -> Event:
    return _act(node, workspace, person, "member.left", {})


def remove_member(node: Node, workspace: str, person: Person, member: str) -> Event:
    return _act(node, workspace, person, "member.removed", {"member": member.strip()})


def admit(node: Node, workspace: str, person: Person, username: str, role: str) -> Event:
    """Let one of our own users in, with a role (or change it)."""
    with node.db() as s:
        user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise InvalidInput("no user {name} at this node", name=username)
    if role not in fold.ROLES:
        raise InvalidInput("role must be one of: {roles}", roles=", ".join(fold.ROLES))
    return _act(node, workspace, person, "user.admitted", {"user": username, "role": role})


def remove_user(node: Node, workspace: str, person: Person, username: str) -> Event:
    return _act(node, workspace, person, "user.removed", {"user": username})


def upload(
    node: Node,
    workspace: str,
    person: Person,
    source: BinaryIO,
    filename: str,
    content_type: str = "application/octet-stream",
    title: str | None = None,
    classification: str | None = None,
    comment: str = "",
    document: str | None = None,
) -> Event:
    """A new document, or with `document` a new version of one; the file is streamed."""
    view = get(node, workspace, person)
    if view.role not in fold.WRITERS:
        raise Forbidden("only owners and editors may upload documents")
    filename = filename.strip().replace("\\", "/").rsplit("/", 1)[-1]
    sha256, size = files.store(node, workspace, source, content_type, filename)
    base = {
        "filename": filename,
        "content_type": content_type,
        "size": size,
        "sha256": sha256,
        "comment": comment.strip(),
    }
    if document:
        doc_id = find(view.state["documents"], document, "document")
        body = {**base, "document": doc_id}
        return _act(
            node, workspace, person, "document.versioned", _checked("document.versioned", body)
        )
    label = classification or view.state["classification"]
    if label not in cleared_labels(person.clearance):
        raise Forbidden("you cannot label a document above your own clearance")
    body = {**base, "title": (title or filename).strip(), "classification": label}
    return _act(node, workspace, person, "document.uploaded", _checked("document.uploaded", body))


def download(
    node: Node, workspace: str, person: Person, document: str, version: int | None, target: BinaryIO
) -> dict[str, Any]:
    """Write one version's bytes (the latest by default) to `target`; returns the version."""
    view = get(node, workspace, person)
    if view.role is None:
        raise Forbidden("accept the invitation first")
    doc = view.state["documents"][find(view.state["documents"], document, "document")]
    versions = doc["versions"]
    n = version or len(versions)
    if not 1 <= n <= len(versions):
        raise NotFound("this document has no version {n}", n=n)
    chosen: dict[str, Any] = versions[n - 1]
    files.write(node, workspace, chosen["sha256"], target)
    return chosen


def version_of(
    node: Node, workspace: str, person: Person, document: str, version: int | None
) -> dict[str, Any]:
    view = get(node, workspace, person)
    if view.role is None:
        raise Forbidden("accept the invitation first")
    doc = view.state["documents"][find(view.state["documents"], document, "document")]
    n = version or len(doc["versions"])
    if not 1 <= n <= len(doc["versions"]):
        raise NotFound("this document has no version {n}", n=n)
    found: dict[str, Any] = doc["versions"][n - 1]
    if not files.held(node, workspace, found["sha256"]):
        raise NotFound("this version's file has not arrived at this node yet")
    return found


def comment(node: Node, workspace: str, person: Person, text: str, thread: str = "") -> Event:
    view = get(node, workspace, person)
    target = fold.WORKSPACE_THREAD
    if thread and thread != fold.WORKSPACE_THREAD:
        items = {**view.state.get("documents", {}), **view.state.get("tasks", {})}
        target = find(items, thread, "document or task")
    mentions = sorted({_mention(node, m) for m in _MENTION.findall(text)} - {""})
    body = {"thread": target, "text": text.strip(), "mentions": mentions}
    return _act(node, workspace, person, "comment.posted", _checked("comment.posted", body))


def _mention(node: Node, name: str) -> str:
    """@name means a user of our own organisation; @MEMBER/user/NAME anyone's."""
    return name if "/user/" in name else user_actor(node.member_id, name)


def add_task(
    node: Node,
    workspace: str,
    person: Person,
    title: str,
    description: str | None = "",
    assignee_member: str | None = None,
    assignee_user: str | None = None,
    due: str | None = None,
    milestone: str | None = None,
) -> Event:
    view = get(node, workspace, person)
    body: dict[str, Any] = {"title": title.strip(), "description": (description or "").strip()}
    body |= _task_refs(view, node, assignee_member, assignee_user, due, milestone)
    return _act(node, workspace, person, "task.created", _checked("task.created", body))


def _task_refs(
    view: View,
    node: Node,
    assignee_member: str | None,
    assignee_user: str | None,
    due: str | None,
    milestone: str | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if assignee_user and not assignee_member:
        assignee_member = node.member_id
    if assignee_member:
        out["assignee_member"] = str(MemberId.parse(assignee_member.strip()))
    if assignee_user:
        out["assignee_user"] = assignee_user.strip()
    if due:
        out["due"] = due.strip()
    if milestone:
        out["milestone"] = find(view.state.get("milestones", {}), milestone, "milestone")
    return out


def update_task(
    node: Node,
    workspace: str,
    person: Person,
    task: str,
    title: str | None = None,
    description: str | None = None,
    assignee_member: str | None = None,
    assignee_user: str | None = None,
    due: str | None = None,
    milestone: str | None = None,
    status: str | None = None,
) -> Event:
    view = get(node, workspace, person)
    task_id = find(view.state.get("tasks", {}), task, "task")
    changes: dict[str, Any] = {"title": title, "description": description, "status": status}
    changes = {k: v for k, v in changes.items() if v is not None}
    changes |= _task_refs(view, node, assignee_member, assignee_user, due, milestone)
    if not changes:
        raise InvalidInput("name at least one change")
    body = {"task": task_id, "changes": changes}
    return _act(node, workspace, person, "task.updated", _checked("task.updated", body))


def complete_task(node: Node, workspace: str, person: Person, task: str) -> Event:
    view = get(node, workspace, person)
    task_id = find(view.state.get("tasks", {}), task, "task")
    return _act(node, workspace, person, "task.completed", {"task": task_id})


def add_milestone(
    node: Node,
    workspace: str,
    person: Person,
    title: str,
    due: str | None = None,
    description: str = "",
) -> Event:
    body: dict[str, Any] = {"title": title.strip()}
    if due:
        body["due"] = due.strip()
    if description.strip():
        body["description"] = description.strip()
    return _act(node, workspace, person, "milestone.created", _checked("milestone.created", body))


def record_decision(node: Node, workspace: str, person: Person, title: str, text: str) -> Event:
    body = {"title": title.strip(), "text": text.strip()}
    return _act(node, workspace, person, "decision.recorded", _checked("decision.recorded", body))


# Partners' events ----------------------------------------------------------------------


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
        state = _state(row) if row is not None and row.state_hash else None
        stubs = _purged_stubs(s, workspace, state, received, doc.get("redacted", []))
        if not _may_send(state, message.sender, [*received, *stubs], node.member_id, workspace):
            raise Forbidden(
                "{sender} is not a member of workspace {id}", sender=message.sender, id=workspace
            )
        new = [e for e in [*received, *stubs] if _store(s, e, message.id, shared=True)]
        folded, row = _refold(s, workspace)
        fresh = {e.id for e in new}
        status = {e.id: "applied" for e in folded.applied}
        status |= dict.fromkeys(folded.rejected, "rejected")
        for e in new:
            record(s, _entry(e, workspace, row.classification, status.get(e.id, "waiting")))
        applied = [e for e in folded.applied if e.id in fresh]
        _notify(s, node, folded.state, applied)
        notify.enqueue(s, workspace, row.state_hash, applied)
        missing = sorted(
            {p for e in folded.waiting for p in e.parents}
            - {e.id for e in received}
            - _held_ids(s, workspace)
        )
        wanted = [str(w) for w in doc.get("want", [])][:1000]
    if wanted:
        _answer_want(node, workspace, message.sender, wanted)
    if missing and folded.state:
        _send_events(node, folded.state, [message.sender], [], "events wanted", want=missing)
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
    held = _events(s, workspace)
    named = {p for e in [*held, *received] for p in e.parents}
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


def _held_ids(s: Session, workspace: str) -> set[str]:
    return set(s.scalars(select(WorkspaceEvent.id).where(WorkspaceEvent.workspace_id == workspace)))


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
        row = _row(s, workspace)
        by_id = {e.id: e for e in _events(s, workspace)}
    state = _state(row)
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
        _send_events(node, state, [to], tokens, "events (catching up)")


def _take_file(node: Node, workspace: str, message: Message) -> str:
    with node.db() as s:
        row = _row(s, workspace)
    state = _state(row)
    if state["members"].get(message.sender, {}).get("status") not in ("joined", "invited", "left"):
        raise Forbidden(
            "{sender} is not a member of workspace {id}", sender=message.sender, id=workspace
        )
    import tempfile

    with tempfile.TemporaryFile(dir=node.blobs.temp_path("").parent) as tmp:
        exchange.write_payload(node, message, tmp)
        tmp.seek(0)
        sha256, size = files.store(
            node, workspace, tmp, message.content_type, message.filename or "file"
        )
    return f"file {sha256} ({size} bytes)"


def find_text(node: Node, person: Person, query: str, limit: int = 50) -> list[search.Hit]:
    """Search everything the person may see: workspaces they are admitted to, content up
    to their clearance."""
    views = [v for v in list_workspaces(node, person) if v.role is not None]
    return search.search(node, query, {v.id: v.name for v in views}, person.clearance, limit)


# Webhooks ------------------------------------------------------------------------------


def add_webhook(node: Node, workspace: str, person: Person, url: str) -> tuple[Any, str]:
    """An agency system to be told of every new event; returns it and its secret."""
    notify.require_owner(get(node, workspace, person).role)
    actor = user_actor(node.member_id, person.username)
    return notify.add_webhook(node, workspace, url, actor)


def list_webhooks(node: Node, workspace: str, person: Person) -> list[Any]:
    notify.require_owner(get(node, workspace, person).role)
    return notify.webhooks(node, workspace)


def remove_webhook(node: Node, workspace: str, person: Person, hook_id: int) -> None:
    notify.require_owner(get(node, workspace, person).role)
    notify.remove_webhook(node, workspace, hook_id)


# Retention -----------------------------------------------------------------------------


def purge_due(node: Node, now: datetime | None = None) -> int:
    """For each workspace we own with a retention period: sign the purge of what is past
    it (every member node folds it alike), then clear what it covers here. Members'
    nodes clear theirs when the purge reaches them."""
    now = now or utcnow()
    done = 0
    with node.db() as s:
        rows = list(s.scalars(select(Workspace).where(Workspace.state_hash != "")))
    for row in rows:
        state = _state(row)
        days = state.get("retention_days")
        if state.get("owner") == node.member_id and days:
            cutoff = stamp((now - timedelta(days=days)).replace(hour=0, minute=0, second=0))
            if cutoff > state.get("purged_before", "") and _has_content_before(state, cutoff):
                _act(node, row.id, RETENTION_USER, "content.purged", {"before": cutoff}, now)
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


# Notifications -------------------------------------------------------------------------


def _notify(s: Session, node: Node, state: dict[str, Any], applied: list[Event]) -> None:
    """Tell our own users of what concerns them: a mention, a task given to them."""
    mine = state.get("users", {}).get(node.member_id, {})
    prefix = f"{node.member_id}/user/"
    for event in applied:
        targets: list[tuple[str, str, str]] = []
        if event.type == "comment.posted":
            for actor in event.body.get("mentions", []):
                if actor.startswith(prefix):
                    text = f"{event.actor} mentioned you in {state['name']}: {event.body['text']}"
                    targets.append((actor[len(prefix) :], "mention", text))
        elif event.type in ("task.created", "task.updated"):
            fields = event.body if event.type == "task.created" else event.body.get("changes", {})
            user = fields.get("assignee_user")
            member = fields.get("assignee_member") or node.member_id
            if user and member == node.member_id:
                title = fields.get("title") or state["tasks"].get(
                    event.body.get("task", ""), {}
                ).get("title", "")
                targets.append(
                    (user, "assigned", f"{event.actor} gave you a task in {state['name']}: {title}")
                )
        for username, reason, text in targets:
            if username == event.user and event.author == node.member_id:
                continue
            if username not in mine:
                continue
            user_id = s.scalar(select(User.id).where(User.username == username))
            if user_id is not None:
                s.add(
                    Notification(
                        user_id=user_id,
                        workspace_id=state["id"],
                        event_id=event.id,
                        reason=reason,
                        text=text[:500],
                    )
                )


def notifications(node: Node, person: Person, unread_only: bool = False) -> list[Notification]:
    ingest(node)
    query = select(Notification).where(Notification.user_id == person.user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    with node.db() as s:
        return list(s.scalars(query.order_by(Notification.id.desc()).limit(100)))


def mark_read(node: Node, person: Person) -> int:
    with node.transaction() as s:
        result = s.execute(
            update(Notification)
            .where(Notification.user_id == person.user_id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
        return int(getattr(result, "rowcount", 0) or 0)


# Progress ------------------------------------------------------------------------------


def progress(state: dict[str, Any], today: str) -> dict[str, Any]:
    """Share of tasks done per milestone, overdue tasks and milestones."""
    tasks = state.get("tasks", {})
    rows = []
    for mid, milestone in sorted(
        state.get("milestones", {}).items(),
        key=lambda kv: (kv[1].get("due") or "9999", kv[1]["title"]),
    ):
        mine = [t for t in tasks.values() if t.get("milestone") == mid]
        done = sum(1 for t in mine if t["status"] == "done")
        rows.append(
            {
                "id": mid,
                "title": milestone["title"],
                "due": milestone.get("due"),
                "tasks": len(mine),
                "done": done,
                "percent": round(100 * done / len(mine)) if mine else 0,
                "overdue": bool(
                    milestone.get("due") and milestone["due"] < today and done < len(mine)
                ),
            }
        )
    overdue = sorted(
        (
            {"id": tid, **t}
            for tid, t in tasks.items()
            if t.get("due") and t["due"] < today and t["status"] != "done"
        ),
        key=lambda t: t["due"],
    )
    done = sum(1 for t in tasks.values() if t["status"] == "done")
    return {
        "milestones": rows,
        "overdue": overdue,
        "tasks": len(tasks),
        "done": done,
        "percent": round(100 * done / len(tasks)) if tasks else 0,
    }
