"""The node's own keys: created at init, unlocked with the passphrase, rotated on request."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jembatan.crypto import keys
from jembatan.crypto.keys import KeyPair, Use
from jembatan.node.models import NodeKey

NODE = "node"
REGISTRY = "registry"


@dataclass
class Keyring:
    """Unlocked private keys, by purpose: the newest active key signs; every key not yet
    retired can still decrypt."""

    signing: dict[str, KeyPair] = field(default_factory=dict)
    decrypting: list[KeyPair] = field(default_factory=list)
    public: list[dict[str, Any]] = field(default_factory=list)
    by_kid: dict[str, KeyPair] = field(default_factory=dict)
    passphrase: str = field(default="", repr=False)  # to seal keys made while running

    def signer(self, purpose: str = NODE) -> KeyPair:
        try:
            return self.signing[purpose]
        except KeyError:
            raise LookupError(f"this node holds no active {purpose} signing key") from None


def add_key(s: Session, passphrase: str, purpose: str, use: Use, status: str) -> KeyPair:
    pair = keys.generate(use)
    s.add(
        NodeKey(
            kid=pair.kid,
            purpose=purpose,
            use=use,
            public_jwk=json.dumps(pair.public_jwk()),
            private_pem=pair.encrypted_pem(passphrase),
            status=status,
        )
    )
    return pair


def create_node_keys(s: Session, passphrase: str) -> None:
    add_key(s, passphrase, NODE, "sig", "active")
    add_key(s, passphrase, NODE, "enc", "active")


def load_keyring(s: Session, passphrase: str) -> Keyring:
    ring = Keyring(passphrase=passphrase)
    rows = s.scalars(
        select(NodeKey).where(NodeKey.status != "retired").order_by(NodeKey.created_at)
    )
    for row in rows:
        pair = keys.load_pem(row.use, row.private_pem, passphrase)  # type: ignore[arg-type]
        ring.by_kid[pair.kid] = pair
        if row.status == "active" and row.use == "sig":
            ring.signing[row.purpose] = pair  # ordered by age: the newest wins
        if row.use == "enc":
            ring.decrypting.append(pair)
        if row.status in ("active", "retiring"):
            ring.public.append({**json.loads(row.public_jwk), "purpose": row.purpose})
    return ring


def key_states(node: Any) -> tuple[tuple[str, str], ...]:
    with node.db() as s:
        rows = s.execute(select(NodeKey.kid, NodeKey.status).order_by(NodeKey.kid))
        return tuple((kid, status) for kid, status in rows)
