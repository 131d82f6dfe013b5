"""Seal small secrets (e.g. TOTP keys) at rest under the node's secret key, AES-256-GCM."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A separate 32-byte key per purpose, so one key never serves two jobs."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret
    )


class SecretBox:
    def __init__(self, secret: bytes, purpose: str) -> None:
        self._aead = AESGCM(derive_key(secret, "jembatan secretbox " + purpose))
        self._aad = purpose.encode()

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), self._aad)
        return "v1." + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, token: str) -> str:
        if not token.startswith("v1."):
            raise ValueError("unknown sealed-secret format")
        raw = base64.urlsafe_b64decode(token[3:])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], self._aad).decode()
        except InvalidTag:
            raise ValueError("sealed secret does not open with this node's key") from None
