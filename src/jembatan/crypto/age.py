"""Streaming encryption of large payloads with age (age-encryption.org/v1) to the same
X25519 keys the node uses for envelopes, through pyrage's streaming calls (constant memory).
"""

from __future__ import annotations

import hashlib
from typing import Any, BinaryIO

import pyrage
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pyrage import x25519

from jembatan.crypto.keys import KeyPair
from jembatan.errors import InvalidInput

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if (top >> i) & 1 else 0
    return chk


def bech32(hrp: str, data: bytes) -> str:
    """BIP 173 Bech32, as age writes keys (no length limit)."""
    acc, bits, words = 0, 0, []
    for byte in data:
        acc, bits = (acc << 8) | byte, bits + 8
        while bits >= 5:
            bits -= 5
            words.append((acc >> bits) & 31)
    if bits:
        words.append((acc << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    checksum = _polymod([*expanded, *words, 0, 0, 0, 0, 0, 0]) ^ 1
    words += [(checksum >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[w] for w in words)


def recipient(jwk: dict[str, Any]) -> x25519.Recipient:
    """An X25519 JWK as an age recipient (`age1...`)."""
    import base64

    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    return x25519.Recipient.from_str(bech32("age", raw))


def identity(pair: KeyPair) -> x25519.Identity:
    private = pair.key.private_key
    if not isinstance(private, X25519PrivateKey):
        raise TypeError("not an X25519 key")
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return x25519.Identity.from_str(bech32("age-secret-key-", raw).upper())


class HashingReader:
    """Reads through, counting and hashing what passes."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        self.sha256.update(data)
        self.size += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        n = self.source.readinto(buffer)  # type: ignore[attr-defined]
        self.sha256.update(memoryview(buffer)[:n])
        self.size += n
        return int(n)


class HashingWriter:
    """Writes through (or nowhere), counting and hashing what passes."""

    def __init__(self, target: BinaryIO | None = None, limit: int | None = None) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.limit = limit

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            raise InvalidInput("the payload is larger than it was said to be")
        self.sha256.update(data)
        if self.target is not None:
            self.target.write(data)
        return len(data)

    def flush(self) -> None:
        if self.target is not None:
            self.target.flush()


def encrypt_stream(
    source: BinaryIO, target: BinaryIO, recipients: list[dict[str, Any]]
) -> HashingReader:
    """Encrypt `source` to `target`; returns the reader with the plaintext's size and hash."""
    reader = HashingReader(source)
    pyrage.encrypt_io(reader, target, [recipient(j) for j in recipients])
    return reader


def decrypt_stream(source: BinaryIO, target: HashingWriter, keys: list[KeyPair]) -> HashingWriter:
    try:
        pyrage.decrypt_io(source, target, [identity(k) for k in keys])
    except pyrage.DecryptError as exc:
        raise InvalidInput("the transfer does not decrypt: {reason}", reason=str(exc)) from None
    return target
