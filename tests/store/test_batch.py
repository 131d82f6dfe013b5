"""Group commit: items of one kind written together, each caller answered with its own
result; on SQLite written on the event loop without ever waiting there for a lock."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

import pytest

from jembatan.node.context import Node
from jembatan.registry.models import SeenNonce
from jembatan.store import batch
from jembatan.store.batch import Batcher
from jembatan.store.driver import Writes, insert_new
from jembatan.store.schema import utcnow
from tests.conftest import POSTGRES

CALLS: list[int] = []


def _nonces(w: Writes, names: list[str]) -> list[bool]:
    CALLS.append(len(names))
    if "boom" in names:
        raise ValueError("one bad item")
    now = utcnow()
    return insert_new(w, SeenNonce, [{"keyid": "k", "nonce": n, "expires_at": now} for n in names])


async def _write_all(node: Node, names: list[str]) -> list[Any]:
    batcher = Batcher.of(node)
    return await asyncio.gather(
        *(batcher.write(_nonces, name) for name in names), return_exceptions=True
    )


def test_items_are_written_together_with_a_result_each(node: Node) -> None:
    CALLS.clear()
    results = asyncio.run(_write_all(node, ["a", "b", "a", "c"]))
    assert results == [True, True, False, True]  # the second "a" found the first
    if not POSTGRES:
        assert CALLS == [4]  # one turn of the loop, one call, one transaction
    assert asyncio.run(_write_all(node, ["b", "d"])) == [False, True]


def test_a_failing_item_fails_alone(node: Node) -> None:
    results = asyncio.run(_write_all(node, ["x", "boom", "y"]))
    assert results[0] is True
    assert results[2] is True
    assert isinstance(results[1], ValueError)


@pytest.mark.skipif(bool(POSTGRES), reason="SQLite's single writer lock")
def test_a_busy_database_does_not_stop_the_event_loop(node: Node) -> None:
    """Another writer holds the lock: the batch waits in the writer thread, the loop runs."""
    path = node.engine.url.database
    assert path
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")

    async def scenario() -> tuple[int, list[Any]]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        beat = asyncio.create_task(ticker())
        writing = asyncio.create_task(_write_all(node, ["held-1", "held-2"]))
        await asyncio.sleep(0.5)
        assert not writing.done()  # still waiting for the lock
        seen = ticks
        holder.execute("COMMIT")
        results = await asyncio.wait_for(writing, 15)
        beat.cancel()
        return seen, results

    started = time.monotonic()
    ticks, results = asyncio.run(scenario())
    holder.close()
    assert ticks >= 20  # the loop kept turning while the write waited
    assert results == [True, True]
    assert time.monotonic() - started < 10


@pytest.mark.skipif(bool(POSTGRES), reason="SQLite's write-ahead log")
def test_commits_on_the_loop_leave_the_checkpoint_to_a_thread(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the loop commits stays in the write-ahead log, even where any commit would
    checkpoint it, until the checkpoint thread copies it into the database file (read
    here without the log)."""
    monkeypatch.setattr(batch, "SQLITE_CHECKPOINT_PAGES", 1)  # elsewhere: every commit
    monkeypatch.setattr(Batcher, "CHECKPOINT_EVERY", 3)
    path = node.engine.url.database
    assert path

    def in_file(name: str) -> bool:
        file_only = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            found = file_only.execute("SELECT 1 FROM seen_nonces WHERE nonce = ?", (name,))
            return found.fetchone() is not None
        finally:
            file_only.close()

    with node.engine.connect() as conn:  # start from a log copied in full
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    asyncio.run(_write_all(node, ["wal-1"]))
    asyncio.run(_write_all(node, ["wal-2"]))
    assert not in_file("wal-1")  # committed, in the log only
    assert not in_file("wal-2")
    asyncio.run(_write_all(node, ["wal-3"]))  # the third commit calls the checkpoint
    deadline = time.monotonic() + 10
    while not in_file("wal-3") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(in_file(name) for name in ("wal-1", "wal-2", "wal-3"))
