"""Folding a workspace's events into its state. Every node holds the same events and
folds them in the same total order (Lamport clock, then author member id, then event id),
checking each against the state before it, so every node reaches the same state and the
same state hash. Later events win field by field (last writer wins in that order)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jembatan.crypto.canonical import canonical_json
from jembatan.exchange.envelope import TLP
from jembatan.identifiers import MemberId
from jembatan.registry.directory import parse_stamp
from jembatan.workspaces.events import Event, workspace_of

ROLES = ("owner", "editor", "viewer")
WRITERS = ("owner", "editor")
STATUSES = ("open", "in-progress", "blocked", "done")
WORKSPACE_THREAD = "workspace"
_SHA256 = r"^[0-9a-f]{64}$"
_USER = r"^[A-Za-z0-9._@-]{1,120}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Created(_Body):
    name: str = Field(min_length=1, max_length=200)
    purpose: str = Field(default="", max_length=4000)
    classification: str
    ceiling: str
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    agreement: str | None = Field(default=None, max_length=64)

    @field_validator("classification", "ceiling")
    @classmethod
    def _label(cls, label: str) -> str:
        if label not in TLP:
            raise ValueError(f"{label!r} is not a TLP 2.0 label")
        return label


class Updated(_Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    purpose: str | None = Field(default=None, max_length=4000)
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    agreement: str | None = Field(default=None, max_length=64)


class Member(_Body):
    member: str

    @field_validator("member")
    @classmethod
    def _member(cls, value: str) -> str:
        return str(MemberId.parse(value))


class Nothing(_Body):
    pass


class Admitted(_Body):
    user: str = Field(pattern=_USER)
    role: Literal["owner", "editor", "viewer"]


class Removed(_Body):
    user: str = Field(pattern=_USER)


class Upload(_Body):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=200)
    size: int = Field(ge=0)
    sha256: str = Field(pattern=_SHA256)
    comment: str = Field(default="", max_length=2000)


class Uploaded(Upload):
    title: str = Field(min_length=1, max_length=300)
    classification: str


class Versioned(Upload):
    document: str = Field(pattern=_SHA256)


class Posted(_Body):
    thread: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=10000)
    mentions: tuple[str, ...] = Field(default=(), max_length=50)


class TaskFields(_Body):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=4000)
    assignee_member: str | None = Field(default=None, max_length=800)
    assignee_user: str | None = Field(default=None, max_length=120)
    due: date | None = None
    milestone: str | None = Field(default=None, pattern=_SHA256)
    status: Literal["open", "in-progress", "blocked", "done"] | None = None


class TaskCreated(TaskFields):
    title: str = Field(min_length=1, max_length=300)


class TaskUpdated(_Body):
    task: str = Field(pattern=_SHA256)
    changes: TaskFields


class TaskCompleted(_Body):
    task: str = Field(pattern=_SHA256)


class MilestoneFields(_Body):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=4000)
    due: date | None = None


class MilestoneCreated(MilestoneFields):
    title: str = Field(min_length=1, max_length=300)


class MilestoneUpdated(_Body):
    milestone: str = Field(pattern=_SHA256)
    changes: MilestoneFields


class Purged(_Body):
    before: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class Decided(_Body):
    title: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1, max_length=10000)


BODIES: dict[str, type[_Body]] = {
    "workspace.created": Created,
    "workspace.updated": Updated,
    "member.invited": Member,
    "member.joined": Nothing,
    "member.left": Nothing,
    "member.removed": Member,
    "user.admitted": Admitted,
    "user.removed": Removed,
    "document.uploaded": Uploaded,
    "document.versioned": Versioned,
    "comment.posted": Posted,
    "task.created": TaskCreated,
    "task.updated": TaskUpdated,
    "task.completed": TaskCompleted,
    "milestone.created": MilestoneCreated,
    "milestone.updated": MilestoneUpdated,
    "decision.recorded": Decided,
    "content.purged": Purged,
}


class Refused(Exception):
    """An event the state before it does not allow; it is kept but changes nothing."""


@dataclass
class Folded:
    state: dict[str, Any]
    applied: list[Event] = field(default_factory=list)  # in fold order
    rejected: dict[str, str] = field(default_factory=dict)  # event id -> reason
    waiting: list[Event] = field(default_factory=list)  # parents not yet held
    heads: list[Event] = field(default_factory=list)  # held events nothing points to yet

    @property
    def state_hash(self) -> str:
        return state_hash(self.state)


def state_hash(state: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(state)).hexdigest()


def fold(workspace: str, events: Iterable[Event]) -> Folded:
    """The state after every event whose ancestors are all held, in the total order."""
    out = Folded(state={})
    held: dict[str, Event] = {}
    for event in sorted(events, key=lambda e: e.key):
        if any(p not in held for p in event.parents):
            out.waiting.append(event)
            continue
        held[event.id] = event
        try:
            _check_link(workspace, event, held, out.state)
            _apply(out.state, event, _body(event))
            out.applied.append(event)
        except Refused as exc:
            out.rejected[event.id] = str(exc)
    pointed = {p for e in held.values() for p in e.parents}
    out.heads = sorted((e for e in held.values() if e.id not in pointed), key=lambda e: e.key)
    return out


def extend(
    workspace: str, state: dict[str, Any], parents: list[Event], event: Event
) -> tuple[dict[str, Any], str | None]:
    """A node's own new event, made on all its heads, sorts after every event it holds:
    folding it is applying it to the state so far, which this changes in place. Returns
    the state and None, or why the event is rejected (then the caller drops the state:
    the checks come before the changes, but a copy would cost more than the fold)."""
    try:
        _check_link(workspace, event, {p.id: p for p in parents}, state)
        _apply(state, event, _body(event))
    except Refused as exc:
        return state, str(exc)
    return state, None


def _check_link(
    workspace: str, event: Event, held: dict[str, Event], state: dict[str, Any]
) -> None:
    if event.type == "workspace.created":
        if state or event.parents or event.workspace or workspace_of(event) != workspace:
            raise Refused("not the event that created this workspace")
        if event.clock != 1:
            raise Refused("the creating event must have clock 1")
        return
    if event.workspace != workspace:
        raise Refused("the event belongs to another workspace")
    if not event.parents:
        raise Refused("an event must name the events before it")
    if event.clock != 1 + max(held[p].clock for p in event.parents):
        raise Refused("the clock must be one more than its parents'")
    if not state:
        raise Refused("the workspace was not created")


def _body(event: Event) -> Any:
    model = BODIES.get(event.type)
    if model is None:
        raise Refused(f"unknown event type {event.type!r}")
    try:
        return model.model_validate(event.body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise Refused(f"{where}: {first['msg']}") from None


def role_of(state: dict[str, Any], member: str, user: str) -> str | None:
    """The user's role, while their organisation is a joined member."""
    if state.get("members", {}).get(member, {}).get("status") != "joined":
        return None
    role: str | None = state["users"].get(member, {}).get(user)
    return role


