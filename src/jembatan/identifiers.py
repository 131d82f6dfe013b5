"""X-Road style identifiers: members INSTANCE/CLASS/CODE, subsystems add /SUBSYSTEM."""

from __future__ import annotations

import re
from dataclasses import dataclass

from jembatan.errors import InvalidInput

# X-Road's identifier alphabet; case-sensitive.
_PART = re.compile(r"^[A-Za-z0-9'()+,\-.=?]{1,255}$")


def _parts(text: str, count: int, kind: str, form: str) -> list[str]:
    parts = text.split("/")
    if len(parts) != count:
        raise InvalidInput(
            "{kind} identifier {text!r} must have the form {form}", kind=kind, text=text, form=form
        )
    for part in parts:
        if not _PART.match(part):
            raise InvalidInput(
                "{kind} identifier {text!r}: part {part!r} may only use "
                "A-Z a-z 0-9 ' ( ) + , - . = ? and must not be empty",
                kind=kind,
                text=text,
                part=part,
            )
    return parts


@dataclass(frozen=True, order=True)
class MemberId:
    instance: str
    member_class: str
    code: str

    @classmethod
    def parse(cls, text: str) -> MemberId:
        instance, member_class, code = _parts(text, 3, "member", "INSTANCE/CLASS/CODE")
        return cls(instance, member_class, code)

    def __str__(self) -> str:
        return f"{self.instance}/{self.member_class}/{self.code}"


@dataclass(frozen=True, order=True)
class SubsystemId:
    member: MemberId
    subsystem: str

    @classmethod
    def parse(cls, text: str) -> SubsystemId:
        parts = _parts(text, 4, "subsystem", "INSTANCE/CLASS/CODE/SUBSYSTEM")
        return cls(MemberId(*parts[:3]), parts[3])

    def __str__(self) -> str:
        return f"{self.member}/{self.subsystem}"


def service_code(text: str) -> str:
    """A service code: one identifier part."""
    return _parts(text, 1, "service code", "CODE")[0]
