"""Portal pages: inbox, outbox, compose, and a message with its delivery and receipts."""

from __future__ import annotations

import json
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from jembatan.accounts.roles import Role
from jembatan.accounts.tokens import parse_duration
from jembatan.agreements.rules import active as active_agreements
from jembatan.errors import Forbidden, JembatanError
from jembatan.exchange import services
from jembatan.exchange.api import BULK_THRESHOLD, payload_response
from jembatan.exchange.envelope import TLP
from jembatan.ledger import services as ledger
from jembatan.registry.membership import other_members
from jembatan.web.pages import Pages, error_text, redirect
from jembatan.web.security import PortalUser, csrf_protect, node_of, portal_user

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
Official = Annotated[PortalUser, Depends(portal_user)]
READERS = {Role.ADMIN.value, Role.OFFICER.value, Role.ANALYST.value}
SENDERS = {Role.ADMIN.value, Role.OFFICER.value}
LIFETIMES = ("1d", "7d", "30d")


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def _may(who: PortalUser, roles: set[str]) -> None:
    if who.user.role not in roles:
        raise Forbidden("your role may not do this")


@router.get("/messages", response_class=HTMLResponse)
def messages(request: Request, who: Official, box: str = "inbox") -> Response:
    _may(who, READERS)
    box = box if box in ("inbox", "outbox") else "inbox"
    node = node_of(request)
    items = services.list_messages(node, box, viewer=services.Viewer.of(node, who.user))
    return _pages(request).render(
        request,
        "exchange/list.html",
        box=box,
        items=items,
        loads=json.loads,
        may_send=who.user.role in SENDERS,
    )


def _compose(
    request: Request, status: int = 200, error: str = "", form: dict[str, object] | None = None
) -> Response:
    node = node_of(request)
    members = other_members(node)
    return _pages(request).render(
        request,
        "exchange/compose.html",
        status=status,
        error=error,
        members=members,
        labels=TLP,
        lifetimes=LIFETIMES,
        agreements=active_agreements(node),
        form=form or {},
    )


@router.get("/messages/new", response_class=HTMLResponse)
def compose(request: Request, who: Official) -> Response:
    _may(who, SENDERS)
    return _compose(request)


@router.post("/messages")
async def send(
    request: Request,
    who: Official,
    subject: Annotated[str, Form(max_length=500)],
    to: Annotated[list[str] | None, Form()] = None,
    text: Annotated[str, Form(max_length=1_000_000)] = "",
    classification: Annotated[str, Form()] = "TLP:AMBER",
    expires: Annotated[str, Form()] = "7d",
    agreement: Annotated[str, Form(max_length=64)] = "",
    readers: Annotated[str, Form(max_length=20_000)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    _may(who, SENDERS)
    node = node_of(request)
    try:
        payload: bytes | BinaryIO
        if file is not None and file.filename:
            file.file.seek(0, 2)
            large = file.file.tell() > BULK_THRESHOLD
            file.file.seek(0)
            payload = file.file if large else await file.read()
            content_type, filename = file.content_type or "application/octet-stream", file.filename
        else:
            payload, content_type, filename = text.encode(), "text/plain; charset=utf-8", None
        if expires not in LIFETIMES:
            expires = "7d"
        message = services.send(
            node,
            to or [],
            subject,
            payload,
            content_type,
            filename,
            classification,
            parse_duration(expires),
            None,
            who.user.id,
            agreement=agreement or None,
            readers=readers.split(),
        )
    except JembatanError as exc:
        error = error_text(request, exc)
        form: dict[str, object] = {
            "to": to or [],
            "subject": subject,
            "text": text,
            "classification": classification,
            "agreement": agreement,
            "readers": readers,
        }
        return _compose(request, exc.status, error, form)
    return redirect(f"/messages/{message.id}", "sent")


@router.get("/messages/{mid}", response_class=HTMLResponse)
def message(request: Request, who: Official, mid: str) -> Response:
    _may(who, READERS)
    node = node_of(request)
    found, deliveries = services.get_message(node, mid, services.Viewer.of(node, who.user))
    text = None
    if found.content_type.startswith("text/plain") and found.size <= 256 * 1024:
        text = services.read_payload(node, found).decode("utf-8", errors="replace")
    return _pages(request).render(
        request,
        "exchange/message.html",
        m=found,
        deliveries=deliveries,
        text=text,
        recipients=json.loads(found.recipients),
        loads=json.loads,
        evidence=ledger.entries_about(node, mid),
        members=other_members(node) if who.user.role in SENDERS else [],
    )


@router.post("/messages/{mid}/forward")
def forward(
    request: Request,
    who: Official,
    mid: str,
    to: Annotated[list[str] | None, Form()] = None,
) -> Response:
    _may(who, SENDERS)
    node = node_of(request)
    message = services.forward(node, mid, to or [], who.user.id, services.Viewer.of(node, who.user))
    return redirect(f"/messages/{message.id}", "sent")


@router.get("/messages/{mid}/download")
def download(request: Request, who: Official, mid: str) -> Response:
    _may(who, READERS)
    node = node_of(request)
    found, _ = services.get_message(node, mid, services.Viewer.of(node, who.user))
    return payload_response(node, found)
