"""The node's own log: hashing entries into the tree, issuing checkpoints, answering for
entries and proofs, and keeping the cosignatures peers send."""

from __future__ import annotations

import base64
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jembatan.errors import Conflict, InvalidInput, NotFound
from jembatan.ledger import note
from jembatan.ledger.merkle import consistency_proof, inclusion_proof, leaf_hash
from jembatan.ledger.models import (
    Checkpoint,
    Cosignature,
    LedgerEntry,
    LedgerHead,
    LedgerTree,
)
from jembatan.ledger.tiles import Tiles
from jembatan.node.context import Node
from jembatan.store.schema import utcnow

PAGE = 1000  # entries per answer
BATCH = 16384  # entries hashed per integration transaction


def _claim_tree(s: Session) -> int:
    """Lock the tree row (a write first: SQLite takes its write lock here too)."""
    return int(
        s.execute(
            update(LedgerTree)
            .where(LedgerTree.id == 1)
            .values(size=LedgerTree.size)
            .returning(LedgerTree.size)
        ).scalar_one()
    )


def integrate(node: Node) -> int:
    """Hash every committed entry not yet in the tree; returns the tree size."""
    with node.db() as s:  # the cheap question first: a write every tick would churn
        done = tree_size(s)
        if head_size(s) == done:
            return done
    while True:
        with node.transaction() as s:
            done = _claim_tree(s)
            rows = (
                s.connection()  # Core rows: the ORM's per-row work is not needed here
                .execute(_PENDING, {"start": done, "end": done + BATCH})
                .all()
            )
            hashes: list[bytes] = []
            for index, data in rows:  # only the unbroken run: a gap is still being written
                if index != done + len(hashes):
                    break
                hashes.append(leaf_hash(bytes(data)))
            if not hashes:
                return done
            size = Tiles(s).integrate(done, hashes)
            s.execute(update(LedgerTree).where(LedgerTree.id == 1).values(size=size))
        if len(hashes) < BATCH:
            return size


_PENDING = (
    select(LedgerEntry.leaf_index, LedgerEntry.data)
    .where(LedgerEntry.leaf_index >= bindparam("start"), LedgerEntry.leaf_index < bindparam("end"))
    .order_by(LedgerEntry.leaf_index)
)
_TREE = select(LedgerTree.size).where(LedgerTree.id == 1)
_HEAD = select(LedgerHead.size).where(LedgerHead.id == 1)


def tree_size(s: Session) -> int:
    return int(s.connection().execute(_TREE).scalar() or 0)


def head_size(s: Session) -> int:
    return int(s.connection().execute(_HEAD).scalar() or 0)


def latest(s: Session) -> Checkpoint | None:
    return s.scalar(select(Checkpoint).order_by(Checkpoint.size.desc()).limit(1))


def issue_checkpoint(node: Node, force: bool = False) -> Checkpoint | None:
    """Sign a checkpoint over everything integrated, unless nothing changed or the last
    one is younger than JEMBATAN_LEDGER_CHECKPOINT_SECONDS (`force` skips the wait)."""
    size = integrate(node)
    with node.db() as s:
        last = latest(s)
        if last is not None and last.size >= size:
            return None
    with node.transaction() as s:
        size = _claim_tree(s)
        last = latest(s)
        if last is not None and last.size >= size:
            return None
        wait = timedelta(seconds=node.settings.ledger_checkpoint_seconds)
        if last is not None and not force and utcnow() - last.issued_at < wait:
            return None
        root = Tiles(s).root(size)
        body = note.checkpoint_body(node.member_id, size, root)
        signed = note.Note(body, (note.sign(body, node.member_id, _signer(node)),))
        cp = Checkpoint(size=size, root=root, note=signed.text(), issued_at=utcnow())
        s.add(cp)
        return cp


def _signer(node: Node) -> Ed25519PrivateKey:
    return node.keys().signer().signing_key()


def checkpoint_text(s: Session, cp: Checkpoint) -> str:
    """The checkpoint with every cosignature gathered for it."""
    lines = s.scalars(
        select(Cosignature.line).where(Cosignature.size == cp.size).order_by(Cosignature.witness)
    )
    return cp.note + "".join(lines)


def current_checkpoint(node: Node) -> str:
    with node.db() as s:
        cp = latest(s)
        if cp is None:
            raise NotFound("this node has issued no checkpoint yet")
        return checkpoint_text(s, cp)


def _size_bound(s: Session, size: int, name: str) -> None:
    have = tree_size(s)
    if size > have:
        raise InvalidInput(
            "{name}={size} is beyond the tree, which holds {have} entries",
            name=name,
            size=size,
            have=have,
        )


def entries(node: Node, start: int, end: int) -> list[tuple[int, bytes]]:
    """Entries [start, end), at most PAGE of them; the caller pages on."""
    if start < 0 or end <= start:
        raise InvalidInput("give 0 <= start < end (end is exclusive)")
    with node.db() as s:
        have = head_size(s)
        if start >= have:
            raise InvalidInput(
                "start={start} is beyond the log, which holds {have} entries",
                start=start,
                have=have,
            )
        rows = s.execute(
            select(LedgerEntry.leaf_index, LedgerEntry.data)
            .where(LedgerEntry.leaf_index >= start, LedgerEntry.leaf_index < min(end, have))
            .order_by(LedgerEntry.leaf_index)
            .limit(PAGE)
        )
        return [(int(i), bytes(d)) for i, d in rows]


