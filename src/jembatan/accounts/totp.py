"""TOTP (RFC 6238) two-factor codes, QR enrolment images and recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import time

import pyotp
import segno

STEP = 30
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud without doubt


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return str(pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer))


def qr_svg(uri: str, title: str) -> str:
    """An inline SVG QR code of the enrolment URI (no JavaScript, no external image)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True, title=title, nl=False
    )
    return out.getvalue().decode()


def match_step(secret: str, code: str, last_step: int, now: float | None = None) -> int | None:
    """The time step the code belongs to (one step of clock drift either way), or None.

    A step at or before `last_step` is refused, so a code works only once.
    """
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP)
    for step in (current - 1, current, current + 1):
        if step > last_step and hmac.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    def one() -> str:
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        return f"{raw[:5]}-{raw[5:]}"

    return [one() for _ in range(RECOVERY_CODES)]


def hash_recovery_code(code: str) -> str:
    normal = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(normal.encode()).hexdigest()
