"""Portal pages: the directory for everyone; join requests, keys and trusted federations
for the registry's administrators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from jembatan.accounts.roles import Role
from jembatan.errors import JembatanError
from jembatan.registry import authority, membership
from jembatan.registry.directory import TrustAnchor
from jembatan.web.pages import Pages, error_text, redirect
from jembatan.web.security import PortalUser, csrf_protect, node_of, portal_user, require_role

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
Official = Annotated[PortalUser, Depends(portal_user)]
Admin = Annotated[PortalUser, Depends(require_role(Role.ADMIN))]


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


@router.get("/directory", response_class=HTMLResponse)
def directory(request: Request, who: Official) -> Response:
    node = node_of(request)
    return _pages(request).render(
        request,
        "registry/directory.html",
        status_info=membership.directory_status(node),
        view=membership.federation(node),
        is_registry=authority.is_registry(node),
    )


def _registry_page(request: Request, status: int = 200, error: str = "") -> Response:
    node = node_of(request)
    return _pages(request).render(
        request,
        "registry/registry.html",
        status=status,
        error=error,
        requests=authority.list_requests(node, None)[:50],
        members=authority.list_members(node),
        trusted=authority.list_trusted(node),
        anchor=authority.anchor(node),
    )


@router.get("/registry", response_class=HTMLResponse)
def registry(request: Request, who: Admin) -> Response:
    return _registry_page(request)


def _act(request: Request, action: Callable[[], object]) -> Response:
    try:
        action()
    except JembatanError as exc:
        return _registry_page(request, exc.status, error_text(request, exc))
    return redirect("/registry", "saved")


@router.post("/registry/requests/{request_id}/approve")
def approve(request: Request, who: Admin, request_id: int) -> Response:
    node = node_of(request)
    return _act(request, lambda: authority.approve(node, request_id, who.user.username))


@router.post("/registry/requests/{request_id}/reject")
def reject(
    request: Request, who: Admin, request_id: int, reason: Annotated[str, Form(max_length=500)]
) -> Response:
    node = node_of(request)
    return _act(request, lambda: authority.reject(node, request_id, reason, who.user.username))


@router.post("/registry/keys/{kid}/revoke")
def revoke(
    request: Request, who: Admin, kid: str, reason: Annotated[str, Form(max_length=300)] = ""
) -> Response:
    node = node_of(request)
    return _act(request, lambda: authority.revoke_key(node, kid, reason))


@router.post("/registry/trust")
def trust(request: Request, who: Admin, anchor: Annotated[str, Form(max_length=8000)]) -> Response:
    node = node_of(request)
    return _act(request, lambda: authority.trust_instance(node, TrustAnchor.parse(anchor)))


@router.post("/registry/trust/{instance}/end")
def untrust(request: Request, who: Admin, instance: str) -> Response:
    node = node_of(request)
    return _act(request, lambda: authority.untrust_instance(node, instance))
