"""Ed25519 signatures made and checked by libsodium (PyNaCl), for those made on every
gateway call and federation request: here libsodium verifies in about 55 µs and signs in
20, OpenSSL (through cryptography) in 140 and 44 (docs/performance.md). The signatures
are the same RFC 8032 bytes; keys are still created, stored and used everywhere else
through cryptography."""

from __future__ import annotations

import functools

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey


class Signing:
    """Signs as `Ed25519PrivateKey.sign` does."""

    __slots__ = ("_key",)

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._key = SigningKey(private.private_bytes_raw())

    def sign(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message).signature)


class Verifying:
    """Verifies as `Ed25519PublicKey.verify` does: InvalidSignature when it fails."""

    __slots__ = ("_key",)

    def __init__(self, public: bytes) -> None:
        self._key = VerifyKey(public)

    def verify(self, signature: bytes, message: bytes) -> None:
        try:
            self._key.verify(message, signature)
        except (BadSignatureError, ValueError):  # ValueError: not 64 bytes
            raise InvalidSignature from None


@functools.lru_cache(maxsize=1024)
def verifying(public: bytes) -> Verifying:
    """The verifier of a raw 32-byte public key, made once per key."""
    return Verifying(public)
