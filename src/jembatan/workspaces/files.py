"""The bytes of document versions: streamed in, hashed, their text extracted for search,
and kept only as an age stream encrypted to this node's own keys."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from jembatan.crypto import age
from jembatan.errors import InvalidInput, NotFound
from jembatan.exchange import transfer
from jembatan.identifiers import uuid7
from jembatan.node.context import Node
from jembatan.store.driver import insert_ignoring
from jembatan.workspaces.extract import extract_text
from jembatan.workspaces.models import WorkspaceFile

_COPY = 1024 * 1024


@contextmanager
def plain_copy(node: Node, source: BinaryIO) -> Iterator[tuple[Path, str, int]]:
    """The stream as a temporary file (for text extraction and re-encryption), with its
    SHA-256 and size; removed when the block ends."""
    tmp = node.blobs.temp_path(f"ws-{uuid7()}.plain")
    limit = node.settings.max_transfer_bytes
    digest, size = hashlib.sha256(), 0
    try:
        with tmp.open("wb") as out:
            while chunk := source.read(_COPY):
                size += len(chunk)
                if size > limit:
                    raise InvalidInput("the file is larger than the limit of {n} bytes", n=limit)
                digest.update(chunk)
                out.write(chunk)
        yield tmp, digest.hexdigest(), size
    finally:
        tmp.unlink(missing_ok=True)


def store(
    node: Node,
    workspace: str,
    source: BinaryIO,
    content_type: str,
    filename: str,
    expect: str | None = None,
) -> tuple[str, int]:
    """Keep a file for a workspace; returns its SHA-256 and size. With `expect`, a file
    whose hash differs is refused."""
    with plain_copy(node, source) as (path, sha256, size):
        if expect is not None and sha256 != expect:
            raise InvalidInput("the file does not match the hash its document names")
        if held(node, workspace, sha256):
            return sha256, size
        text = extract_text(path, content_type, filename)
        own = node.keys().decrypting[-1].public_jwk()
        with path.open("rb") as plain:
            _, blob = transfer.seal_stream(node, plain, [own], content_type, filename)
    with node.transaction() as s:
        insert_ignoring(
            s,
            WorkspaceFile,
            {
                "workspace_id": workspace,
                "sha256": sha256,
                "size": size,
                "blob_sha256": blob.sha256,
                "text": text,
            },
        )
    return sha256, size


def held(node: Node, workspace: str, sha256: str) -> bool:
    with node.db() as s:
        return s.get(WorkspaceFile, (workspace, sha256)) is not None


def write(node: Node, workspace: str, sha256: str, target: BinaryIO) -> int:
    """Decrypt a held file into `target`, checking its hash on the way."""
    with node.db() as s:
        row = s.get(WorkspaceFile, (workspace, sha256))
    if row is None:
        raise NotFound("this version's file has not arrived at this node yet")
    with node.blobs.open(row.blob_sha256) as f:
        plain = age.decrypt_stream(f, age.HashingWriter(target), node.keys().decrypting)
    if plain.sha256.hexdigest() != sha256:
        raise InvalidInput("the stored file does not match its recorded hash")
    return plain.size


@contextmanager
def decrypted(node: Node, workspace: str, sha256: str) -> Iterator[Path]:
    """A held file as a temporary plain file (to send it on); removed afterwards."""
    tmp = node.blobs.temp_path(f"ws-{uuid7()}.out")
    try:
        with tmp.open("wb") as out:
            write(node, workspace, sha256, out)
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def texts_in(s: Session, workspace: str, shas: set[str] | None = None) -> dict[str, str]:
    """Extracted text of each file held (or of these), by its hash."""
    query = select(WorkspaceFile.sha256, WorkspaceFile.text).where(
        WorkspaceFile.workspace_id == workspace
    )
    if shas is not None:
        query = query.where(WorkspaceFile.sha256.in_(shas))
    rows = s.execute(query)
    return {str(sha): str(text) for sha, text in rows}


def forget(node: Node, workspace: str, keep: set[str]) -> list[str]:
    """Remove the files of a workspace not in `keep`; returns their hashes."""
    with node.transaction() as s:
        rows = list(s.scalars(select(WorkspaceFile).where(WorkspaceFile.workspace_id == workspace)))
        gone = [r for r in rows if r.sha256 not in keep]
        for row in gone:
            s.delete(row)
    for row in gone:
        node.blobs.delete(row.blob_sha256)
    return [r.sha256 for r in gone]
