"""Portal pages of the service gateway: this node's services with their endpoints and
access rights, registering a service, and the call log with each call's details."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from jembatan.accounts.roles import allows
from jembatan.errors import Forbidden, InvalidInput, JembatanError
from jembatan.gateway import endpoints as patterns
from jembatan.gateway import services
from jembatan.ledger.entries import user_actor
from jembatan.web.pages import Pages, error_text, redirect
from jembatan.web.security import PortalUser, csrf_protect, node_of, portal_user

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
Official = Annotated[PortalUser, Depends(portal_user)]
READ = "services:read"
WRITE = "services:write"
ROLES = ("consumer", "provider")  # the call log's two sides: outgoing and incoming
METHOD_CHOICES = (patterns.ANY_METHOD, *patterns.METHODS)


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def _may(who: PortalUser, permission: str) -> None:
    if not allows(who.user.role, permission):
        raise Forbidden("your role may not do this")


def _name(subsystem: str, code: str) -> str:
    return f"{subsystem}/{code}"


def _url(subsystem: str, code: str) -> str:
    return f"/services/{subsystem}/{code}"


# The list and registering --------------------------------------------------------------


@router.get("/services", response_class=HTMLResponse)
def service_list(request: Request, who: Official) -> Response:
    _may(who, READ)
    return _pages(request).render(
        request,
        "gateway/list.html",
        items=services.list_services(node_of(request)),
        may_write=allows(who.user.role, WRITE),
    )


def _form(
    request: Request, status: int = 200, error: str = "", form: dict[str, object] | None = None
) -> Response:
    return _pages(request).render(
        request,
        "gateway/new.html",
        status=status,
        error=error,
        subsystems=services.own_subsystems(node_of(request)),
        form=form or {},
    )


@router.get("/services/new", response_class=HTMLResponse)
def new(request: Request, who: Official) -> Response:
    _may(who, WRITE)
    return _form(request)


def _endpoint_lines(text: str) -> list[tuple[str, str]]:
    """One endpoint a line, as "METHOD PATH"; the service checks each."""
    found = []
    for line in text.splitlines():
        if line.strip():
            method, _, path = line.strip().partition(" ")
            found.append((method, path.strip()))
    return found


def _timeout(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInput("the timeout must be 1 to 3600 seconds") from None


@router.post("/services")
def create(
    request: Request,
    who: Official,
    subsystem: Annotated[str, Form(max_length=255)],
    code: Annotated[str, Form(max_length=255)],
    base_url: Annotated[str, Form(max_length=500)],
    title: Annotated[str, Form(max_length=200)] = "",
    timeout_seconds: Annotated[str, Form(max_length=10)] = "60",
    openapi: Annotated[str, Form(max_length=1_000_000)] = "",
    endpoints: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    _may(who, WRITE)
    node = node_of(request)
    try:
        service = services.add_service(
            node,
            subsystem,
            code.strip(),
            base_url.strip(),
            title=title,
            openapi=openapi.strip() or None,
            endpoints=_endpoint_lines(endpoints),
            timeout_seconds=_timeout(timeout_seconds),
        )
    except JembatanError as exc:
        form: dict[str, object] = {
            "subsystem": subsystem,
            "code": code,
            "title": title,
            "base_url": base_url,
            "timeout_seconds": timeout_seconds,
            "openapi": openapi,
            "endpoints": endpoints,
        }
        return _form(request, exc.status, error_text(request, exc), form)
    services.publish(node)
    return redirect(_url(service.subsystem, service.code), "created")


# The call log (before /services/{subsystem}/{code}, which would shadow it) -------------


@router.get("/services/calls", response_class=HTMLResponse)
def call_log(
    request: Request,
    who: Official,
    role: str = "",
    service: str = "",
    client: str = "",
    errors: bool = False,
) -> Response:
    _may(who, READ)
    role = role if role in ROLES else ""
    service, client = service.strip(), client.strip()
    items = services.calls(
        node_of(request),
        role=role or None,
        service=service or None,
        client=client or None,
        errors_only=errors,
    )
    query = {"role": role, "service": service, "client": client, "errors": errors}
    return _pages(request).render(request, "gateway/calls.html", items=items, query=query)


@router.get("/services/calls/{role}/{request_id}", response_class=HTMLResponse)
def call_page(request: Request, who: Official, role: str, request_id: str) -> Response:
    _may(who, READ)
    found = services.call(node_of(request), request_id, role)
    return _pages(request).render(
        request,
        "gateway/call.html",
        c=found,
        may_read_ledger=allows(who.user.role, "ledger:read"),
    )


# One service -------------------------------------------------------------------------------


def _detail(
    request: Request, who: PortalUser, subsystem: str, code: str, status: int = 200, error: str = ""
) -> Response:
    view = services.get(node_of(request), _name(subsystem, code))
    return _pages(request).render(
        request,
        "gateway/detail.html",
        status=status,
        error=error,
        view=view,
        s=view.service,
        url=_url(view.service.subsystem, view.service.code),
        methods=METHOD_CHOICES,
        may_write=allows(who.user.role, WRITE),
    )


@router.get("/services/{subsystem}/{code}", response_class=HTMLResponse)
def detail(request: Request, who: Official, subsystem: str, code: str) -> Response:
    _may(who, READ)
    return _detail(request, who, subsystem, code)


def _failed(
    request: Request, who: PortalUser, subsystem: str, code: str, exc: JembatanError
) -> Response:
    return _detail(request, who, subsystem, code, exc.status, error_text(request, exc))


@router.post("/services/{subsystem}/{code}/state")
def set_state(
    request: Request,
    who: Official,
    subsystem: str,
    code: str,
    enabled: Annotated[bool, Form()],
) -> Response:
    _may(who, WRITE)
    node = node_of(request)
    try:
        services.change_service(node, _name(subsystem, code), enabled=enabled)
    except JembatanError as exc:
        return _failed(request, who, subsystem, code, exc)
    services.publish(node)
    return redirect(_url(subsystem, code), "saved")


@router.post("/services/{subsystem}/{code}/endpoints")
def set_endpoint(
    request: Request,
    who: Official,
    subsystem: str,
    code: str,
    method: Annotated[str, Form(max_length=10)],
    path: Annotated[str, Form(max_length=500)],
    enabled: Annotated[bool, Form()] = True,
) -> Response:
    _may(who, WRITE)
    try:
        services.set_endpoint(node_of(request), _name(subsystem, code), method, path, enabled)
    except JembatanError as exc:
        return _failed(request, who, subsystem, code, exc)
    return redirect(_url(subsystem, code), "saved")


@router.post("/services/{subsystem}/{code}/access")
def grant(
    request: Request,
    who: Official,
    subsystem: str,
    code: str,
    client: Annotated[str, Form(max_length=800)],
    endpoint: Annotated[str, Form(max_length=520)] = "",
) -> Response:
    _may(who, WRITE)
    node = node_of(request)
    actor = user_actor(node.member_id, who.user.username)
    try:
        services.grant(node, _name(subsystem, code), client, actor, endpoint or None)
    except JembatanError as exc:
        return _failed(request, who, subsystem, code, exc)
    return redirect(_url(subsystem, code), "saved")


@router.post("/services/{subsystem}/{code}/access/revoke")
def revoke(
    request: Request,
    who: Official,
    subsystem: str,
    code: str,
    client: Annotated[str, Form(max_length=800)],
    endpoint: Annotated[str, Form(max_length=520)] = "",
) -> Response:
    _may(who, WRITE)
    try:
        services.revoke(node_of(request), _name(subsystem, code), client, endpoint or None)
    except JembatanError as exc:
        return _failed(request, who, subsystem, code, exc)
    return redirect(_url(subsystem, code), "revoked")


@router.post("/services/{subsystem}/{code}/remove")
def remove(
    request: Request,
    who: Official,
    subsystem: str,
    code: str,
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    _may(who, WRITE)
    node = node_of(request)
    try:
        if not confirm:
            raise InvalidInput("tick the box to confirm that the service is to be removed")
        services.remove_service(node, _name(subsystem, code))
    except JembatanError as exc:
        return _failed(request, who, subsystem, code, exc)
    services.publish(node)
    return redirect("/services", "saved")
