"""The life of an agreement on this node: drafted, signed by each party (the first
signature proposes it), active when all have signed, amended as a new version, suspended
or revoked by any party. Each step goes to the other parties as an envelope."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from jembatan.agreements import retention, steps
from jembatan.agreements.models import Agreement
from jembatan.agreements.rules import parse_terms_cached
from jembatan.agreements.terms import CONTROL_KIND, Terms, parse_terms
from jembatan.crypto import jws
from jembatan.crypto.canonical import canonical_json
from jembatan.errors import Conflict, Forbidden, InvalidInput, NotFound
from jembatan.exchange import services as exchange
from jembatan.identifiers import uuid7
from jembatan.node.context import Node
from jembatan.registry.directory import stamp
from jembatan.registry.membership import federation
from jembatan.store.schema import utcnow


@dataclass(frozen=True)
class Held:
    """An agreement version with what this node knows of it."""

    row: Agreement
    terms: Terms
    signatures: dict[str, str]

    @property
    def status(self) -> str:
        """The stored status, or `expired` once an active agreement's validity ended."""
        ends = self.terms.ends
        if self.row.status == "active" and ends is not None and ends <= utcnow():
            return "expired"
        return self.row.status

    @property
    def missing(self) -> list[str]:
        return [p for p in self.terms.parties if p not in self.signatures]


def draft(
    node: Node,
    *,
    title: str,
    parties: list[str],
    kinds: list[str],
    purpose: str,
    legal_basis: str,
    legal_reference: str = "",
    ceiling: str = "TLP:AMBER",
    valid_days: int | None = 365,
    retention_days: int | None = None,
    onward_sharing: bool = False,
    amends: str | None = None,
    allow_fields: list[str] | None = None,
    deny_fields: list[str] | None = None,
    pseudonymise_fields: list[str] | None = None,
    denied: str = "refuse",
    flows: list[tuple[str, str, list[str]]] | None = None,
    actor: str,
) -> Held:
    """A new agreement (or a new version of one, with `amends`), not yet signed. `kinds`
    may flow between any two parties either way; `flows` adds (from, to, kinds) for one
    direction (`*` for any party)."""
    view = federation(node)
    everyone = sorted({node.member_id, *(p.strip() for p in parties if p.strip())})
    for member in everyone:
        if member != node.member_id and view.member(member) is None:
            raise InvalidInput("{member} is not in the member directory", member=member)
    now = utcnow().replace(microsecond=0)
    rules = {
        "allow": _names(allow_fields),
        "deny": _names(deny_fields),
        "pseudonymise": _names(pseudonymise_fields),
        "denied": denied,
    }
    secret = os.urandom(32) if rules["pseudonymise"] else None
    with node.transaction() as s:
        version = 1
        ident = uuid7()
        if amends:
            latest = s.scalar(select(func.max(Agreement.version)).where(Agreement.id == amends))
            if latest is None:
                raise NotFound("no agreement {id}", id=amends)
            ident, version = amends, int(latest) + 1
        terms = parse_terms(
            {
                "id": ident,
                "version": version,
                "title": title.strip(),
                "parties": everyone,
                "flows": _flows(kinds, flows or []),
                "purpose": purpose.strip(),
                "legal_basis": {"text": legal_basis.strip(), "reference": legal_reference},
                "classification_ceiling": ceiling,
                "field_rules": rules,
                "pseudonym_key_sha256": hashlib.sha256(secret).hexdigest() if secret else None,
                "valid_from": stamp(now),
                "valid_until": stamp(now + timedelta(days=valid_days)) if valid_days else None,
                "retention_days": retention_days,
                "onward_sharing": onward_sharing,
                "drafted_by": node.member_id,
                "drafted_at": stamp(now),
            }
        )
        row = steps.hold(s, terms)
        row.status = "draft"
        if secret is not None:
            row.secret = steps.secret_box(node).seal(base64.b64encode(secret).decode())
        steps.record_step(node, s, "agreement.drafted", actor, row, {})
        return Held(row, terms, {})


def _flows(kinds: list[str], directed: list[tuple[str, str, list[str]]]) -> list[Any]:
    both = [k.strip() for k in kinds if k.strip()]
    found: list[Any] = [{"from": "*", "to": "*", "kinds": both}] if both else []
    for sender, recipient, names in directed:
        found.append(
            {"from": sender.strip(), "to": recipient.strip(), "kinds": [k.strip() for k in names]}
        )
    return found


def parse_flow(text: str) -> tuple[str, str, list[str]]:
    """`FROM>TO:kind,kind` (member ids or `*`), as the CLI takes a one-way flow."""
    ends, sep, names = text.partition(":")
    sender, arrow, recipient = ends.partition(">")
    kinds = [k for k in names.replace(" ", ",").split(",") if k]
    if not sep or not arrow or not sender.strip() or not recipient.strip() or not kinds:
        raise InvalidInput(
            "a flow is written FROM>TO:kind,kind (member ids or *), not {text!r}", text=text
        )
    return sender.strip(), recipient.strip(), kinds


def _names(fields: list[str] | None) -> list[str]:
    return sorted({f.strip() for f in fields or [] if f.strip()})


