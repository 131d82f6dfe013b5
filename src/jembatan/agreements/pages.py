"""Portal pages: agreements list and detail, drafting, signing, suspending, revoking."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from jembatan.agreements import services
from jembatan.errors import JembatanError
from jembatan.exchange.envelope import TLP
from jembatan.ledger.entries import user_actor
from jembatan.registry.membership import other_members
from jembatan.web.pages import Pages, error_text, redirect
from jembatan.web.security import PortalUser, csrf_protect, node_of, portal_user

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
Official = Annotated[PortalUser, Depends(portal_user)]


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def _form(
    request: Request,
    who: PortalUser,
    status: int = 200,
    error: str = "",
    form: dict[str, object] | None = None,
) -> Response:
    services.require_signer(who.user.role, node_of(request))
    node = node_of(request)
    members = other_members(node)
    return _pages(request).render(
        request,
        "agreements/new.html",
        status=status,
        error=error,
        members=members,
        labels=TLP,
        form=form or {},
    )


@router.get("/agreements", response_class=HTMLResponse)
def agreements(request: Request, who: Official) -> Response:
    node = node_of(request)
    return _pages(request).render(
        request,
        "agreements/list.html",
        items=services.list_agreements(node),
        may_sign=services.may_sign(who.user.role, node),
    )


@router.get("/agreements/new", response_class=HTMLResponse)
def new(request: Request, who: Official) -> Response:
    return _form(request, who)


@router.post("/agreements")
def create(
    request: Request,
    who: Official,
    title: Annotated[str, Form(max_length=200)],
    purpose: Annotated[str, Form(max_length=2000)],
    legal_basis: Annotated[str, Form(max_length=2000)],
    parties: Annotated[list[str] | None, Form()] = None,
    kinds: Annotated[str, Form(max_length=500)] = "message",
    legal_reference: Annotated[str, Form(max_length=500)] = "",
    ceiling: Annotated[str, Form()] = "TLP:AMBER",
    valid_days: Annotated[int, Form(ge=1, le=36500)] = 365,
    allow_fields: Annotated[str, Form(max_length=2000)] = "",
    deny_fields: Annotated[str, Form(max_length=2000)] = "",
    pseudonymise_fields: Annotated[str, Form(max_length=2000)] = "",
    remove_denied: Annotated[bool, Form()] = False,
    amends: Annotated[str, Form(max_length=64)] = "",
    one_way: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    node = node_of(request)
    services.require_signer(who.user.role, node)
    try:
        flows = [services.parse_flow(line) for line in one_way.splitlines() if line.strip()]
        held = services.draft(
            node,
            title=title,
            parties=parties or [],
            kinds=kinds.replace(",", " ").split(),
            purpose=purpose,
            legal_basis=legal_basis,
            legal_reference=legal_reference,
            ceiling=ceiling,
            valid_days=valid_days,
            allow_fields=allow_fields.replace(",", " ").split(),
            deny_fields=deny_fields.replace(",", " ").split(),
            pseudonymise_fields=pseudonymise_fields.replace(",", " ").split(),
            denied="remove" if remove_denied else "refuse",
            amends=amends or None,
            flows=flows,
            actor=user_actor(node.member_id, who.user.username),
        )
    except JembatanError as exc:
        form = {
            "amends": amends,
            "title": title,
            "purpose": purpose,
            "legal_basis": legal_basis,
            "parties": parties or [],
            "kinds": kinds,
            "legal_reference": legal_reference,
            "ceiling": ceiling,
            "valid_days": valid_days,
            "allow_fields": allow_fields,
            "deny_fields": deny_fields,
            "pseudonymise_fields": pseudonymise_fields,
            "one_way": one_way,
        }
        return _form(request, who, exc.status, error_text(request, exc), form)
    return redirect(f"/agreements/{held.terms.id}", "created")


@router.get("/agreements/{agreement_id}/amend", response_class=HTMLResponse)
def amend(request: Request, who: Official, agreement_id: str) -> Response:
    """The create form, filled in with the latest version's terms."""
    terms = services.get(node_of(request), agreement_id).terms
    rules = terms.field_rules
    form: dict[str, object] = {
        "amends": terms.id,
        "title": terms.title,
        "purpose": terms.purpose,
        "legal_basis": terms.legal_basis.text,
        "legal_reference": terms.legal_basis.reference,
        "parties": list(terms.parties),
        "kinds": " ".join(
            sorted({k for f in terms.flows if f.sender == f.recipient == "*" for k in f.kinds})
        ),
        "one_way": "\n".join(
            f"{f.sender}>{f.recipient}:{','.join(f.kinds)}"
            for f in terms.flows
            if not f.sender == f.recipient == "*"
        ),
        "ceiling": terms.classification_ceiling,
        "allow_fields": " ".join(rules.allow),
        "deny_fields": " ".join(rules.deny),
        "pseudonymise_fields": " ".join(rules.pseudonymise),
    }
    return _form(request, who, form=form)


@router.get("/agreements/{agreement_id}", response_class=HTMLResponse)
def detail(
    request: Request, who: Official, agreement_id: str, version: int | None = None
) -> Response:
    node = node_of(request)
    held = services.get(node, agreement_id, version)
    return _pages(request).render(
        request,
        "agreements/detail.html",
        held=held,
        terms=held.terms,
        may_sign=services.may_sign(who.user.role, node),
        signed_here=node.member_id in held.signatures,
    )


@router.post("/agreements/{agreement_id}/sign")
def sign(request: Request, who: Official, agreement_id: str) -> Response:
    node = node_of(request)
    services.require_signer(who.user.role, node)
    services.sign(node, agreement_id, user_actor(node.member_id, who.user.username))
    return redirect(f"/agreements/{agreement_id}", "signed")


@router.post("/agreements/{agreement_id}/resend")
def resend(request: Request, who: Official, agreement_id: str) -> Response:
    node = node_of(request)
    services.require_signer(who.user.role, node)
    services.resend(node, agreement_id)
    return redirect(f"/agreements/{agreement_id}", "sent")


@router.post("/agreements/{agreement_id}/end")
def end(
    request: Request,
    who: Official,
    agreement_id: str,
    action: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=500)] = "",
    purge: Annotated[bool, Form()] = False,
) -> Response:
    node = node_of(request)
    services.require_signer(who.user.role, node)
    services.end(
        node, agreement_id, action, reason, user_actor(node.member_id, who.user.username), purge
    )
    return redirect(f"/agreements/{agreement_id}", "saved")
