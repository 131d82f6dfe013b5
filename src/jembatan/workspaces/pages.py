"""Portal pages of workspaces: the list with invitations, and one workspace's overview
(progress, members, activity), documents with versions, discussion, tasks and milestones,
decisions and members. A refused form is shown again with its values and the reason."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from jembatan.accounts.roles import allows
from jembatan.errors import Forbidden, JembatanError, NotFound
from jembatan.exchange.envelope import TLP, cleared_labels
from jembatan.web.pages import Pages, error_text, redirect
from jembatan.web.security import PortalUser, csrf_protect, node_of, portal_user
from jembatan.workspaces import fold, services
from jembatan.workspaces.api import archive_response, version_response
from jembatan.workspaces.services import HIGHEST_LABEL, Person

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
Official = Annotated[PortalUser, Depends(portal_user)]
READ, WRITE = "workspaces:read", "workspaces:write"
SECTIONS = ("overview", "documents", "discussion", "tasks", "decisions", "members", "activity")


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def _person(who: PortalUser, permission: str = READ) -> Person:
    if not allows(who.user.role, permission):
        raise Forbidden("your role may not do this")
    return Person.of(who.user)


def _labels(person: Person, highest: str = HIGHEST_LABEL) -> list[str]:
    return [t for t in cleared_labels(person.clearance) if TLP.index(t) <= TLP.index(highest)]


@router.get("/workspaces", response_class=HTMLResponse)
def workspace_list(request: Request, who: Official) -> Response:
    return _list(request, who)


def _list(
    request: Request, who: PortalUser, status: int = 200, error: str = "", form: Any = None
) -> Response:
    person = _person(who)
    node = node_of(request)
    views = services.list_workspaces(node, person)
    return _pages(request).render(
        request,
        "workspaces/list.html",
        status=status,
        mine=[v for v in views if v.role],
        invitations=[v for v in views if not v.role],
        may_write=allows(who.user.role, WRITE),
        labels=_labels(person),
        unread=len(services.notifications(node, person, unread_only=True)),
        error=error,
        form=form or {},
    )


@router.post("/workspaces")
def create(
    request: Request,
    who: Official,
    name: Annotated[str, Form(max_length=200)],
    purpose: Annotated[str, Form(max_length=4000)] = "",
    classification: Annotated[str, Form()] = "TLP:AMBER",
    ceiling: Annotated[str, Form()] = "",
    retention_days: Annotated[str, Form()] = "",
    agreement: Annotated[str, Form()] = "",
) -> Response:
    person = _person(who, WRITE)
    node = node_of(request)
    try:
        days = int(retention_days) if retention_days.strip() else None
        wid = services.create(
            node,
            person,
            name,
            purpose,
            classification,
            ceiling or None,
            days,
            agreement.strip() or None,
        )
    except (JembatanError, ValueError) as exc:
        text = error_text(request, exc) if isinstance(exc, JembatanError) else str(exc)
        form = {
            "name": name,
            "purpose": purpose,
            "classification": classification,
            "ceiling": ceiling,
            "retention_days": retention_days,
            "agreement": agreement,
        }
        return _list(request, who, getattr(exc, "status", 422), text, form)
    return redirect(f"/workspaces/{wid}", "created")


@router.get("/workspaces/search", response_class=HTMLResponse)
def search_page(request: Request, who: Official, q: str = "") -> Response:
    person = _person(who)
    hits = services.find_text(node_of(request), person, q) if q.strip() else []
    return _pages(request).render(request, "workspaces/search.html", q=q, hits=hits)


@router.get("/workspaces/notifications", response_class=HTMLResponse)
def notification_list(request: Request, who: Official) -> Response:
    person = _person(who)
    node = node_of(request)
    items = services.notifications(node, person)
    return _pages(request).render(request, "workspaces/notifications.html", items=items)


@router.post("/workspaces/notifications/read")
def notifications_read(request: Request, who: Official) -> Response:
    services.mark_read(node_of(request), _person(who))
    return redirect("/workspaces/notifications", "saved")


def _show(
    request: Request,
    who: PortalUser,
    ws: str,
    section: str = "overview",
    status: int = 200,
    error: str = "",
    form: Any = None,
    item: str = "",
) -> Response:
    person = _person(who)
    node = node_of(request)
    wid = services.resolve(node, ws)
    view = services.get(node, wid, person)
    state = view.state
    context: dict[str, Any] = {}
    if view.role is not None:
        context["progress"] = services.progress(state, date.today().isoformat())
        if section == "activity" or section == "overview":
            context["events"] = services.history(node, wid, 100 if section == "activity" else 10)
        if item:
            items = {**state.get("documents", {}), **state.get("tasks", {})}
            context["item_id"] = services.find(items, item, "document or task")
        context["threads"] = _threads(state)
    return _pages(request).render(
        request,
        "workspaces/workspace.html",
        status=status,
        view=view,
        state=state,
        section=section,
        may_write=allows(who.user.role, WRITE) and view.role in fold.WRITERS,
        may_own=allows(who.user.role, WRITE) and view.role == "owner",
        may_join=allows(who.user.role, WRITE) and view.role is None,
        labels=_labels(person, state.get("ceiling") or HIGHEST_LABEL),
        statuses=fold.STATUSES,
        roles=fold.ROLES,
        me=node.member_id,
        error=error,
        form=form or {},
        **context,
    )


def _threads(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for comment in state.get("comments", []):
        out.setdefault(comment["thread"], []).append(comment)
    return out


@router.get("/workspaces/{ws}", response_class=HTMLResponse)
def overview(request: Request, who: Official, ws: str) -> Response:
    return _show(request, who, ws)


@router.get("/workspaces/{ws}/{section}", response_class=HTMLResponse)
def section_page(request: Request, who: Official, ws: str, section: str) -> Response:
    if section not in SECTIONS:
        raise NotFound("no such page")
    return _show(request, who, ws, section)


@router.get("/workspaces/{ws}/documents/{document}", response_class=HTMLResponse)
def document_page(request: Request, who: Official, ws: str, document: str) -> Response:
    return _show(request, who, ws, "document", item=document)


@router.get("/workspaces/{ws}/tasks/{task}", response_class=HTMLResponse)
def task_page(request: Request, who: Official, ws: str, task: str) -> Response:
    return _show(request, who, ws, "task", item=task)


def _act(
    request: Request,
    who: PortalUser,
    ws: str,
    section: str,
    action: str,
    form: dict[str, Any],
    item: str = "",
    **kwargs: Any,
) -> Response:
    """Run one action as the official; on refusal show the page again with the reason."""
    person = _person(who, WRITE)
    node = node_of(request)
    try:
        wid = services.resolve(node, ws)
        event = getattr(services, action)(node, wid, person, **kwargs)
    except JembatanError as exc:
        return _show(request, who, ws, section, exc.status, error_text(request, exc), form, item)
    target = {"document": f"documents/{item}", "task": f"tasks/{item}"}.get(section, section)
    if section == "documents" and action == "upload":
        target = f"documents/{event.id}"
    if section == "tasks" and action == "add_task":
        target = "tasks"
    return redirect(f"/workspaces/{wid}/{target}", "saved")


@router.post("/workspaces/{ws}/join")
def join(request: Request, who: Official, ws: str) -> Response:
    return _act(request, who, ws, "overview", "join", {})


@router.post("/workspaces/{ws}/leave")
def leave(request: Request, who: Official, ws: str) -> Response:
    return _act(request, who, ws, "members", "leave", {})


@router.post("/workspaces/{ws}/invite")
def invite(request: Request, who: Official, ws: str, member: Annotated[str, Form()]) -> Response:
    return _act(request, who, ws, "members", "invite", {"member": member}, member=member)


@router.post("/workspaces/{ws}/admit")
def admit(
    request: Request,
    who: Official,
    ws: str,
    username: Annotated[str, Form()],
    role: Annotated[str, Form()] = "editor",
) -> Response:
    form = {"username": username, "role": role}
    return _act(request, who, ws, "members", "admit", form, username=username, role=role)


@router.post("/workspaces/{ws}/comment")
def comment(
    request: Request,
    who: Official,
    ws: str,
    text: Annotated[str, Form(max_length=10000)],
    thread: Annotated[str, Form()] = "",
) -> Response:
    section, item = "discussion", ""
    if thread:
        node = node_of(request)
        state = services.get(node, services.resolve(node, ws), _person(who)).state
        section = "document" if thread in state.get("documents", {}) else "task"
        item = thread
    form = {"text": text}
    return _act(request, who, ws, section, "comment", form, item, text=text, thread=thread)


@router.post("/workspaces/{ws}/tasks")
def add_task(
    request: Request,
    who: Official,
    ws: str,
    title: Annotated[str, Form(max_length=300)],
    description: Annotated[str, Form(max_length=4000)] = "",
    assignee_member: Annotated[str, Form()] = "",
    assignee_user: Annotated[str, Form()] = "",
    due: Annotated[str, Form()] = "",
    milestone: Annotated[str, Form()] = "",
) -> Response:
    form = {
        "title": title,
        "description": description,
        "assignee_member": assignee_member,
        "assignee_user": assignee_user,
        "due": due,
        "milestone": milestone,
    }
    return _act(
        request,
        who,
        ws,
        "tasks",
        "add_task",
        form,
        "",
        **{k: (v.strip() or None) if k != "title" else v for k, v in form.items()},
    )


@router.post("/workspaces/{ws}/tasks/{task}")
def update_task(
    request: Request,
    who: Official,
    ws: str,
    task: str,
    title: Annotated[str, Form(max_length=300)] = "",
    status: Annotated[str, Form()] = "",
    due: Annotated[str, Form()] = "",
    assignee_member: Annotated[str, Form()] = "",
    assignee_user: Annotated[str, Form()] = "",
) -> Response:
    form = {
        "title": title,
        "status": status,
        "due": due,
        "assignee_member": assignee_member,
        "assignee_user": assignee_user,
    }
    changes = {k: v.strip() or None for k, v in form.items()}
    return _act(request, who, ws, "task", "update_task", form, task, task=task, **changes)


@router.post("/workspaces/{ws}/tasks/{task}/done")
def complete_task(request: Request, who: Official, ws: str, task: str) -> Response:
    return _act(request, who, ws, "task", "complete_task", {}, task, task=task)


@router.post("/workspaces/{ws}/milestones")
def add_milestone(
    request: Request,
    who: Official,
    ws: str,
    title: Annotated[str, Form(max_length=300)],
    due: Annotated[str, Form()] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    form = {"m_title": title, "m_due": due, "m_description": description}
    return _act(
        request,
        who,
        ws,
        "tasks",
        "add_milestone",
        form,
        title=title,
        due=due.strip() or None,
        description=description,
    )


@router.post("/workspaces/{ws}/decisions")
def add_decision(
    request: Request,
    who: Official,
    ws: str,
    title: Annotated[str, Form(max_length=300)],
    text: Annotated[str, Form(max_length=10000)],
) -> Response:
    form = {"title": title, "text": text}
    return _act(request, who, ws, "decisions", "record_decision", form, title=title, text=text)


@router.post("/workspaces/{ws}/documents")
async def upload(
    request: Request,
    who: Official,
    ws: str,
    file: UploadFile,
    title: Annotated[str, Form(max_length=300)] = "",
    classification: Annotated[str, Form()] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
    document: Annotated[str, Form()] = "",
) -> Response:
    """The form parser spools the file to disk; it is then streamed into the store."""
    form = {"title": title, "classification": classification, "comment": comment}
    section = "document" if document else "documents"
    return await run_in_threadpool(
        _act,
        request,
        who,
        ws,
        section,
        "upload",
        form,
        document,
        source=file.file,
        filename=file.filename or "file",
        content_type=file.content_type or "application/octet-stream",
        title=title or None,
        classification=classification or None,
        comment=comment,
        document=document or None,
    )


@router.get("/workspaces/{ws}/documents/{document}/versions/{version}")
def download(request: Request, who: Official, ws: str, document: str, version: int) -> Response:
    node = node_of(request)
    return version_response(node, services.resolve(node, ws), _person(who), document, version)


@router.get("/workspaces/{ws}/export.zip")
def export_archive(request: Request, who: Official, ws: str) -> Response:
    node = node_of(request)
    return archive_response(node, services.resolve(node, ws), _person(who))
