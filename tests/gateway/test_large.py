"""A 1 GiB body each way through the gateway: streamed by both nodes, never held whole,
so the process (client, both nodes and the internal service together) stays small."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import SERVICE, Setup

pytestmark = pytest.mark.slow
SIZE = 1024**3
GROWTH_LIMIT = 200 * 1024 * 1024  # bytes of resident memory the whole test may add


def _rss() -> int:
    status = Path("/proc/self/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS"))
    return int(line.split()[1]) * 1024


class PeakRss:
    """Samples this process's resident memory while a block runs."""

    def __init__(self) -> None:
        self.start = _rss()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


def _blocks(digest: hashlib._Hash) -> Iterator[bytes]:
    block = bytes(range(256)) * 4096  # 1 MiB
    for i in range(SIZE // len(block)):
        piece = block[i % 256 :] + block[: i % 256]
        digest.update(piece)
        yield piece


def test_one_gib_each_way_streams_with_bounded_memory(setup: Setup) -> None:
    sent = hashlib.sha256()
    with PeakRss() as up:
        answer = setup.call(
            "MYS",
            "POST",
            f"{SERVICE}/digest",
            content=_blocks(sent),
            headers={"Content-Length": str(SIZE), "Content-Type": "application/octet-stream"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"size": SIZE, "sha256": sent.hexdigest()}
    assert up.growth < GROWTH_LIMIT, f"upload grew the process by {up.growth >> 20} MiB"

    expected = hashlib.sha256()
    for piece in _blocks_plain():
        expected.update(piece)
    got, size = hashlib.sha256(), 0
    with (
        PeakRss() as down,
        httpx.stream(
            "GET",
            setup.url(setup.mys, f"{SERVICE}/produce?size={SIZE}"),
            headers={
                "Authorization": f"Bearer {setup.tokens['MYS']}",
                "X-Road-Client": "ASEAN/GOV/MYS/portal",
            },
            timeout=120,
        ) as streamed,
    ):
        assert streamed.status_code == 200
        assert streamed.headers["content-length"] == str(SIZE)
        for chunk in streamed.iter_raw():
            got.update(chunk)
            size += len(chunk)
    assert size == SIZE
    assert got.hexdigest() == expected.hexdigest()
    assert down.growth < GROWTH_LIMIT, f"download grew the process by {down.growth >> 20} MiB"


def _blocks_plain() -> Iterator[bytes]:
    block = bytes(range(256)) * 256  # the 64 KiB block the echo service repeats
    for _ in range(SIZE // len(block)):
        yield block
