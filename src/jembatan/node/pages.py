"""The dashboard: who this node is, whether it is healthy, and the official's own status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from jembatan.accounts import services, tokens
from jembatan.web.ops import readiness
from jembatan.web.pages import Pages
from jembatan.web.security import PortalUser, csrf_protect, node_of, portal_user

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, who: Annotated[PortalUser, Depends(portal_user)]) -> Response:
    node = node_of(request)
    ready, checks = readiness(request)
    blob_count, blob_bytes = node.blobs.usage()
    own_tokens = tokens.list_tokens(node, who.user.id)
    pages: Pages = request.app.state.pages
    return pages.render(
        request,
        "node/dashboard.html",
        ready=ready,
        checks=checks,
        user_count=services.count_users(node),
        blob_count=blob_count,
        blob_bytes=blob_bytes,
        active_tokens=sum(1 for t in own_tokens if tokens.token_status(t) == "active"),
        recovery_left=services.unused_recovery_codes(node, who.user.id),
    )
