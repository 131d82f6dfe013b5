"""Large payloads: an age stream sent in authenticated chunks, resumable from the last
acknowledged byte, its hash checked before the message is accepted. Memory stays at one
chunk on both ends whatever the size."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from jembatan.crypto import age
from jembatan.crypto.canonical import canonical_json
from jembatan.errors import Conflict, Forbidden, InvalidInput
from jembatan.exchange.models import Message, Transfer
from jembatan.identifiers import uuid7
from jembatan.node.context import Node
from jembatan.registry.peers import send_signed
from jembatan.store.blobs import Blob
from jembatan.store.schema import utcnow

MANIFEST_TYPE = "application/vnd.jembatan.transfer+json"
FORMAT = "age-v1"
CHUNK = 1024 * 1024  # small enough that buffers never dominate a node's memory
MAX_CHUNK = 4 * 1024 * 1024
_MID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Manifest:
    """What the signed envelope says about a payload that travels apart."""

    content_type: str
    filename: str | None
    size: int
    sha256: str
    ciphertext_size: int
    ciphertext_sha256: str

    def to_bytes(self) -> bytes:
        doc: dict[str, Any] = {
            "format": FORMAT,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "ciphertext_size": self.ciphertext_size,
            "ciphertext_sha256": self.ciphertext_sha256,
        }
        if self.filename:
            doc["filename"] = self.filename
        return canonical_json(doc)

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        try:
            doc = json.loads(raw)
            if doc["format"] != FORMAT:
                raise InvalidInput("unknown transfer format {f!r}", f=doc["format"])
            return cls(
                str(doc["content_type"]),
                doc.get("filename"),
                int(doc["size"]),
                str(doc["sha256"]),
                int(doc["ciphertext_size"]),
                str(doc["ciphertext_sha256"]),
            )
        except (ValueError, KeyError, TypeError):
            raise InvalidInput("the transfer manifest is malformed") from None


def seal_stream(
    node: Node,
    source: BinaryIO,
    recipients: list[dict[str, Any]],
    content_type: str,
    filename: str | None,
) -> tuple[Manifest, Blob]:
    """Encrypt a stream to the recipients (and ourselves) into the blob store."""
    tmp = node.blobs.temp_path(f"out-{uuid7()}.age")
    try:
        with tmp.open("wb") as out:
            plain = age.encrypt_stream(source, out, recipients)
            out.flush()
        if plain.size > node.settings.max_transfer_bytes:
            raise InvalidInput(
                "the file is larger than the limit of {n} bytes", n=node.settings.max_transfer_bytes
            )
        blob = node.blobs.adopt(tmp)
    finally:
        tmp.unlink(missing_ok=True)
    manifest = Manifest(
        content_type, filename, plain.size, plain.sha256.hexdigest(), blob.size, blob.sha256
    )
    return manifest, blob


# Sender ------------------------------------------------------------------------------------


def push(
    node: Node, message: Message, node_url: str, still_mine: Callable[[], None] = lambda: None
) -> None:
    """Upload the age stream from where the recipient says it stands; raises on failure
    (the delivery worker retries later and resumes). `still_mine` renews the worker's
    lease after each chunk, so a long transfer is never taken over by another worker."""
    assert message.bulk_sha256 is not None
    total = node.blobs.size(message.bulk_sha256)
    url = f"{node_url}/fed/v1/transfers/{message.id}"
    answer = send_signed(node, "GET", url)
    if answer.status_code != 200:
        raise refusal(answer)
    offset = int(answer.json()["received"])
    with node.blobs.open(message.bulk_sha256) as f:
        f.seek(offset)
        while offset < total:
            chunk = f.read(CHUNK)
            answer = send_signed(
                node,
                "PUT",
                f"{url}?offset={offset}&total={total}",
                chunk,
                "application/octet-stream",
            )
            if answer.status_code == 409 and "received" in answer.json():
                offset = int(answer.json()["received"])  # the receiver knows better
                f.seek(offset)
                continue
            if answer.status_code != 200:
                raise refusal(answer)
            offset = int(answer.json()["received"])
            still_mine()


class TransferRefused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def refusal(answer: Any, what: str = "transfer refused") -> TransferRefused:
    """A peer's non-200 answer as an exception carrying its status and problem detail."""
    try:
        detail = str(answer.json().get("detail", ""))
    except ValueError:
        detail = answer.text[:300]
    return TransferRefused(answer.status_code, f"{what} ({answer.status_code}): {detail}")


# Receiver ----------------------------------------------------------------------------------


