"""X-Road style identifiers: members INSTANCE/CLASS/CODE, subsystems add /SUBSYSTEM."""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass

from jembatan.errors import InvalidInput

# X-Road's identifier alphabet; case-sensitive.
_PART = re.compile(r"^[A-Za-z0-9'()+,\-.=?]{1,255}$")


def uuid7() -> str:
    """RFC 9562 UUIDv7: 48-bit Unix milliseconds, then random bits (sortable by
    time: rows keyed by them are added at the end of their indexes, not all over)."""
    ms = time.time_ns() // 1_000_000
    raw = bytearray(ms.to_bytes(6, "big") + os.urandom(10))
    raw[6] = (raw[6] & 0x0F) | 0x70
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


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
