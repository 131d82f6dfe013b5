"""The terms of a data-sharing agreement, and the rules a message must meet under them.
Plain data and functions: the same checks run on the sending and the receiving node."""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jembatan.crypto.canonical import canonical_json
from jembatan.errors import InvalidInput
from jembatan.exchange.envelope import TLP
from jembatan.registry.directory import parse_stamp

CONTROL_KIND = "agreement"  # agreement steps themselves travel between the parties freely
ANY = "*"
TLP_RANK = {label: rank for rank, label in enumerate(TLP)}
# A message kind ("message", "health.surveillance"), "service" (any service of the
# sender's), or one service: "service:SUBSYSTEM/CODE" in X-Road's identifier alphabet;
# "workspace" (any workspace) or one: "workspace:ID"; "dataset" or "dataset:ID" alike.
_XROAD_PART = r"[A-Za-z0-9'()+,\-.=?]{1,255}"
_KIND = (
    r"^(\*|[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*"
    rf"|service:{_XROAD_PART}/{_XROAD_PART}|(workspace|dataset):[A-Za-z0-9._-]{{1,53}})$"
)
FAMILIES = ("workspace", "dataset")  # a family name in a flow covers each of its members


def check_kind(kind: str) -> str:
    """A message's own kind: a name a flow can list (not `*`), at most 64 characters."""
    if kind == ANY or len(kind) > 64 or not re.match(_KIND, kind):
        raise InvalidInput(
            "kind {kind!r} must be like 'message', 'health.surveillance', 'workspace:ID' or "
            "'dataset:ID'",
            kind=kind,
        )
    return kind


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Flow(_Strict):
    """What may go from one party to another: `*` stands for any party."""

    sender: str = Field(alias="from", min_length=1, max_length=800)
    recipient: str = Field(alias="to", min_length=1, max_length=800)
    kinds: tuple[str, ...] = Field(min_length=1, max_length=50)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, kinds: tuple[str, ...]) -> tuple[str, ...]:
        for kind in kinds:
            if not re.match(_KIND, kind):
                raise ValueError(
                    f"kind {kind!r} must be like 'message', 'health.surveillance', "
                    "'service:SUBSYSTEM/CODE' or 'workspace:ID'"
                )
        return tuple(sorted(set(kinds)))


class LegalBasis(_Strict):
    text: str = Field(min_length=1, max_length=2000)
    reference: str = Field(default="", max_length=500)


class FieldRules(_Strict):
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    pseudonymise: tuple[str, ...] = ()
    denied: Literal["refuse", "remove"] = "refuse"


class Terms(_Strict):
    """One version of an agreement, exactly as every party signs it."""

    id: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=200)
    parties: tuple[str, ...] = Field(min_length=2, max_length=20)
    flows: tuple[Flow, ...] = Field(min_length=1, max_length=50)
    purpose: str = Field(min_length=1, max_length=2000)
    legal_basis: LegalBasis
    classification_ceiling: str
    field_rules: FieldRules = FieldRules()
    # SHA-256 of the parties' shared pseudonym key: the key travels encrypted with the steps.
    pseudonym_key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    valid_from: str
    valid_until: str | None = None
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    onward_sharing: bool = False
    drafted_by: str
    drafted_at: str

    @field_validator("parties")
    @classmethod
    def _parties(cls, parties: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(parties)) != len(parties):
            raise ValueError("a party is named twice")
        return tuple(sorted(parties))

    @field_validator("classification_ceiling")
    @classmethod
    def _ceiling(cls, label: str) -> str:
        if label not in TLP_RANK:
            raise ValueError(f"{label!r} is not a TLP 2.0 label ({', '.join(TLP)})")
        return label

    @field_validator("valid_from", "valid_until", "drafted_at")
    @classmethod
    def _stamp(cls, value: str | None) -> str | None:
        if value is not None:
            parse_stamp(value)
        return value

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def to_bytes(self) -> bytes:
        """The RFC 8785 bytes every party signs."""
        return canonical_json(self.document())

    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    # Parsed once: every message and gateway call checks them.
    @functools.cached_property
    def starts(self) -> datetime:
        return parse_stamp(self.valid_from)

    @functools.cached_property
    def ends(self) -> datetime | None:
        return parse_stamp(self.valid_until) if self.valid_until else None


def parse_terms(document: Any) -> Terms:
    """Check a document against the schema; one clear error naming the first problem."""
    try:
        terms = Terms.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise InvalidInput(
            "agreement refused: {where}: {problem}", where=where, problem=first["msg"]
        ) from None
    for flow in terms.flows:
        for end in (flow.sender, flow.recipient):
            if end != ANY and end not in terms.parties:
                raise InvalidInput(
                    "agreement refused: flow names {member}, who is not a party", member=end
                )
    if terms.field_rules.pseudonymise and not terms.pseudonym_key_sha256:
        raise InvalidInput("agreement refused: pseudonymised fields need a pseudonym key")
    if terms.drafted_by not in terms.parties:
        raise InvalidInput("agreement refused: it must be drafted by one of its parties")
    if terms.ends is not None and terms.ends <= terms.starts:
        raise InvalidInput("agreement refused: it must end after it starts")
    return terms


def _family(kind: str) -> str | None:
    family, sep, _ = kind.partition(":")
    return family if sep and family in FAMILIES else None


def refusal(
    terms: Terms,
    sender: str,
    recipients: list[str] | tuple[str, ...],
    kind: str,
    classification: str,
    at: datetime,
) -> str | None:
    """The first rule of these terms that the message breaks, in words; None if it fits."""
    for member in (sender, *recipients):
        if member not in terms.parties:
            return f"{member} is not a party"
    for recipient in recipients:
        if not any(
            flow.sender in (ANY, sender)
            and flow.recipient in (ANY, recipient)
            and (ANY in flow.kinds or kind in flow.kinds or _family(kind) in flow.kinds)
            for flow in terms.flows
        ):
            return f"no flow of {kind!r} from {sender} to {recipient}"
    if TLP_RANK.get(classification, len(TLP)) > TLP_RANK[terms.classification_ceiling]:
        return f"{classification} is above the ceiling {terms.classification_ceiling}"
    if at < terms.starts:
        return f"not valid before {terms.valid_from}"
    if terms.ends is not None and at >= terms.ends:
        return f"expired at {terms.valid_until}"
    return None
