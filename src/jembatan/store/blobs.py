"""Content-addressed file store: SHA-256 names, atomic writes, streamed in and out."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from jembatan.errors import InvalidInput, NotFound

CHUNK = 1024 * 1024
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Blob:
    sha256: str
    size: int


class BlobStore:
    """Blobs live at <root>/<aa>/<bb>/<sha256>; a half-written blob is never visible."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"

    def _path(self, sha256: str) -> Path:
        if not _DIGEST.match(sha256):
            raise InvalidInput("not a SHA-256 hex digest: {value!r}", value=sha256[:80])
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put_stream(self, chunks: Iterable[bytes], max_size: int | None = None) -> Blob:
        """Store the bytes; memory use is one chunk whatever the size."""
        self._tmp.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="in-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if max_size is not None and size > max_size:
                        raise InvalidInput(
                            "file is larger than the limit of {limit} bytes", limit=max_size
                        )
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self._path(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, final)
            _fsync_dir(final.parent)
            return Blob(sha, size)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def temp_path(self, name: str) -> Path:
        """A path for work in progress inside the store (same file system: renames are
        atomic)."""
        self._tmp.mkdir(parents=True, exist_ok=True)
        return self._tmp / name

    def adopt(self, path: Path) -> Blob:
        """Move a finished file into the store under its SHA-256 (one streaming read)."""
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
            os.fsync(f.fileno())
        final = self._path(digest.hexdigest())
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, final)
        _fsync_dir(final.parent)
        return Blob(digest.hexdigest(), size)

    def put_file(self, source: BinaryIO, max_size: int | None = None) -> Blob:
        return self.put_stream(iter(lambda: source.read(CHUNK), b""), max_size)

    def put_bytes(self, data: bytes) -> Blob:
        return self.put_stream([data])

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def size(self, sha256: str) -> int:
        try:
            return self._path(sha256).stat().st_size
        except FileNotFoundError:
            raise NotFound("blob {sha256} is not in the store", sha256=sha256) from None

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self._path(sha256).open("rb")
        except FileNotFoundError:
            raise NotFound("blob {sha256} is not in the store", sha256=sha256) from None

    def iter_chunks(self, sha256: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        with self.open(sha256) as f:
            while chunk := f.read(chunk_size):
                yield chunk

    def read_bytes(self, sha256: str) -> bytes:
        with self.open(sha256) as f:
            return f.read()

    def delete(self, sha256: str) -> bool:
        path = self._path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True

    def usage(self) -> tuple[int, int]:
        """(number of blobs, total bytes)."""
        count = total = 0
        for path in self.root.glob("??/??/*"):
            count += 1
            total += path.stat().st_size
        return count, total


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