def _require(state: dict[str, Any], event: Event, roles: tuple[str, ...]) -> None:
    role = role_of(state, event.author, event.user)
    if role is None:
        raise Refused(f"{event.actor} is not a member of the workspace")
    if role not in roles:
        raise Refused(f"{event.actor} is {role}; this needs {' or '.join(roles)}")


def _require_owning(state: dict[str, Any], event: Event) -> None:
    _require(state, event, ("owner",))
    if event.author != state["owner"]:
        raise Refused(f"only owners at {state['owner']}, which owns the workspace, may do this")


def _label_within(label: str, ceiling: str) -> None:
    if label not in TLP:
        raise Refused(f"{label!r} is not a TLP 2.0 label")
    if TLP.index(label) > TLP.index(ceiling):
        raise Refused(f"{label} is above the workspace ceiling {ceiling}")


def _apply(state: dict[str, Any], e: Event, body: Any) -> None:
    t = e.type
    if t == "workspace.created":
        _label_within(body.classification, body.ceiling)
        state.update(
            id=workspace_of(e),
            name=body.name,
            purpose=body.purpose,
            owner=e.author,
            classification=body.classification,
            ceiling=body.ceiling,
            retention_days=body.retention_days,
            agreement=body.agreement,
            created_at=e.at,
            created_by=e.actor,
            members={e.author: {"status": "joined", "since": e.at}},
            users={e.author: {e.user: "owner"}},
            documents={},
            comments=[],
            tasks={},
            milestones={},
            decisions=[],
        )
        return
    members = state["members"]
    if t == "workspace.updated":
        _require_owning(state, e)
        for name, value in body.model_dump(exclude_unset=True).items():
            state[name] = value
    elif t == "member.invited":
        _require_owning(state, e)
        if members.get(body.member, {}).get("status") in ("joined", "invited"):
            raise Refused(f"{body.member} is already {members[body.member]['status']}")
        members[body.member] = {"status": "invited", "since": e.at, "by": e.actor}
    elif t == "member.joined":
        if members.get(e.author, {}).get("status") != "invited":
            raise Refused(f"{e.author} was not invited")
        members[e.author] = {"status": "joined", "since": e.at}
        state["users"][e.author] = {e.user: "owner"}
    elif t == "member.left":
        _require(state, e, ("owner",))
        if e.author == state["owner"]:
            raise Refused("the owning member cannot leave its workspace")
        members[e.author] = {"status": "left", "since": e.at}
    elif t == "member.removed":
        _require_owning(state, e)
        if body.member == state["owner"] or members.get(body.member, {}).get("status") not in (
            "joined",
            "invited",
        ):
            raise Refused(f"{body.member} cannot be removed")
        members[body.member] = {"status": "removed", "since": e.at, "by": e.actor}
    elif t == "user.admitted":
        _require(state, e, ("owner",))
        if body.user == e.user:
            raise Refused("nobody changes their own role")
        state["users"].setdefault(e.author, {})[body.user] = body.role
    elif t == "content.purged":
        _purge(state, e, body.before)
    elif t == "user.removed":
        _require(state, e, ("owner",))
        if body.user == e.user or body.user not in state["users"].get(e.author, {}):
            raise Refused(f"{body.user} cannot be removed")
        del state["users"][e.author][body.user]
    else:
        _require(state, e, WRITERS)
        _apply_content(state, e, body)


