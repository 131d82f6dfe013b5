"""Workspaces over HTTP (`/api/v1/workspaces/...`): everything the portal does, for
agencies' own systems. Writes act as the token's user, within their workspace role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from jembatan.errors import InvalidInput
from jembatan.identifiers import uuid7
from jembatan.node.context import Node
from jembatan.web.security import ApiCaller, node_of, require_scope
from jembatan.workspaces import export, notify, services
from jembatan.workspaces.documents import (
    event_doc,
    hit_doc,
    notification_doc,
    summary_doc,
    workspace_doc,
)
from jembatan.workspaces.events import Event
from jembatan.workspaces.services import Person

router = APIRouter(prefix="/api/v1/workspaces", tags=["workspaces"])
Reader = Annotated[ApiCaller, Depends(require_scope("workspaces:read"))]
Writer = Annotated[ApiCaller, Depends(require_scope("workspaces:write"))]


def _who(caller: ApiCaller) -> Person:
    return Person.of(caller.user)


def _ws(node: Node, ref: str) -> str:
    return services.resolve(node, ref)


def _event(event: Event) -> dict[str, Any]:
    return {"event": event.id, "type": event.type}


class NewWorkspace(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    purpose: str = Field(default="", max_length=4000)
    classification: str = "TLP:AMBER"
    ceiling: str | None = None
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    agreement: str | None = None


class Settings(BaseModel):
    name: str | None = None
    purpose: str | None = None
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    agreement: str | None = None


class Invitation(BaseModel):
    member: str


class Admission(BaseModel):
    user: str
    role: str = "editor"


class NewTask(BaseModel):
    title: str
    description: str = ""
    assignee_member: str | None = None
    assignee_user: str | None = None
    due: str | None = None
    milestone: str | None = None


class TaskChange(BaseModel):
    title: str | None = None
    description: str | None = None
    assignee_member: str | None = None
    assignee_user: str | None = None
    due: str | None = None
    milestone: str | None = None
    status: str | None = None


class NewMilestone(BaseModel):
    title: str
    due: str | None = None
    description: str = ""


class NewComment(BaseModel):
    text: str
    thread: str = ""


class NewDecision(BaseModel):
    title: str
    text: str


@router.get("", summary="Workspaces the caller may see, with their state hashes")
def list_workspaces(request: Request, caller: Reader) -> list[dict[str, Any]]:
    return [summary_doc(v) for v in services.list_workspaces(node_of(request), _who(caller))]


@router.post("", status_code=201, summary="Create a workspace owned by this node's member")
def create(request: Request, caller: Writer, body: NewWorkspace) -> dict[str, Any]:
    node = node_of(request)
    wid = services.create(
        node,
        _who(caller),
        body.name,
        body.purpose,
        body.classification,
        body.ceiling,
        body.retention_days,
        body.agreement,
    )
    return summary_doc(services.get(node, wid, _who(caller)))


@router.get("/notifications", summary="The caller's notifications, newest first")
def notifications(request: Request, caller: Reader, unread: bool = False) -> list[dict[str, Any]]:
    rows = services.notifications(node_of(request), _who(caller), unread)
    return [notification_doc(n) for n in rows]


@router.post("/notifications/read", summary="Mark all the caller's notifications read")
def notifications_read(request: Request, caller: Reader) -> dict[str, int]:
    return {"marked": services.mark_read(node_of(request), _who(caller))}


@router.get("/search", summary="Search everything the caller may see")
def find(request: Request, caller: Reader, q: str = "", limit: int = 50) -> list[dict[str, Any]]:
    """Documents (with their text), comments, tasks, milestones and decisions of the
    workspaces the caller is admitted to, up to their clearance, best first."""
    hits = services.find_text(node_of(request), _who(caller), q, limit)
    return [hit_doc(h) for h in hits]


@router.get("/{ws}", summary="One workspace: members, documents, tasks, discussion")
def show(request: Request, caller: Reader, ws: str) -> dict[str, Any]:
    node = node_of(request)
    return workspace_doc(services.get(node, _ws(node, ws), _who(caller)))


@router.patch("/{ws}", summary="Change a workspace's name, purpose, retention or agreement")
def change(request: Request, caller: Writer, ws: str, body: Settings) -> dict[str, Any]:
    node = node_of(request)
    changes = body.model_dump(exclude_none=True)
    return _event(services.update_settings(node, _ws(node, ws), _who(caller), **changes))


@router.get("/{ws}/events", summary="The workspace's events as this node holds them")
def list_events(request: Request, caller: Reader, ws: str, limit: int = 50) -> list[dict[str, Any]]:
    node = node_of(request)
    wid = _ws(node, ws)
    view = services.get(node, wid, _who(caller))
    if view.role is None:
        raise InvalidInput("accept the invitation first")
    return [event_doc(r) for r in services.history(node, wid, min(limit, 500))]


@router.get("/{ws}/progress", summary="Share done per milestone, overdue tasks")
def progress(request: Request, caller: Reader, ws: str) -> dict[str, Any]:
    node = node_of(request)
    view = services.get(node, _ws(node, ws), _who(caller))
    return services.progress(view.state, date.today().isoformat())


@router.post("/{ws}/invitations", status_code=201, summary="Invite a member organisation")
def invite(request: Request, caller: Writer, ws: str, body: Invitation) -> dict[str, Any]:
    node = node_of(request)
    return _event(services.invite(node, _ws(node, ws), _who(caller), body.member))


@router.post("/{ws}/join", status_code=201, summary="Accept our organisation's invitation")
def join(request: Request, caller: Writer, ws: str) -> dict[str, Any]:
    node = node_of(request)
    return _event(services.join(node, _ws(node, ws), _who(caller)))


@router.post("/{ws}/leave", status_code=201, summary="Take our organisation out")
def leave(request: Request, caller: Writer, ws: str) -> dict[str, Any]:
    node = node_of(request)
    return _event(services.leave(node, _ws(node, ws), _who(caller)))


@router.post("/{ws}/users", status_code=201, summary="Admit one of our users with a role")
def admit(request: Request, caller: Writer, ws: str, body: Admission) -> dict[str, Any]:
    node = node_of(request)
    return _event(services.admit(node, _ws(node, ws), _who(caller), body.user, body.role))


@router.post("/{ws}/tasks", status_code=201, summary="Add a task")
def add_task(request: Request, caller: Writer, ws: str, body: NewTask) -> dict[str, Any]:
    node = node_of(request)
    event = services.add_task(node, _ws(node, ws), _who(caller), **body.model_dump())
    return {**_event(event), "task": event.id}


@router.patch("/{ws}/tasks/{task}", summary="Change a task")
def update_task(
    request: Request, caller: Writer, ws: str, task: str, body: TaskChange
) -> dict[str, Any]:
    node = node_of(request)
    return _event(
        services.update_task(node, _ws(node, ws), _who(caller), task, **body.model_dump())
    )


@router.post("/{ws}/tasks/{task}/done", summary="Mark a task done")
def complete_task(request: Request, caller: Writer, ws: str, task: str) -> dict[str, Any]:
    node = node_of(request)
    return _event(services.complete_task(node, _ws(node, ws), _who(caller), task))


@router.post("/{ws}/milestones", status_code=201, summary="Add a milestone")
def add_milestone(request: Request, caller: Writer, ws: str, body: NewMilestone) -> dict[str, Any]:
    node = node_of(request)
    event = services.add_milestone(
        node, _ws(node, ws), _who(caller), body.title, body.due, body.description
    )
    return {**_event(event), "milestone": event.id}


@router.post("/{ws}/comments", status_code=201, summary="Post to a discussion thread")
def add_comment(request: Request, caller: Writer, ws: str, body: NewComment) -> dict[str, Any]:
    node = node_of(request)
    return _event(services.comment(node, _ws(node, ws), _who(caller), body.text, body.thread))


@router.post("/{ws}/decisions", status_code=201, summary="Record a decision")
def add_decision(request: Request, caller: Writer, ws: str, body: NewDecision) -> dict[str, Any]:
    node = node_of(request)
    return _event(
        services.record_decision(node, _ws(node, ws), _who(caller), body.title, body.text)
    )


async def _file(request: Request) -> tuple[UploadFile, dict[str, str]]:
    """multipart/form-data with `file` (spooled to disk by the parser, never held whole)
    and optional `title`, `classification`, `comment`."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "multipart/form-data":
        raise InvalidInput("send the document as multipart/form-data with a 'file' field")
    form = await request.form(max_part_size=64 * 1024)
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        raise InvalidInput("the form has no 'file'")
    fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    return upload, fields


