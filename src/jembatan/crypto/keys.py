"""Node keys: Ed25519 for signing, X25519 for encryption.

Private keys are kept as PKCS#8 PEM encrypted under the node's passphrase (OpenSSL reads
them too); public keys travel as JWKs (RFC 8037) whose `kid` is the RFC 7638 thumbprint.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from joserfc.jwk import OKPKey

from jembatan.crypto.ed25519 import Signing
from jembatan.errors import ConfigError, InvalidInput

Use = Literal["sig", "enc"]
Curve = Literal["Ed25519", "X25519"]
CURVES: dict[str, Curve] = {"sig": "Ed25519", "enc": "X25519"}


@dataclass(frozen=True)
class KeyPair:
    use: Use
    key: OKPKey  # holds the private half

    @functools.cached_property
    def kid(self) -> str:
        """The RFC 7638 thumbprint, computed once: every signature names it."""
        return str(self.key.thumbprint())

    def public_jwk(self) -> dict[str, Any]:
        jwk = dict(self.key.as_dict(private=False))
        return {**jwk, "kid": self.kid, "use": self.use}

    @functools.cached_property
    def ed25519(self) -> Signing:
        """The signing key by libsodium, for the signatures made on every call."""
        return Signing(self.signing_key())

    def signing_key(self) -> Ed25519PrivateKey:
        private = self.key.private_key
        if not isinstance(private, Ed25519PrivateKey):
            raise TypeError("not an Ed25519 signing key")
        return private

    def encrypted_pem(self, passphrase: str) -> str:
        private = self.key.private_key
        assert private is not None
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
        return str(pem.decode())


def generate(use: Use) -> KeyPair:
    return KeyPair(use, OKPKey.generate_key(CURVES[use]))


def load_pem(use: Use, pem: str, passphrase: str) -> KeyPair:
    try:
        private = serialization.load_pem_private_key(pem.encode(), passphrase.encode())
    except (ValueError, TypeError):
        raise ConfigError(
            "setting JEMBATAN_KEY_PASSPHRASE is wrong: the node's private keys do not open with it"
        ) from None
    expected = Ed25519PrivateKey if use == "sig" else X25519PrivateKey
    if not isinstance(private, expected):
        raise ConfigError(f"stored {use} key is not {CURVES[use]}")
    return KeyPair(use, OKPKey.import_key(private))


def public_key(jwk: dict[str, Any]) -> OKPKey:
    """A peer's public JWK, checked: OKP, the right curve for its use, kid = thumbprint."""
    try:
        key = OKPKey.import_key({k: jwk[k] for k in ("kty", "crv", "x")})
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInput("not an OKP public JWK: {reason}", reason=str(exc)) from None
    use = jwk.get("use")
    if use in CURVES and jwk["crv"] != CURVES[use]:
        raise InvalidInput("a {use} key must be {crv}", use=use, crv=CURVES[use])
    if "kid" in jwk and jwk["kid"] != key.thumbprint():
        raise InvalidInput("kid {kid!r} is not the key's RFC 7638 thumbprint", kid=jwk["kid"])
    return key


def raw_public_ed25519(jwk: dict[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and isinstance(jwk.get("x"), str):
        return _ed25519(jwk["x"])  # every signed request asks: imported once per key
    key = public_key(jwk)
    pub = key.public_key
    if not isinstance(pub, Ed25519PublicKey):
        raise InvalidInput("not an Ed25519 key")
    return pub


@functools.lru_cache(maxsize=1024)
def _ed25519(x: str) -> Ed25519PublicKey:
    try:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise InvalidInput("not an Ed25519 key") from None
