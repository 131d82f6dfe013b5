"""Enforcement: which active agreement lets a message go (on send) or come in (on
receive). Nothing moves between governments unless an agreement all parties signed
allows it; the refusal names the rule that failed."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select

from jembatan.agreements import steps
from jembatan.agreements.models import Agreement
from jembatan.agreements.terms import CONTROL_KIND, Terms, parse_terms, refusal
from jembatan.errors import Forbidden, InvalidInput
from jembatan.node.context import Node
from jembatan.store.schema import utcnow


def active(node: Node) -> list[Terms]:
    with node.db() as s:
        rows = s.scalars(select(Agreement.terms).where(Agreement.status == "active"))
        return [parse_terms_cached(t) for t in rows]


_parsed: dict[str, Terms] = {}


def parse_terms_cached(text: str) -> Terms:
    """Terms are immutable once signed: parse each text once per process."""
    found = _parsed.get(text)
    if found is None:
        found = _parsed[text] = parse_terms(json.loads(text))
    return found


def terms_of(node: Node, agreement_id: str) -> Terms | None:
    """The latest version of an agreement this node holds, whatever its state."""
    with node.db() as s:
        text = s.scalar(
            select(Agreement.terms)
            .where(Agreement.id == agreement_id)
            .order_by(Agreement.version.desc())
            .limit(1)
        )
    return parse_terms_cached(text) if text is not None else None


def pseudonym_key(node: Node, terms: Terms) -> bytes | None:
    with node.db() as s:
        row = s.get(Agreement, (terms.id, terms.version))
        return steps.pseudonym_key(node, row) if row is not None else None


def status_of(node: Node, agreement_id: str) -> str | None:
    with node.db() as s:
        return s.scalar(
            select(Agreement.status)
            .where(Agreement.id == agreement_id)
            .order_by(Agreement.version.desc())
            .limit(1)
        )


def choose(
    node: Node,
    sender: str,
    recipients: list[str],
    kind: str,
    classification: str,
    named: str | None = None,
    at: datetime | None = None,
) -> Terms | None:
    """The agreement a message goes under; raises Forbidden naming the failed rule."""
    if kind == CONTROL_KIND:
        return None
    at = at or utcnow()
    candidates = active(node)
    if named:
        chosen = [t for t in candidates if t.id == named]
        if not chosen:
            status = status_of(node, named)
            raise Forbidden(
                "agreement {id} is not active here ({status})",
                id=named,
                status=status or "unknown",
            )
        reason = refusal(chosen[0], sender, recipients, kind, classification, at)
        if reason:
            raise Forbidden(
                "agreement {id} ({title}) does not allow this message: {reason}",
                id=named,
                title=chosen[0].title,
                reason=reason,
            )
        return chosen[0]
    fits = [
        t for t in candidates if refusal(t, sender, recipients, kind, classification, at) is None
    ]
    if len(fits) == 1:
        return fits[0]
    if len(fits) > 1:
        raise InvalidInput(
            "several agreements allow this message; name one of: {ids}",
            ids=", ".join(f"{t.id} ({t.title})" for t in fits),
        )
    near = [
        (t, reason)
        for t in candidates
        if sender in t.parties
        and all(r in t.parties for r in recipients)
        and (reason := refusal(t, sender, recipients, kind, classification, at))
    ]
    if near:
        terms, reason = near[0]
        raise Forbidden(
            "no active agreement allows {kind!r} from {sender} to {recipients}: "
            "agreement {id} ({title}) refuses it: {reason}",
            kind=kind,
            sender=sender,
            recipients=", ".join(recipients),
            id=terms.id,
            title=terms.title,
            reason=reason,
        )
    raise Forbidden(
        "no active agreement between {sender} and {recipients} allows {kind!r}; "
        "all parties must sign one first",
        kind=kind,
        sender=sender,
        recipients=", ".join(recipients),
    )