def prove_inclusion(node: Node, index: int, size: int) -> list[bytes]:
    if not 0 <= index < size:
        raise InvalidInput("give 0 <= index < size")
    with node.db() as s:
        _size_bound(s, size, "size")
        return inclusion_proof(index, size, _tiles(node, s).subtree)


def prove_consistency(node: Node, old: int, new: int) -> list[bytes]:
    if not 0 <= old <= new:
        raise InvalidInput("give 0 <= from <= to")
    with node.db() as s:
        _size_bound(s, new, "to")
        return consistency_proof(old, new, _tiles(node, s).subtree)


def _tiles(node: Node, s: Session) -> Tiles:
    """Tiles with the node's cache of full tiles, for answering proofs."""
    shared = node.extras.setdefault("ledger_tiles", OrderedDict())
    return Tiles(s, shared)  # type: ignore[arg-type]


def b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


# Reading entries for people ---------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    type: str | None = None
    actor: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(query: Select[tuple[LedgerEntry]], f: Filters) -> Select[tuple[LedgerEntry]]:
    if f.type:
        query = query.where(LedgerEntry.type == f.type)
    if f.actor:
        query = query.where(LedgerEntry.actor == f.actor)
    if f.subject:
        query = query.where(LedgerEntry.subject == f.subject)
    if f.since:
        query = query.where(LedgerEntry.time >= f.since)
    if f.until:
        query = query.where(LedgerEntry.time < f.until)
    return query


def search(node: Node, f: Filters, limit: int = 50, before: int | None = None) -> list[LedgerEntry]:
    """Newest first; `before` pages back from an index."""
    query = _filtered(select(LedgerEntry), f)
    if before is not None:
        query = query.where(LedgerEntry.leaf_index < before)
    with node.db() as s:
        return list(s.scalars(query.order_by(LedgerEntry.leaf_index.desc()).limit(limit)))


def entry(node: Node, index: int) -> LedgerEntry:
    with node.db() as s:
        row = s.get(LedgerEntry, index)
    if row is None:
        raise NotFound("no ledger entry {index}", index=index)
    return row


def entries_about(node: Node, subject: str) -> list[LedgerEntry]:
    with node.db() as s:
        return list(
            s.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.subject == subject)
                .order_by(LedgerEntry.leaf_index)
            )
        )


def types(node: Node) -> list[str]:
    with node.db() as s:
        return list(s.scalars(select(LedgerEntry.type).distinct().order_by(LedgerEntry.type)))


def checkpoints(node: Node, limit: int = 50) -> list[tuple[Checkpoint, list[Cosignature]]]:
    with node.db() as s:
        rows = list(s.scalars(select(Checkpoint).order_by(Checkpoint.size.desc()).limit(limit)))
        sizes = [cp.size for cp in rows]
        cosigs: dict[int, list[Cosignature]] = {size: [] for size in sizes}
        for c in s.scalars(select(Cosignature).where(Cosignature.size.in_(sizes))):
            cosigs[c.size].append(c)
        return [(cp, sorted(cosigs[cp.size], key=lambda c: c.witness)) for cp in rows]


def checkpoint_covering(node: Node, index: int) -> Checkpoint | None:
    """The oldest checkpoint that includes entry `index`."""
    with node.db() as s:
        return s.scalar(
            select(Checkpoint).where(Checkpoint.size > index).order_by(Checkpoint.size).limit(1)
        )


def stats(node: Node) -> dict[str, int]:
    with node.db() as s:
        cp = latest(s)
        return {
            "entries": head_size(s),
            "tree": tree_size(s),
            "checkpoint": cp.size if cp else 0,
        }


# Cosignatures from peers ------------------------------------------------------------------


def add_cosignature(node: Node, witness: str, text: str, keys: list[Ed25519PublicKey]) -> int:
    """Keep a peer's cosignature of one of our checkpoints; returns the checkpoint size."""
    try:
        received = note.parse(text)
    except note.NoteError as exc:
        raise InvalidInput("cosignature refused: {reason}", reason=str(exc)) from None
    sigs = received.by(witness)
    if len(sigs) != 1:
        raise InvalidInput(
            "cosignature refused: the note must carry one signature by {witness}",
            witness=witness,
        )
    sig = sigs[0]
    timestamp = None
    for key in keys:
        try:
            timestamp = note.verify_cosignature(received.body, sig, key)
            break
        except note.NoteError:
            continue
    if timestamp is None:
        raise InvalidInput(
            "cosignature refused: it does not verify with {witness}'s keys", witness=witness
        )
    try:
        with node.transaction() as s:
            cp = s.get(Checkpoint, received.size)
            if cp is None or note.parse(cp.note).body != received.body:
                raise Conflict("cosignature refused: this node never issued that checkpoint")
            if s.get(Cosignature, (cp.size, witness)) is None:
                s.add(
                    Cosignature(
                        size=cp.size,
                        witness=witness,
                        line=sig.line(),
                        signed_at=datetime.fromtimestamp(timestamp, UTC),
                    )
                )
    except IntegrityError:  # the same witness twice at once: one cosignature is kept
        pass
    return received.size
