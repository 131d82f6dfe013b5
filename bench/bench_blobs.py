"""Blob store: streaming a large file in and out, against plain file writes and reads."""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.harness import Result, best_of
from jembatan.store.blobs import BlobStore

SIZE = 256 * 1024 * 1024
CHUNK = 1024 * 1024


_BLOCK = random.Random(7).randbytes(CHUNK)


def _source() -> Iterator[bytes]:
    block = _BLOCK
    for i in range(SIZE // CHUNK):
        # Vary one byte per chunk so the content is not one repeated block.
        yield bytes([i % 256]) + block[1:]


def _raw_write(path: Path) -> None:
    with path.open("wb") as f:
        for chunk in _source():
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        raw_path = root / "raw.bin"
        raw_write = best_of(3, lambda: _raw_write(raw_path))

        def raw_read() -> None:
            with raw_path.open("rb") as f:
                while f.read(CHUNK):
                    pass

        raw_read_s = best_of(3, raw_read)
        store = BlobStore(root / "blobs")
        blob = store.put_stream(_source())

        def put() -> None:
            store.delete(blob.sha256)
            store.put_stream(_source())

        def get() -> None:
            for _ in store.iter_chunks(blob.sha256):
                pass

        put_s = best_of(3, put)
        get_s = best_of(3, get)
    mib = SIZE / (1024 * 1024)
    return [
        Result(
            "blob store",
            "write 256 MiB (hash + fsync + rename)",
            mib / put_s,
            "MiB/s",
            mib / raw_write,
            "ratio ≥ 0.5 of a plain fsynced write",
        ),
        Result(
            "blob store",
            "read 256 MiB",
            mib / get_s,
            "MiB/s",
            mib / raw_read_s,
            "ratio ≥ 0.8 of a plain read",
        ),
    ]