@router.post("/{ws}/documents", status_code=201, summary="Upload a document")
async def upload(request: Request, caller: Writer, ws: str) -> dict[str, Any]:
    node = node_of(request)
    wid = _ws(node, ws)
    file, fields = await _file(request)
    event = await run_in_threadpool(
        services.upload,
        node,
        wid,
        _who(caller),
        file.file,
        file.filename or "file",
        file.content_type or "application/octet-stream",
        fields.get("title") or None,
        fields.get("classification") or None,
        fields.get("comment", ""),
    )
    return {**_event(event), "document": event.id}


@router.post("/{ws}/documents/{document}/versions", status_code=201, summary="Add a version")
async def add_version(request: Request, caller: Writer, ws: str, document: str) -> dict[str, Any]:
    node = node_of(request)
    wid = _ws(node, ws)
    file, fields = await _file(request)
    event = await run_in_threadpool(
        lambda: services.upload(
            node,
            wid,
            _who(caller),
            file.file,
            file.filename or "file",
            file.content_type or "application/octet-stream",
            comment=fields.get("comment", ""),
            document=document,
        )
    )
    return _event(event)


class NewWebhook(BaseModel):
    url: str = Field(min_length=8, max_length=2000)


@router.get("/{ws}/webhooks", summary="Endpoints told of each new event (owners)")
def list_webhooks(request: Request, caller: Writer, ws: str) -> list[dict[str, Any]]:
    node = node_of(request)
    hooks = services.list_webhooks(node, _ws(node, ws), _who(caller))
    return [notify.describe(h) for h in hooks]