def _purge(state: dict[str, Any], e: Event, before: str) -> None:
    """Retention: the owning member's node removes content older than the retention
    period, on every node alike. Comments and decisions go; document versions keep
    only their number, hash, size, author and time (a later version can still follow);
    tasks and milestones stay."""
    if e.author != state["owner"]:
        raise Refused("only the owning member's node purges content")
    days = state.get("retention_days")
    if not days:
        raise Refused("the workspace has no retention period")
    limit = (parse_stamp(e.at) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if before > limit:
        raise Refused(f"content younger than {days} days is kept")
    if before <= state.get("purged_before", ""):
        return
    state["purged_before"] = before
    state["comments"] = [c for c in state["comments"] if c["at"] >= before]
    state["decisions"] = [d for d in state["decisions"] if d["at"] >= before]
    for doc in state["documents"].values():
        doc["versions"] = [_purged(v) if v["at"] < before else v for v in doc["versions"]]


def _purged(version: dict[str, Any]) -> dict[str, Any]:
    kept = ("n", "sha256", "size", "by", "at", "event")
    return {**{k: version[k] for k in kept}, "purged": True}


def _apply_content(state: dict[str, Any], e: Event, body: Any) -> None:
    t = e.type
    if e.at < state.get("purged_before", "") and t in ("comment.posted", "decision.recorded"):
        return  # made before the purge's cut-off: already past retention
    documents, tasks, milestones = state["documents"], state["tasks"], state["milestones"]
    if t in ("document.uploaded", "document.versioned"):
        version = {
            "n": 1,
            "filename": body.filename,
            "content_type": body.content_type,
            "size": body.size,
            "sha256": body.sha256,
            "comment": body.comment,
            "by": e.actor,
            "at": e.at,
            "event": e.id,
        }
        if t == "document.uploaded":
            _label_within(body.classification, state["ceiling"])
            documents[e.id] = {
                "title": body.title,
                "classification": body.classification,
                "versions": [version],
            }
        else:
            doc = documents.get(body.document)
            if doc is None:
                raise Refused("no such document")
            version["n"] = len(doc["versions"]) + 1
            doc["versions"].append(version)
        if e.at < state.get("purged_before", ""):
            doc = documents[e.id if t == "document.uploaded" else body.document]
            doc["versions"][-1] = _purged(doc["versions"][-1])
    elif t == "comment.posted":
        if body.thread != WORKSPACE_THREAD and body.thread not in documents | tasks:
            raise Refused("no such thread")
        state["comments"].append(
            {
                "id": e.id,
                "thread": body.thread,
                "text": body.text,
                "mentions": list(body.mentions),
                "by": e.actor,
                "at": e.at,
            }
        )
    elif t == "task.created":
        task = {
            "title": body.title,
            "description": "",
            "assignee_member": None,
            "assignee_user": None,
            "due": None,
            "milestone": None,
            "status": "open",
            "created_by": e.actor,
            "created_at": e.at,
            "updated_at": e.at,
            "completed_at": None,
        }
        _task_changes(state, task, body.model_dump(exclude_unset=True), e)
        tasks[e.id] = task
    elif t in ("task.updated", "task.completed"):
        task = tasks.get(body.task)
        if task is None:
            raise Refused("no such task")
        changes = (
            body.changes.model_dump(exclude_unset=True)
            if t == "task.updated"
            else {"status": "done"}
        )
        _task_changes(state, task, changes, e)
    elif t == "milestone.created":
        milestone = {"title": body.title, "description": "", "due": None, "created_at": e.at}
        milestone.update(_dates(body.model_dump(exclude_unset=True)))
        milestones[e.id] = milestone
    elif t == "milestone.updated":
        milestone = milestones.get(body.milestone)
        if milestone is None:
            raise Refused("no such milestone")
        milestone.update(_dates(body.changes.model_dump(exclude_unset=True)))
    elif t == "decision.recorded":
        state["decisions"].append(
            {"id": e.id, "title": body.title, "text": body.text, "by": e.actor, "at": e.at}
        )


def _dates(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in changes.items()}


def _task_changes(
    state: dict[str, Any], task: dict[str, Any], changes: dict[str, Any], e: Event
) -> None:
    changes = _dates(changes)
    member = changes.get("assignee_member")
    if member is not None and member not in state["members"]:
        raise Refused(f"{member} is not a member organisation of the workspace")
    if changes.get("milestone") is not None and changes["milestone"] not in state["milestones"]:
        raise Refused("no such milestone")
    if changes.get("assignee_user") is not None and not re.match(_USER, changes["assignee_user"]):
        raise Refused("the assignee user name is not valid")
    task.update(changes)
    task["updated_at"] = e.at
    if "status" in changes:
        task["completed_at"] = e.at if changes["status"] == "done" else None
