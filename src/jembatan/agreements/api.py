"""Agreements over HTTP for agencies' systems."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from jembatan.agreements import services
from jembatan.ledger.entries import user_actor
from jembatan.web.security import ApiCaller, node_of, require_scope

router = APIRouter(prefix="/api/v1/agreements", tags=["agreements"])
Reader = Annotated[ApiCaller, Depends(require_scope("agreements:read"))]
Writer = Annotated[ApiCaller, Depends(require_scope("agreements:write"))]


class FlowIn(BaseModel):
    sender: str = Field(alias="from", description="Member id, or * for any party")
    recipient: str = Field(alias="to", description="Member id, or * for any party")
    kinds: list[str] = Field(min_length=1, max_length=50)


class NewAgreement(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    parties: list[str] = Field(min_length=1, max_length=19, description="The other parties")
    kinds: list[str] = Field(
        default=["message"], max_length=50, description="Kinds allowed between any parties"
    )
    flows: list[FlowIn] = Field(default=[], max_length=50, description="One-way flows")
    purpose: str = Field(min_length=1, max_length=2000)
    legal_basis: str = Field(min_length=1, max_length=2000)
    legal_reference: str = Field(default="", max_length=500)
    classification_ceiling: str = "TLP:AMBER"
    valid_days: int | None = Field(default=365, ge=1, le=36500)
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    onward_sharing: bool = False
    amends: str | None = None
    allow_fields: list[str] = Field(default=[], max_length=200)
    deny_fields: list[str] = Field(default=[], max_length=200)
    pseudonymise_fields: list[str] = Field(default=[], max_length=200)
    denied: Literal["refuse", "remove"] = "refuse"


class Ending(BaseModel):
    action: Literal["suspend", "revoke"] = "revoke"
    reason: str = Field(default="", max_length=500)
    purge: bool = Field(default=False, description="Revoke only: every party purges its data")


def _actor(request: Request, caller: ApiCaller) -> str:
    return user_actor(node_of(request).member_id, caller.user.username)


@router.get("", summary="Every agreement version this node holds")
def list_agreements(request: Request, caller: Reader) -> list[dict[str, Any]]:
    return [services.summary(h) for h in services.list_agreements(node_of(request))]


@router.post("", status_code=201, summary="Draft an agreement (or a new version of one)")
def create(request: Request, body: NewAgreement, caller: Writer) -> dict[str, Any]:
    node = node_of(request)
    services.require_signer(caller.user.role, node)
    held = services.draft(
        node,
        title=body.title,
        parties=body.parties,
        kinds=body.kinds,
        flows=[(f.sender, f.recipient, f.kinds) for f in body.flows],
        purpose=body.purpose,
        legal_basis=body.legal_basis,
        legal_reference=body.legal_reference,
        ceiling=body.classification_ceiling,
        valid_days=body.valid_days,
        retention_days=body.retention_days,
        onward_sharing=body.onward_sharing,
        amends=body.amends,
        allow_fields=body.allow_fields,
        deny_fields=body.deny_fields,
        pseudonymise_fields=body.pseudonymise_fields,
        denied=body.denied,
        actor=_actor(request, caller),
    )
    return services.summary(held)


@router.get("/{agreement_id}", summary="One agreement: terms, signatures, status")
def show(
    request: Request, agreement_id: str, caller: Reader, version: int | None = None
) -> dict[str, Any]:
    return services.summary(services.get(node_of(request), agreement_id, version))


@router.post("/{agreement_id}/sign", summary="Sign for this node (proposes a draft)")
def sign(request: Request, agreement_id: str, caller: Writer) -> dict[str, Any]:
    node = node_of(request)
    services.require_signer(caller.user.role, node)
    return services.summary(services.sign(node, agreement_id, _actor(request, caller)))


@router.post("/{agreement_id}/resend", summary="Send the other parties this node's steps again")
def resend(request: Request, agreement_id: str, caller: Writer) -> dict[str, Any]:
    node = node_of(request)
    services.require_signer(caller.user.role, node)
    return services.summary(services.resend(node, agreement_id))


@router.post("/{agreement_id}/end", summary="Suspend or revoke, for every party")
def end(request: Request, agreement_id: str, body: Ending, caller: Writer) -> dict[str, Any]:
    node = node_of(request)
    services.require_signer(caller.user.role, node)
    held = services.end(
        node, agreement_id, body.action, body.reason, _actor(request, caller), body.purge
    )
    return services.summary(held)