def _path(node: Node, mid: str) -> Path:
    return node.blobs.temp_path(f"transfer-{mid}.age")


def _check_mid(mid: str) -> str:
    if not _MID.match(mid):
        raise InvalidInput("{mid!r} is not a message id (UUIDv7)", mid=mid)
    return mid


def status(node: Node, sender: str, mid: str) -> int:
    """Bytes acknowledged so far. For a message already accepted (its receipt was lost on
    the way back), all of it: the sender then re-sends only the envelope and gets the
    original receipt."""
    with node.db() as s:
        row = s.get(Transfer, _check_mid(mid))
        held = s.get(Message, mid)
    if held is not None and held.box == "inbox" and held.bulk_sha256 is not None:
        if held.sender != sender:
            raise Forbidden("this transfer belongs to another sender")
        return node.blobs.size(held.bulk_sha256)
    if row is None:
        return 0
    if row.sender != sender:
        raise Forbidden("this transfer belongs to another sender")
    return row.received


def accept_chunk(node: Node, sender: str, mid: str, offset: int, total: int, chunk: bytes) -> int:
    """Append one authenticated chunk at the offset we acknowledged last."""
    _check_mid(mid)
    if not 0 < total <= node.settings.max_transfer_bytes + 1024 * 1024:
        raise InvalidInput("the transfer is larger than this node accepts")
    if len(chunk) > MAX_CHUNK or not chunk:
        raise InvalidInput("a chunk must be 1 byte to {n} bytes", n=MAX_CHUNK)
    with node.db() as s:
        if s.get(Message, mid) is not None:
            raise Conflict("message {mid} is already held", mid=mid)
    path = _path(node, mid)
    with node.transaction() as s:
        row = s.get(Transfer, mid, with_for_update=True)
        if row is None:
            row = Transfer(message_id=mid, sender=sender, total=total, received=0)
            s.add(row)
        if row.sender != sender:
            raise Forbidden("this transfer belongs to another sender")
        if row.total != total:
            raise InvalidInput("the total size changed during the transfer")
        if offset != row.received:
            raise OffsetMismatch(row.received)
        if offset + len(chunk) > total:
            raise InvalidInput("the chunk runs past the announced total")
        with path.open("ab") as f:
            f.truncate(offset)  # drop any tail written before a crash but not acknowledged
            f.write(chunk)
            f.flush()
            import os

            os.fsync(f.fileno())
        row.received = offset + len(chunk)
        row.updated_at = utcnow()
        return row.received


class OffsetMismatch(Conflict):
    def __init__(self, received: int) -> None:
        super().__init__("resume from byte {received}", received=received)
        self.received = received
        self.extra = {"received": received}


def finish(node: Node, sender: str, mid: str, manifest: Manifest) -> Blob:
    """Check the complete stream against the signed manifest (ciphertext hash, then the
    plaintext hash by decrypting it once, streaming) and move it into the blob store."""
    with node.db() as s:
        row = s.get(Transfer, mid)
    if row is None or row.sender != sender:
        raise InvalidInput("no transfer for message {mid} has arrived", mid=mid)
    if row.received != manifest.ciphertext_size or row.total != manifest.ciphertext_size:
        raise InvalidInput(
            "the transfer is incomplete: {got} of {want} bytes",
            got=row.received,
            want=manifest.ciphertext_size,
        )
    path = _path(node, mid)
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1024 * 1024):
            digest.update(block)
    if digest.hexdigest() != manifest.ciphertext_sha256:
        raise InvalidInput("the transferred bytes do not match the signed manifest")
    with path.open("rb") as f:
        plain = age.decrypt_stream(
            f, age.HashingWriter(limit=manifest.size), node.keys().decrypting
        )
    if plain.size != manifest.size or plain.sha256.hexdigest() != manifest.sha256:
        raise InvalidInput("the decrypted file does not match the signed manifest")
    return node.blobs.adopt(path)


def forget(node: Node, mid: str) -> None:
    with node.transaction() as s:
        row = s.get(Transfer, mid)
        if row is not None:
            s.delete(row)
    _path(node, mid).unlink(missing_ok=True)


def read_to(node: Node, message: Message, target: BinaryIO) -> int:
    """Decrypt a stored large payload into `target`, checking its hash on the way."""
    assert message.bulk_sha256 is not None
    with node.blobs.open(message.bulk_sha256) as f:
        plain = age.decrypt_stream(f, age.HashingWriter(target), node.keys().decrypting)
    if plain.sha256.hexdigest() != message.payload_sha256:
        raise InvalidInput("the stored file does not match its recorded hash")
    return plain.size
