"""libsodium's Ed25519 (crypto/ed25519) against cryptography's (OpenSSL): the same
signatures, each verifies the other's, and a bad one fails the same way."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from jembatan.crypto.ed25519 import Signing, verifying

PRIVATE = Ed25519PrivateKey.generate()
PUBLIC = PRIVATE.public_key()


@given(st.binary(max_size=600))
def test_signatures_are_the_same_and_verify_both_ways(message: bytes) -> None:
    made = Signing(PRIVATE).sign(message)
    assert made == PRIVATE.sign(message)  # Ed25519 is deterministic (RFC 8032)
    PUBLIC.verify(made, message)
    verifying(PUBLIC.public_bytes_raw()).verify(PRIVATE.sign(message), message)


@pytest.mark.parametrize(
    "signature",
    [
        PRIVATE.sign(b"another message"),
        bytes(64),
        PRIVATE.sign(b"message")[:63],  # not 64 bytes
        Ed25519PrivateKey.generate().sign(b"message"),
    ],
    ids=["other message", "zeros", "short", "other key"],
)
def test_a_bad_signature_fails_as_with_cryptography(signature: bytes) -> None:
    with pytest.raises(InvalidSignature):
        PUBLIC.verify(signature, b"message")
    with pytest.raises(InvalidSignature):
        verifying(PUBLIC.public_bytes_raw()).verify(signature, b"message")
