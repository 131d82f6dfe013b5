"""Group commit: small writes that many requests make at once (a replay nonce, a call's
evidence) share one transaction. Each caller still waits until its own write is durable;
under load, one commit serves many requests instead of one each."""

from __future__ import annotations

import asyncio
import functools
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine

from jembatan.logs import get_logger
from jembatan.store.db import SQLITE_BUSY_MS, SQLITE_CHECKPOINT_PAGES
from jembatan.store.driver import Writes

Item = TypeVar("Item")
R = TypeVar("R")


class Node(Protocol):
    """What a batcher needs of a node (the store does not depend on the node package)."""

    extras: dict[str, object]
    engine: Engine


# Writes many items of one kind in the batch's transaction: one result per item, in order.
# Statements go straight to the driver (store/driver.py): a batch is the hot path.
Write = Callable[[Writes, list[Any]], list[Any]]
Entry = tuple[Write, Any, "Future[Any] | asyncio.Future[Any]"]
_lock = threading.Lock()
log = get_logger("jembatan.store")


class Batcher:
    """Items submitted with the same write function are written together by one call of
    it. A write must not raise for expected outcomes (return them as results, see
    `insert_new`); if one raises anyway, the batch is retried one item at a time so only
    that item fails.

    On SQLite the batch is what the event loop's tasks submitted in one turn of the loop,
    written on the loop itself: a local write takes less than handing it to a thread and
    back. Such a write does not wait for another writer's lock (that would stop the whole
    loop): when the database is busy, or a write fails, the batch goes to the writer
    thread instead, which waits and retries. On PostgreSQL, whose round trips may be long,
    every batch goes to the writer thread: whatever queued up while it was writing."""

    LIMIT = 256
    # SQLite: commits made on the loop leave the write-ahead log to a thread of its own,
    # which checkpoints it after this many (see _checkpoint).
    CHECKPOINT_EVERY = 64

    def __init__(self, node: Node) -> None:
        self.node = node
        self.on_loop = node.engine.dialect.name == "sqlite"
        self.pending: dict[asyncio.AbstractEventLoop, list[Entry]] = {}
        self.queue: queue.SimpleQueue[Entry] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.commits = 0
        self.checkpoint_due = threading.Event()
        self.checkpointer: threading.Thread | None = None

    @classmethod
    def of(cls, node: Node) -> Batcher:
        with _lock:
            found = node.extras.get("batcher")
            if not isinstance(found, Batcher):
                found = node.extras["batcher"] = cls(node)
            return found

    async def write(self, write: Callable[[Writes, list[Item]], list[R]], item: Item) -> R:
        """Write the item with others, and wait until it is committed."""
        if not self.on_loop:
            return await asyncio.wrap_future(self._enqueue(write, item))
        loop = asyncio.get_running_loop()
        done: asyncio.Future[R] = loop.create_future()
        pending = self.pending.setdefault(loop, [])
        if not pending:
            loop.call_soon(self._flush, loop)
        pending.append((write, item, done))
        return await done

    def _enqueue(self, write: Write, item: Any) -> Future[Any]:
        """For the writer thread, started when first needed."""
        with _lock:
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="jembatan-group-commit", daemon=True
                )
                self.thread.start()
        done: Future[Any] = Future()
        self.queue.put((write, item, done))
        return done

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self.pending.pop(loop, [])
        for start in range(0, len(batch), self.LIMIT):
            chunk = batch[start : start + self.LIMIT]
            try:
                with self._transaction(on_loop=True) as w:
                    results = _write_all(w, chunk)
            except Exception:  # busy, or a write failed: the writer thread waits and retries
                for write, item, done in chunk:
                    later = self._enqueue(write, item)
                    later.add_done_callback(functools.partial(_pass_on, loop, done))
                continue
            self._committed()
            for (_, _, done), result in zip(chunk, results, strict=True):
                _settle(done, result=result)

    def _committed(self) -> None:
        self.commits += 1
        if self.commits % self.CHECKPOINT_EVERY:
            return
        with _lock:
            if self.checkpointer is None:
                self.checkpointer = threading.Thread(
                    target=self._checkpoint, name="jembatan-wal-checkpoint", daemon=True
                )
                self.checkpointer.start()
        self.checkpoint_due.set()

    def _checkpoint(self) -> None:
        """Copies what the log holds into the database, beside the loop (the GIL is
        released while SQLite works); PASSIVE: nobody waits for it."""
        while True:
            self.checkpoint_due.wait()
            self.checkpoint_due.clear()
            try:
                with self.node.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:  # the next commit of any connection checkpoints instead
                log.warning("write-ahead log checkpoint failed", exc_info=True)

    @contextmanager
    def _transaction(self, on_loop: bool = False) -> Iterator[Writes]:
        """Committed when the block ends, rolled back on any error; on a pooled driver
        connection (the pool's Connection and Transaction objects cost more than a small
        batch's writes). On the loop (SQLite), it neither waits for another writer's lock
        nor checkpoints the write-ahead log as it commits: a checkpoint copies pages into
        the database and syncs it, milliseconds the loop would stand still (_checkpoint
        does it beside the loop)."""
        pooled = self.node.engine.raw_connection()
        driver = pooled.driver_connection
        assert driver is not None
        try:
            if on_loop:
                driver.execute("PRAGMA busy_timeout=0")
                driver.execute("PRAGMA wal_autocheckpoint=0")
            try:
                yield Writes(self.node.engine.dialect, driver)
                pooled.commit()
            except BaseException:
                pooled.rollback()
                raise
            finally:
                if on_loop:
                    driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
                    driver.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
        finally:
            pooled.close()

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < self.LIMIT:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[Entry]) -> None:
        try:
            with self._transaction() as w:
                results = _write_all(w, batch)
        except Exception:
            for write, item, done in batch:
                try:
                    with self._transaction() as w:
                        _settle(done, result=write(w, [item])[0])
                except Exception as exc:
                    _settle(done, error=exc)
            return
        for (_, _, done), result in zip(batch, results, strict=True):
            _settle(done, result=result)


def _settle(
    done: Future[Any] | asyncio.Future[Any], result: Any = None, error: BaseException | None = None
) -> None:
    if done.done():  # its caller stopped waiting (the request was cancelled)
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(result)


def _pass_on(
    loop: asyncio.AbstractEventLoop, target: Future[Any] | asyncio.Future[Any], source: Future[Any]
) -> None:
    """The writer thread's outcome, to a future of the event loop (on the loop's thread)."""
    error = source.exception()
    loop.call_soon_threadsafe(_settle, target, source.result() if error is None else None, error)


def _write_all(w: Writes, batch: list[Entry]) -> list[Any]:
    kinds: dict[Write, list[int]] = {}
    for position, (write, _, _) in enumerate(batch):
        kinds.setdefault(write, []).append(position)
    results: list[Any] = [None] * len(batch)
    for write, positions in kinds.items():
        written = write(w, [batch[p][1] for p in positions])
        for position, result in zip(positions, written, strict=True):
            results[position] = result
    return results
