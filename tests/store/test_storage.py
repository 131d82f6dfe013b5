"""The database schema on both engines, and the content-addressed blob store."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from jembatan.errors import InvalidInput, NotFound
from jembatan.node.context import Node
from jembatan.store import migrations
from jembatan.store.blobs import BlobStore
from jembatan.store.schema import Base
from tests.conftest import POSTGRES


def test_migrations_build_the_whole_schema(node: Node) -> None:
    assert migrations.current(node.engine) == migrations.head()
    tables = set(inspect(node.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert node.engine.dialect.name == ("postgresql" if POSTGRES else "sqlite")


def test_upgrade_again_changes_nothing(node: Node) -> None:
    migrations.upgrade(node.engine)
    assert migrations.current(node.engine) == migrations.head()


@pytest.mark.skipif(bool(POSTGRES), reason="SQLite pragmas")
def test_sqlite_runs_in_wal_mode_with_foreign_keys(node: Node) -> None:
    with node.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_foreign_keys_are_enforced(node: Node) -> None:
    from sqlalchemy.exc import IntegrityError

    from jembatan.accounts.models import WebSession
    from jembatan.store.schema import utcnow

    with pytest.raises(IntegrityError), node.transaction() as s:
        s.add(WebSession(id="x" * 64, user_id=999, expires_at=utcnow()))


def _chunks(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    block = os.urandom(size)
    sent = 0
    while sent < total:
        part = block[: min(size, total - sent)]
        sent += len(part)
        yield part


def test_blob_round_trip(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    blob = store.put_bytes(b"hello, bridge")
    assert blob.sha256 == hashlib.sha256(b"hello, bridge").hexdigest()
    assert blob.size == 13
    assert store.read_bytes(blob.sha256) == b"hello, bridge"
    assert store.exists(blob.sha256)
    # The same content is stored once.
    assert store.put_bytes(b"hello, bridge") == blob
    assert store.usage() == (1, 13)
    assert list((tmp_path / "tmp").iterdir()) == []
    assert store.delete(blob.sha256)
    with pytest.raises(NotFound):
        store.read_bytes(blob.sha256)


def test_blob_streams_in_constant_memory(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    total = 64 * 1024 * 1024
    digest = hashlib.sha256()
    source = _chunks(total)

    def tee() -> Iterator[bytes]:
        for chunk in source:
            digest.update(chunk)
            yield chunk

    tracemalloc.start()
    blob = store.put_stream(tee())
    read = sum(len(c) for c in store.iter_chunks(blob.sha256))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert blob.size == total
    assert read == total
    assert blob.sha256 == digest.hexdigest()
    assert peak < 8 * 1024 * 1024  # a few chunks, not the 64 MiB


def test_blob_over_the_limit_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(InvalidInput, match="larger than the limit"):
        store.put_stream(_chunks(3 * 1024 * 1024), max_size=2 * 1024 * 1024)
    assert store.usage() == (0, 0)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_blob_names_are_checked(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(InvalidInput):
        store.open("../../etc/passwd")