def get(node: Node, agreement_id: str, version: int | None = None) -> Held:
    with node.db() as s:
        query = select(Agreement).where(Agreement.id == agreement_id)
        if version is not None:
            query = query.where(Agreement.version == version)
        row = s.scalar(query.order_by(Agreement.version.desc()).limit(1))
        if row is None:
            raise NotFound("no agreement {id}", id=agreement_id)
        return Held(row, parse_terms_cached(row.terms), steps.signatures_of(s, row))


def list_agreements(node: Node) -> list[Held]:
    with node.db() as s:
        rows = list(s.scalars(select(Agreement).order_by(Agreement.created_at.desc())))
        return [Held(r, parse_terms_cached(r.terms), steps.signatures_of(s, r)) for r in rows]


def sign(node: Node, agreement_id: str, actor: str, version: int | None = None) -> Held:
    """Add this node's signature; the first signature proposes the agreement to the other
    parties, the last one makes it active everywhere."""
    held = get(node, agreement_id, version)
    if held.status not in ("draft", "proposed"):
        raise Conflict(
            "agreement {id} is {status}; only a draft or proposed one can be signed",
            id=agreement_id,
            status=held.status,
        )
    if node.member_id in held.signatures:
        raise Conflict("this node has already signed agreement {id}", id=agreement_id)
    token = jws.sign(held.terms.to_bytes(), node.keys().signer(), steps.AGREEMENT_TYP)
    signatures = {**held.signatures, node.member_id: token}
    secret = steps.pseudonym_key(node, held.row)
    _tell_parties(node, held.terms, steps.Step("sign", held.terms, signatures, secret=secret))
    with node.transaction() as s:
        row = s.get(Agreement, (held.row.id, held.row.version))
        assert row is not None
        steps.add_signature(node, s, row, node.member_id, token, actor)
    return get(node, agreement_id, held.row.version)


def end(
    node: Node, agreement_id: str, action: str, reason: str, actor: str, purge: bool = False
) -> Held:
    """Suspend or revoke with a notice signed by this node; any party may. A revocation
    with `purge` also removes what every party received under the agreement."""
    if purge and action != "revoke":
        raise InvalidInput("only a revocation can purge")
    if action not in steps.ENDINGS:
        raise InvalidInput("choose suspend or revoke")
    held = get(node, agreement_id)
    if held.status not in ("proposed", "active", "suspended", "expired"):
        raise Conflict("agreement {id} is {status}", id=agreement_id, status=held.status)
    body = {
        "id": held.terms.id,
        "version": held.terms.version,
        "action": action,
        "reason": reason.strip()[:500],
        "at": stamp(utcnow()),
        "purge": purge,
    }
    notice = jws.sign(canonical_json(body), node.keys().signer(), steps.NOTICE_TYP)
    _tell_parties(node, held.terms, steps.Step(action, held.terms, {}, notice))
    with node.transaction() as s:
        row = s.get(Agreement, (held.row.id, held.row.version))
        assert row is not None
        steps.end(node, s, row, steps.ENDINGS[action], node.member_id, notice, actor)
    if purge:
        retention.purge(
            node,
            retention.received_under(node, agreement_id),
            "agreement revoked with purge",
            actor,
        )
    return get(node, agreement_id)


def resend(node: Node, agreement_id: str) -> Held:
    """Send the other parties again what this node holds of the latest version: every
    signature (with the pseudonym key), or the signed notice that suspended or revoked it.
    For a party that missed a step, e.g. because its node was away until the envelope
    expired; a party that has it already changes nothing."""
    held = get(node, agreement_id)
    if held.status == "draft":
        raise Conflict("agreement {id} is a draft: sign it to propose it", id=agreement_id)
    if held.status in ("suspended", "revoked"):
        if not held.row.notice:
            raise Conflict("this node holds no notice for agreement {id}", id=agreement_id)
        action = "suspend" if held.status == "suspended" else "revoke"
        step = steps.Step(action, held.terms, {}, held.row.notice)
    elif held.status == "superseded":
        raise Conflict("agreement {id} is superseded: resend its latest version", id=agreement_id)
    else:
        secret = steps.pseudonym_key(node, held.row)
        step = steps.Step("sign", held.terms, held.signatures, secret=secret)
    _tell_parties(node, held.terms, step)
    return held


def _tell_parties(node: Node, terms: Terms, step: steps.Step) -> None:
    others = [p for p in terms.parties if p != node.member_id]
    exchange.send(
        node,
        others,
        f"Agreement {step.action}: {terms.title}",
        step.to_bytes(),
        steps.STEP_TYPE,
        classification="TLP:GREEN",
        kind=CONTROL_KIND,
    )


def may_sign(role: str, node: Node) -> bool:
    return role in node.settings.agreement_signer_roles


def require_signer(role: str, node: Node) -> None:
    if not may_sign(role, node):
        raise Forbidden(
            "your role may not draft or sign agreements (JEMBATAN_AGREEMENT_SIGNER_ROLES)"
        )


def summary(held: Held) -> dict[str, Any]:
    terms = held.terms
    return {
        "id": terms.id,
        "version": terms.version,
        "title": terms.title,
        "status": held.status,
        "parties": list(terms.parties),
        "signed_by": sorted(held.signatures),
        "missing": held.missing,
        "kinds": sorted({k for f in terms.flows for k in f.kinds}),
        "classification_ceiling": terms.classification_ceiling,
        "valid_from": terms.valid_from,
        "valid_until": terms.valid_until,
        "terms": terms.document(),
        "signatures": held.signatures,
        "notice": held.row.notice,
    }
