"""Workspace actions: each validates, signs one event, stores it with its ledger entry in
one transaction, refolds the state, and then has `replication` send it to the other
member nodes. Reading: what a person may see of a workspace."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import select, update

from jembatan.accounts.models import User
from jembatan.agreements import rules
from jembatan.errors import Forbidden, InvalidInput, NotFound
from jembatan.exchange.envelope import TLP, check_classification, cleared_labels
from jembatan.identifiers import MemberId
from jembatan.ledger.entries import record, user_actor
from jembatan.node.context import Node
from jembatan.registry.membership import federation
from jembatan.store.schema import utcnow
from jembatan.workspaces import events, files, fold, held, notify, replication, search
from jembatan.workspaces.events import Event
from jembatan.workspaces.models import Notification, Workspace, WorkspaceEvent

HIGHEST_LABEL = "TLP:AMBER+STRICT"  # TLP:RED goes to named people, not to rooms
_MENTION = re.compile(
    r"@([A-Za-z0-9'()+,\-.=?]+/[A-Za-z0-9'()+,\-.=?]+/[A-Za-z0-9'()+,\-.=?]+/user/[A-Za-z0-9._@-]+|[A-Za-z0-9._-]+)"
)


@dataclass(frozen=True)
class Person:
    """Who acts or reads: a local user with their clearance."""

    user_id: int
    username: str
    clearance: str

    @classmethod
    def of(cls, user: Any) -> Person:
        return cls(int(user.id), str(user.username), str(user.clearance))


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
    state = held.state_of(row)
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
    replication.ingest(node)
    with node.db() as s:
        rows = list(s.scalars(select(Workspace).where(Workspace.state_hash != "")))
    views = [v for v in (_view(node, r, person) for r in rows) if v is not None]
    return sorted(views, key=lambda v: v.name.lower())


def get(node: Node, workspace: str, person: Person | None) -> View:
    replication.ingest(node)
    with node.db() as s:
        row = held.row_of(s, workspace)
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


def find(items: dict[str, Any], ref: str, what: str) -> str:
    """An item (document, task, milestone) by its id or a unique prefix of at least 6."""
    ref = ref.strip().lower()
    found = [k for k in items if k.startswith(ref)] if len(ref) >= 6 else []
    if len(found) != 1:
        raise NotFound("no {what} {ref} in this workspace", what=what, ref=ref)
    return found[0]


# Writing -------------------------------------------------------------------------------


def act(
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
        row = s.get(Workspace, workspace) if workspace else None
        if workspace and (row is None or not row.state_hash):
            raise NotFound("no workspace {id} at this node", id=workspace)
        state = held.state_of(row) if row is not None else {}
        if workspace and state.get("classification") not in cleared_labels(person.clearance):
            raise NotFound("no workspace {id} at this node", id=workspace)
        heads = held.heads_of(s, row) if row is not None else []
        event = events.make(
            node.keys().signer(),
            node.member_id,
            person.username,
            workspace,
            type,
            body,
            heads,
            now,
        )
        ws_id = workspace or events.workspace_of(event)
        after, reason = fold.extend(ws_id, state, heads, event)
        if reason is not None:
            raise Forbidden("{reason}", reason=reason)
        replication.check_sendable(node, after)
        held.store(s, event, None, shared=False)
        state, row = held.advance(s, ws_id, [h.id for h in heads], event, after)
        record(s, held.entry(event, ws_id, row.classification, "applied"))
        notify.tell_users(s, node, state, [event])
        notify.enqueue(s, ws_id, row.state_hash, [event])
    # The event is ours now; if sending fails here, the periodic task sends it later.
    replication.flush_all(node, only=ws_id)
    return event


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
    event = act(node, "", person, "workspace.created", _checked("workspace.created", body))
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
    return act(node, workspace, person, "workspace.updated", _checked("workspace.updated", body))


def invite(node: Node, workspace: str, person: Person, member: str) -> Event:
    member = str(MemberId.parse(member.strip()))
    if member == node.member_id:
        raise InvalidInput("our own organisation is already a member")
    if federation(node).member(member) is None:
        raise InvalidInput("{member} is not in the member directory", member=member)
    return act(node, workspace, person, "member.invited", {"member": member})


def join(node: Node, workspace: str, person: Person) -> Event:
    """Accept our organisation's invitation; the person becomes its first owner here."""
    return act(node, workspace, person, "member.joined", {})


def leave(node: Node, workspace: str, person: Person) -> Event:
    return act(node, workspace, person, "member.left", {})


def admit(node: Node, workspace: str, person: Person, username: str, role: str) -> Event:
    """Let one of our own users in, with a role (or change it)."""
    with node.db() as s:
        user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise InvalidInput("no user {name} at this node", name=username)
    if role not in fold.ROLES:
        raise InvalidInput("role must be one of: {roles}", roles=", ".join(fold.ROLES))
    return act(node, workspace, person, "user.admitted", {"user": username, "role": role})


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
        return act(
            node, workspace, person, "document.versioned", _checked("document.versioned", body)
        )
    label = classification or view.state["classification"]
    if label not in cleared_labels(person.clearance):
        raise Forbidden("you cannot label a document above your own clearance")
    body = {**base, "title": (title or filename).strip(), "classification": label}
    return act(node, workspace, person, "document.uploaded", _checked("document.uploaded", body))


def version_of(
    node: Node, workspace: str, person: Person, document: str, version: int | None
) -> dict[str, Any]:
    """One version of a document (the latest by default) whose file this node holds."""
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


def download(
    node: Node, workspace: str, person: Person, document: str, version: int | None, target: BinaryIO
) -> dict[str, Any]:
    """Write one version's bytes (the latest by default) to `target`; returns the version."""
    chosen = version_of(node, workspace, person, document, version)
    files.write(node, workspace, chosen["sha256"], target)
    return chosen


def comment(node: Node, workspace: str, person: Person, text: str, thread: str = "") -> Event:
    view = get(node, workspace, person)
    target = fold.WORKSPACE_THREAD
    if thread and thread != fold.WORKSPACE_THREAD:
        items = {**view.state.get("documents", {}), **view.state.get("tasks", {})}
        target = find(items, thread, "document or task")
    mentions = sorted({_mention(node, m) for m in _MENTION.findall(text)} - {""})
    body = {"thread": target, "text": text.strip(), "mentions": mentions}
    return act(node, workspace, person, "comment.posted", _checked("comment.posted", body))


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
    return act(node, workspace, person, "task.created", _checked("task.created", body))


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
    return act(node, workspace, person, "task.updated", _checked("task.updated", body))


def complete_task(node: Node, workspace: str, person: Person, task: str) -> Event:
    view = get(node, workspace, person)
    task_id = find(view.state.get("tasks", {}), task, "task")
    return act(node, workspace, person, "task.completed", {"task": task_id})


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
    return act(node, workspace, person, "milestone.created", _checked("milestone.created", body))


def record_decision(node: Node, workspace: str, person: Person, title: str, text: str) -> Event:
    body = {"title": title.strip(), "text": text.strip()}
    return act(node, workspace, person, "decision.recorded", _checked("decision.recorded", body))


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


# Notifications -------------------------------------------------------------------------


def notifications(node: Node, person: Person, unread_only: bool = False) -> list[Notification]:
    replication.ingest(node)
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
