"""Portal pages: the audit explorer (entries, filters, proofs), checkpoint history with
cosignatures, and the witness view with alerts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from jembatan.accounts.roles import Role
from jembatan.errors import Forbidden, InvalidInput
from jembatan.ledger import services, witness
from jembatan.ledger.merkle import leaf_hash, verify_inclusion
from jembatan.ledger.models import LedgerEntry
from jembatan.web.pages import Pages
from jembatan.web.security import PortalUser, csrf_protect, node_of, portal_user

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
Official = Annotated[PortalUser, Depends(portal_user)]
# People who may read a message may also see the ledger entries about it.
MESSAGE_READERS = {Role.ADMIN.value, Role.OFFICER.value, Role.ANALYST.value}


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def _auditor(who: PortalUser) -> None:
    if who.user.role != Role.AUDITOR.value:
        raise Forbidden("only auditors may read the ledger")


def _may_see(who: PortalUser, entry: LedgerEntry) -> None:
    if who.user.role == Role.AUDITOR.value:
        return
    if who.user.role in MESSAGE_READERS and entry.type.startswith("message."):
        return
    raise Forbidden("only auditors may read the ledger")


def _day(value: str, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput("{name} must be a date as YYYY-MM-DD", name=name) from None


@router.get("/ledger", response_class=HTMLResponse)
def explorer(
    request: Request,
    who: Official,
    type: str = "",
    actor: str = "",
    subject: str = "",
    since: str = "",
    until: str = "",
    before: int | None = None,
) -> Response:
    _auditor(who)
    node = node_of(request)
    filters = services.Filters(
        type or None,
        actor.strip() or None,
        subject.strip() or None,
        _day(since, "since"),
        _day(until, "until"),
    )
    items = services.search(node, filters, limit=51, before=before)
    query = {"type": type, "actor": actor, "subject": subject, "since": since, "until": until}
    return _pages(request).render(
        request,
        "ledger/explorer.html",
        items=items[:50],
        more=items[50].leaf_index + 1 if len(items) > 50 else None,
        types=services.types(node),
        query=query,
        stats=services.stats(node),
        alerts=witness.alert_count(node),
    )


@router.get("/ledger/entries/{index}", response_class=HTMLResponse)
def entry_page(request: Request, who: Official, index: int) -> Response:
    node = node_of(request)
    found = services.entry(node, index)
    _may_see(who, found)
    leaf = leaf_hash(bytes(found.data))
    checkpoint = services.checkpoint_covering(node, index)
    proof: list[bytes] = []
    proven = False
    if checkpoint is not None:
        proof = services.prove_inclusion(node, index, checkpoint.size)
        verify_inclusion(index, checkpoint.size, leaf, proof, checkpoint.root)
        proven = True
    return _pages(request).render(
        request,
        "ledger/entry.html",
        e=found,
        pretty=json.dumps(json.loads(found.data), indent=2, ensure_ascii=False),
        leaf=services.b64([leaf])[0],
        checkpoint=checkpoint,
        proof=services.b64(proof),
        proven=proven,
        auditor=who.user.role == Role.AUDITOR.value,
    )


@router.get("/ledger/checkpoints", response_class=HTMLResponse)
def checkpoints_page(request: Request, who: Official) -> Response:
    _auditor(who)
    node = node_of(request)
    return _pages(request).render(
        request,
        "ledger/checkpoints.html",
        items=services.checkpoints(node),
        witnessed=witness.witnessed(node),
        alerts=witness.alerts(node),
    )