@router.post("/{ws}/webhooks", status_code=201, summary="Register an endpoint (owners)")
def add_webhook(request: Request, caller: Writer, ws: str, body: NewWebhook) -> dict[str, Any]:
    """The answer carries the signing secret, once (Standard Webhooks: whsec_...)."""
    node = node_of(request)
    hook, secret = services.add_webhook(node, _ws(node, ws), _who(caller), body.url)
    return {**notify.describe(hook), "secret": secret}


@router.delete("/{ws}/webhooks/{hook_id}", status_code=204, summary="Remove an endpoint")
def remove_webhook(request: Request, caller: Writer, ws: str, hook_id: int) -> None:
    node = node_of(request)
    services.remove_webhook(node, _ws(node, ws), _who(caller), hook_id)


@router.get("/{ws}/export", summary="The workspace as a zip archive (owners only)")
def export_archive(request: Request, caller: Reader, ws: str) -> FileResponse:
    """State, signed events, the documents the caller may read, and `manifest.json` with
    the SHA-256 of every file; built in a temporary file and streamed from there."""
    node = node_of(request)
    wid = _ws(node, ws)
    return archive_response(node, wid, _who(caller))


def _spooled(
    node: Node,
    write: Callable[[BinaryIO], dict[str, Any]],
    answer: Callable[[dict[str, Any]], tuple[str, str, dict[str, str]]],
) -> FileResponse:
    """What `write` produces, in a temporary file streamed from there (constant memory);
    `answer` gives its media type, file name and headers from what `write` returned. The
    file goes when the answer is sent, or at once when writing fails."""
    path = node.blobs.temp_path(f"ws-out-{uuid7()}")
    try:
        with path.open("wb") as out:
            made = write(out)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    media_type, filename, headers = answer(made)
    return FileResponse(
        path,
        media_type=media_type,
        filename=filename,
        headers=headers,
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


def archive_response(node: Node, wid: str, person: Person) -> FileResponse:
    return _spooled(
        node,
        lambda out: export.export(node, wid, person, out),
        lambda _: ("application/zip", f"workspace-{wid}.zip", {}),
    )


def version_response(
    node: Node, wid: str, person: Person, document: str, version: int
) -> FileResponse:
    """One version's exact bytes, with their SHA-256 in X-Content-SHA256."""
    return _spooled(
        node,
        lambda out: services.download(node, wid, person, document, version, out),
        lambda v: (v["content_type"], v["filename"], {"X-Content-SHA256": v["sha256"]}),
    )


@router.get("/{ws}/documents/{document}/versions/{version}", summary="Download one version")
def download(
    request: Request, caller: Reader, ws: str, document: str, version: int
) -> FileResponse:
    node = node_of(request)
    return version_response(node, _ws(node, ws), _who(caller), document, version)
