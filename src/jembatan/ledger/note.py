"""Checkpoints as C2SP signed notes (tlog-checkpoint, signed-note) and witness
cosignatures (tlog-cosignature v1), with Ed25519."""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

NOTE_ED25519 = 0x01
COSIGNATURE_ED25519 = 0x04
COSIGNATURE_HEADER = b"cosignature/v1\n"
DASH = "\u2014"  # the em dash that opens every signature line
MAX_NOTE = 64 * 1024


class NoteError(ValueError):
    """A note or signature that cannot be read or does not verify."""


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes  # for cosignatures: 8-byte timestamp then the Ed25519 signature

    def line(self) -> str:
        return f"{DASH} {self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


@dataclass(frozen=True)
class Note:
    body: str  # the text that is signed, ending in a newline
    signatures: tuple[Signature, ...]

    @property
    def origin(self) -> str:
        return self.body.split("\n", 1)[0]

    @property
    def size(self) -> int:
        return int(self.body.split("\n")[1])

    @property
    def root(self) -> bytes:
        return base64.b64decode(self.body.split("\n")[2], validate=True)

    def text(self) -> str:
        return self.body + "\n" + "".join(sig.line() for sig in self.signatures)

    def by(self, name: str) -> list[Signature]:
        return [sig for sig in self.signatures if sig.name == name]


def raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, public: Ed25519PublicKey, kind: int) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + raw(public)).digest()[:4]


def verifier_key(name: str, public: Ed25519PublicKey) -> str:
    """The signed-note verifier key string: name+hex key id+base64(type || key)."""
    kid = key_id(name, public, NOTE_ED25519).hex()
    return f"{name}+{kid}+{base64.b64encode(bytes([NOTE_ED25519]) + raw(public)).decode()}"


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign(body: str, name: str, key: Ed25519PrivateKey) -> Signature:
    sig = key.sign(body.encode())
    return Signature(name, key_id(name, key.public_key(), NOTE_ED25519), sig)


def cosign(body: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> Signature:
    message = COSIGNATURE_HEADER + f"time {timestamp}\n".encode() + body.encode()
    signed = struct.pack(">Q", timestamp) + key.sign(message)
    return Signature(name, key_id(name, key.public_key(), COSIGNATURE_ED25519), signed)


def verify(body: str, sig: Signature, public: Ed25519PublicKey) -> None:
    if sig.key_id != key_id(sig.name, public, NOTE_ED25519):
        raise NoteError(f"signature by {sig.name} is not made with that key")
    try:
        public.verify(sig.signature, body.encode())
    except InvalidSignature:
        raise NoteError(f"signature by {sig.name} does not verify") from None


def verify_cosignature(body: str, sig: Signature, public: Ed25519PublicKey) -> int:
    """Check a cosignature; returns its timestamp."""
    if sig.key_id != key_id(sig.name, public, COSIGNATURE_ED25519):
        raise NoteError(f"cosignature by {sig.name} is not made with that key")
    if len(sig.signature) != 72:
        raise NoteError(f"cosignature by {sig.name} has the wrong length")
    (timestamp,) = struct.unpack(">Q", sig.signature[:8])
    message = COSIGNATURE_HEADER + f"time {timestamp}\n".encode() + body.encode()
    try:
        public.verify(sig.signature[8:], message)
    except InvalidSignature:
        raise NoteError(f"cosignature by {sig.name} does not verify") from None
    return int(timestamp)


def parse(text: str) -> Note:
    """Read a signed note; checks the form, not the signatures."""
    if len(text) > MAX_NOTE:
        raise NoteError("note too large")
    body, sep, sigs = text.partition("\n\n")
    if not sep or not body:
        raise NoteError("a note needs a text, a blank line and signature lines")
    body += "\n"
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise NoteError("a checkpoint has an origin, a size and a root hash line")
    origin, size, root = lines[:3]
    if not origin or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise NoteError("checkpoint origin or size line is malformed")
    try:
        if len(base64.b64decode(root, validate=True)) != 32:
            raise NoteError("the root hash must be 32 bytes")
    except binascii.Error:
        raise NoteError("the root hash is not base64") from None
    signatures = []
    for line in sigs.split("\n"):
        if not line:
            continue
        prefix, _, rest = line.partition(" ")
        name, _, encoded = rest.rpartition(" ")
        if prefix != DASH or not name:
            raise NoteError("a signature line is malformed")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise NoteError("a signature is not base64") from None
        if len(blob) < 5:
            raise NoteError("a signature is too short")
        signatures.append(Signature(name, blob[:4], blob[4:]))
    if not signatures:
        raise NoteError("the note carries no signature")
    return Note(body, tuple(signatures))
