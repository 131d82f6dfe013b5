"""Group commit: small writes that many requests make at once (a replay nonce, a call's
evidence) share one transaction. Each caller still waits until its own write is durable;
under load, one commit serves many requests instead of one each."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

T = TypeVar("T")


class Node(Protocol):
    """What a batcher needs of a node (the store does not depend on the node package)."""

    extras: dict[str, object]

    def transaction(self) -> AbstractContextManager[Session]: ...


Write = Callable[[Session], Any]
_lock = threading.Lock()


class Batcher:
    """One writer thread per node. A write must not raise for expected outcomes (use
    `insert_ignoring`); if one raises anyway, the batch is retried one write at a time so
    only that write fails."""

    LIMIT = 256

    def __init__(self, node: Node) -> None:
        self.node = node
        self.queue: queue.SimpleQueue[tuple[Write, Future[Any]]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="jembatan-group-commit", daemon=True).start()

    @classmethod
    def of(cls, node: Node) -> Batcher:
        with _lock:
            found = node.extras.get("batcher")
            if not isinstance(found, Batcher):
                found = node.extras["batcher"] = cls(node)
            return found

    def submit(self, write: Callable[[Session], T]) -> Future[T]:
        done: Future[T] = Future()
        self.queue.put((write, done))
        return done

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < self.LIMIT:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                with self.node.transaction() as s:
                    results = [write(s) for write, _ in batch]
            except Exception:
                for write, done in batch:
                    try:
                        with self.node.transaction() as s:
                            done.set_result(write(s))
                    except Exception as exc:
                        done.set_exception(exc)
                continue
            for (_, done), result in zip(batch, results, strict=True):
                done.set_result(result)


def insert_ignoring(s: Session, table: Any, values: dict[str, Any]) -> bool:
    """INSERT that does nothing when the key exists; True when the row was added."""
    dialect = s.get_bind().dialect.name
    statement: Insert
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    # RETURNING tells whether the row went in: neither driver's row count is reliable here.
    keys = list(table.__table__.primary_key.columns)
    return s.execute(statement.returning(*keys)).first() is not None
