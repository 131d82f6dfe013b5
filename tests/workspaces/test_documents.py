"""Documents and the project view on one node: a large file streams through in bounded
memory and is stored only encrypted; the progress view counts what is done and late."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from datetime import date, timedelta

from sqlalchemy import select

from jembatan.accounts.services import find_user
from jembatan.node.context import Node
from jembatan.workspaces import fold, held
from jembatan.workspaces import services as ws
from jembatan.workspaces.models import WorkspaceFile, WorkspaceText
from jembatan.workspaces.services import Person
from tests.conftest import add_user

MiB = 1024 * 1024


class Stream(io.RawIOBase):
    """`size` bytes made on the fly: the test never holds the file either."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = os.urandom(MiB)
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left, MiB)
        buffer[:n] = self.block[:n]
        self.digest.update(self.block[:n])
        self.left -= n
        return n


class Sink(io.RawIOBase):
    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def test_a_large_document_streams_in_bounded_memory_and_rests_encrypted(node: Node) -> None:
    add_user(node, "ana", "officer")
    ana = Person.of(find_user(node, "ana"))
    wid = ws.create(node, ana, "Flood maps", classification="TLP:GREEN")
    source = Stream(96 * MiB)
    tracemalloc.start()
    try:
        event = ws.upload(node, wid, ana, source, "maps.bin")  # type: ignore[arg-type]
        sink = Sink()
        ws.download(node, wid, ana, event.id, 1, sink)  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"
    assert sink.size == 96 * MiB
    assert sink.digest.hexdigest() == source.digest.hexdigest()
    with node.db() as s:
        row = s.get(WorkspaceFile, (wid, source.digest.hexdigest()))
    assert row is not None
    with node.blobs.open(row.blob_sha256) as stored:
        head = stored.read(MiB)
    assert head.startswith(b"age-encryption.org/v1")
    assert source.block[:4096] not in head


def test_progress_counts_done_and_late(node: Node) -> None:
    add_user(node, "ana", "officer")
    ana = Person.of(find_user(node, "ana"))
    wid = ws.create(node, ana, "Climate programme", classification="TLP:GREEN")
    today = date.today()
    past, future = (today - timedelta(days=3)).isoformat(), (today + timedelta(9)).isoformat()
    late = ws.add_milestone(node, wid, ana, "Baseline inventory", due=past)
    ahead = ws.add_milestone(node, wid, ana, "Targets agreed", due=future)
    done = ws.add_task(node, wid, ana, "Energy sector", milestone=late.id, due=past)
    ws.add_task(node, wid, ana, "Forestry sector", milestone=late.id, due=past)
    ws.add_task(node, wid, ana, "Draft targets", milestone=ahead.id, due=future)
    ws.complete_task(node, wid, ana, done.id)
    report = ws.progress(ws.get(node, wid, ana).state, today.isoformat())
    assert (report["tasks"], report["done"], report["percent"]) == (3, 1, 33)
    rows = {m["title"]: m for m in report["milestones"]}
    assert (rows["Baseline inventory"]["percent"], rows["Baseline inventory"]["overdue"]) == (
        50,
        True,
    )
    assert (rows["Targets agreed"]["percent"], rows["Targets agreed"]["overdue"]) == (0, False)
    assert [t["title"] for t in report["overdue"]] == ["Forestry sector"]
    # Each action advanced the stored state by its one event; folding the whole log anew
    # gives the same state and hash.
    with node.db() as s:
        folded = fold.fold(wid, held.events_in(s, wid))
    view = ws.get(node, wid, None)
    assert folded.state == view.state
    assert folded.state_hash == view.state_hash
    assert view.events == 7

    def index() -> set[tuple[str, str, str, str, str]]:
        with node.db() as s:
            rows = s.scalars(select(WorkspaceText).where(WorkspaceText.workspace_id == wid))
            return {(r.kind, r.ref, r.classification, r.title, r.body) for r in rows}

    kept = index()
    with node.transaction() as s:
        held.refold(s, wid)  # what taking in a partner's events does: all anew
    assert index() == kept
    assert len(kept) == 5  # two milestones, three tasks
