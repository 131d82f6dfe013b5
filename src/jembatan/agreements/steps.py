"""Agreement steps as they travel between the parties, and what a node does with them:
signatures and notices checked against the directory, the agreement's state updated, and
every step written to the ledger in the same transaction."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jembatan.agreements.models import Agreement, AgreementSignature
from jembatan.agreements.terms import Terms, parse_terms
from jembatan.crypto import jws
from jembatan.crypto.canonical import canonical_json
from jembatan.crypto.keys import public_key
from jembatan.crypto.secretbox import SecretBox
from jembatan.errors import Conflict, Forbidden, InvalidInput
from jembatan.ledger.entries import Event, record
from jembatan.node.context import Node
from jembatan.registry.membership import federation, jws_payload
from jembatan.store.schema import utcnow

STEP_TYPE = "application/vnd.jembatan.agreement-step+json"
AGREEMENT_TYP = "jembatan-agreement+jws"
NOTICE_TYP = "jembatan-agreement-notice+jws"
ENDINGS = {"suspend": "suspended", "revoke": "revoked"}


@dataclass(frozen=True)
class Step:
    """One step from a party: the terms, the signatures it carries, or a notice."""

    action: str  # sign, suspend or revoke
    terms: Terms
    signatures: dict[str, str]
    notice: str | None = None
    secret: bytes | None = None  # the pseudonym key, for parties that do not hold it yet
    purge: bool = False  # a revocation that also asks every party to purge what it received

    def to_bytes(self) -> bytes:
        return canonical_json(
            {
                "action": self.action,
                "terms": self.terms.document(),
                "signatures": self.signatures,
                **({"notice": self.notice} if self.notice else {}),
                **({"secret": base64.b64encode(self.secret).decode()} if self.secret else {}),
            }
        )


def signed_payload(node: Node, token: str, member: str, typ: str) -> bytes:
    """The payload of a JWS made by `member`'s signing key as the directory lists it."""
    header = jws.unverified_header(token)
    key = federation(node).key(str(header.get("kid")))
    if key is None or key.member != member or key.use != "sig":
        raise Forbidden("the signature is not made with a key of {member}", member=member)
    return jws.verify(token, public_key(key.jwk), typ).payload


def parse_step(node: Node, sender: str, payload: bytes) -> Step:
    """Check a step fully before anything is stored; any problem refuses the envelope."""
    try:
        raw = json.loads(payload)
        action, signatures = raw["action"], dict(raw.get("signatures", {}))
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("agreement step unreadable") from None
    if action not in ("sign", *ENDINGS):
        raise InvalidInput("agreement step {action!r} is unknown", action=action)
    terms = parse_terms(raw.get("terms"))
    if sender not in terms.parties:
        raise Forbidden("{sender} is not a party to agreement {id}", sender=sender, id=terms.id)
    for member, token in signatures.items():
        if member not in terms.parties:
            raise Forbidden("{member} is not a party to agreement {id}", member=member, id=terms.id)
        if signed_payload(node, str(token), member, AGREEMENT_TYP) != terms.to_bytes():
            raise InvalidInput("the signature of {member} is not over these terms", member=member)
    notice = raw.get("notice")
    purge = False
    if action in ENDINGS:
        body = json.loads(signed_payload(node, str(notice), sender, NOTICE_TYP))
        purge = body.get("purge") is True
        if (body.get("id"), body.get("version"), body.get("action")) != (
            terms.id,
            terms.version,
            action,
        ):
            raise InvalidInput("the notice does not match the agreement step")
    elif sender not in signatures:
        raise InvalidInput("a party's step must carry its own signature")
    secret = None
    if raw.get("secret"):
        secret = base64.b64decode(str(raw["secret"]))
        if hashlib.sha256(secret).hexdigest() != terms.pseudonym_key_sha256:
            raise InvalidInput("the pseudonym key does not match the agreement's terms")
    return Step(action, terms, signatures, str(notice) if notice else None, secret, purge)


def apply_step(node: Node, s: Session, sender: str, step: Step) -> Agreement:
    """Fold a checked step into what this node holds (inside the caller's transaction)."""
    terms = step.terms
    row = hold(s, terms)
    if row.digest != terms.digest():
        raise Conflict(
            "agreement {id} version {version} is held with other terms",
            id=terms.id,
            version=terms.version,
        )
    if step.action in ENDINGS:
        end(node, s, row, ENDINGS[step.action], sender, step.notice or "", "")
        return row
    if step.secret is not None and row.secret is None:
        row.secret = secret_box(node).seal(base64.b64encode(step.secret).decode())
    for member, token in step.signatures.items():
        add_signature(node, s, row, member, token)
    return row


def secret_box(node: Node) -> SecretBox:
    return SecretBox(node.secret, "agreement-pseudonyms")


def pseudonym_key(node: Node, row: Agreement) -> bytes | None:
    return base64.b64decode(secret_box(node).open(row.secret)) if row.secret else None


def hold(s: Session, terms: Terms) -> Agreement:
    row = s.get(Agreement, (terms.id, terms.version))
    if row is None:
        row = Agreement(
            id=terms.id,
            version=terms.version,
            terms=terms.to_bytes().decode(),
            digest=terms.digest(),
            title=terms.title,
            parties=json.dumps(list(terms.parties)),
            status="proposed",
        )
        s.add(row)
        s.flush()
    return row


def signatures_of(s: Session, row: Agreement) -> dict[str, str]:
    found = s.execute(
        select(AgreementSignature.member, AgreementSignature.jws).where(
            AgreementSignature.agreement_id == row.id, AgreementSignature.version == row.version
        )
    )
    return {str(member): str(token) for member, token in found}


def add_signature(
    node: Node, s: Session, row: Agreement, member: str, token: str, actor: str | None = None
) -> None:
    if member in signatures_of(s, row):
        return
    s.add(AgreementSignature(agreement_id=row.id, version=row.version, member=member, jws=token))
    s.flush()
    record_step(node, s, "agreement.signed", actor or member, row, {"by": member})
    if row.status in ("draft", "proposed"):
        row.status = "proposed"
        if set(signatures_of(s, row)) == set(json.loads(row.parties)):
            row.status = "active"
            s.execute(
                update(Agreement)
                .where(
                    Agreement.id == row.id,
                    Agreement.version < row.version,
                    Agreement.status == "active",
                )
                .values(status="superseded", updated_at=utcnow())
            )
            record_step(node, s, "agreement.activated", node.member_id, row, {})
    row.updated_at = utcnow()


def end(
    node: Node, s: Session, row: Agreement, status: str, by: str, notice: str, actor: str
) -> None:
    if row.status in ("revoked", "superseded"):
        raise Conflict("agreement {id} is already {status}", id=row.id, status=row.status)
    row.status, row.notice, row.updated_at = status, notice, utcnow()
    details: dict[str, Any] = {"by": by}
    if notice:
        body = json.loads(jws_payload(notice))
        details["reason"] = str(body.get("reason", ""))[:500]
        details["at"] = str(body.get("at", ""))
    record_step(node, s, f"agreement.{status}", actor or by, row, details)


def record_step(
    node: Node, s: Session, kind: str, actor: str, row: Agreement, details: dict[str, Any]
) -> None:
    # Every change of an agreement passes here: caches of the active terms start over.
    node.extras["agreements_generation"] = int(str(node.extras.get("agreements_generation", 0))) + 1
    record(
        s,
        Event(
            kind,
            actor,
            f"{row.id}/v{row.version}",
            {"title": row.title, "parties": json.loads(row.parties), **details},
            {"terms": row.digest},
        ),
    )
