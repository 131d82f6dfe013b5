"""C2SP signed-note checks written from the spec with `cryptography` alone, independent
of the product's note module."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def check_note_independently(text: str, origin: str, jwks: list[dict[str, str]]) -> None:
    """C2SP signed-note Ed25519 verification from the spec, with `cryptography` only."""
    body, _, sigs = text.partition("\n\n")
    body += "\n"
    assert body.split("\n")[0] == origin
    lines = [line for line in sigs.split("\n") if line.startswith(f"\u2014 {origin} ")]
    assert lines, text
    blob = base64.b64decode(lines[0].rsplit(" ", 1)[1])
    for jwk in jwks:
        if jwk.get("crv") != "Ed25519":
            continue
        raw = base64.urlsafe_b64decode(jwk["x"] + "==")
        key_id = hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()[:4]
        if blob[:4] == key_id:
            Ed25519PublicKey.from_public_bytes(raw).verify(blob[4:], body.encode())
            return
    raise AssertionError("no published key made the checkpoint signature")
