"""`jembatan ledger verify`: rebuild the tree from the entries and hold it against the
latest signed checkpoint and its cosignatures, naming the first entry that does not fit."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from jembatan.crypto.keys import raw_public_ed25519
from jembatan.errors import InvalidInput, Unavailable
from jembatan.ledger import note
from jembatan.ledger.merkle import ProofError, RootBuilder, leaf_hash, verify_consistency
from jembatan.ledger.models import Checkpoint, Cosignature, LedgerEntry, LedgerTile
from jembatan.ledger.services import latest
from jembatan.ledger.tiles import HASH, HEIGHT, WIDTH, fold, split_hashes
from jembatan.ledger.witness import member_keys, verify_checkpoint
from jembatan.node.context import Node
from jembatan.node.models import NodeKey

READ = 10000


@dataclass
class Report:
    origin: str
    size: int = 0
    root: str = ""
    problems: list[str] = field(default_factory=list)
    first_bad_index: int | None = None
    cosigned_by: list[str] = field(default_factory=list)
    cosignatures_unchecked: list[str] = field(default_factory=list)
    key_source: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def bad(self, index: int, problem: str) -> None:
        if self.first_bad_index is None or index < self.first_bad_index:
            self.first_bad_index = index
        self.problems.append(problem)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "origin": self.origin,
            "size": self.size,
            "root": self.root,
            "first_bad_index": self.first_bad_index,
            "problems": self.problems,
            "cosigned_by": self.cosigned_by,
            "cosignatures_unchecked": self.cosignatures_unchecked,
            "key_source": self.key_source,
        }


class _TileCheck:
    """Recomputes every tile level from the leaves and compares with what is stored."""

    def __init__(
        self, stored: Callable[[int, int], bytes], report: Report, builder: RootBuilder
    ) -> None:
        self.stored, self.report, self.builder = stored, report, builder
        self.levels: list[list[bytes]] = []
        self.first: list[int] = []  # index of the first node in each level's buffer

    def add(self, level: int, h: bytes) -> None:
        if len(self.levels) == level:
            self.levels.append([])
            self.first.append(0)
        buf = self.levels[level]
        buf.append(h)
        if len(buf) == WIDTH:
            self._compare(level)
            self.first[level] += WIDTH
            self.levels[level] = []
            top = fold(buf)
            if level == 0:  # the root is built from whole tiles: 256 leaves in one step
                self.builder.add_subtree(HEIGHT, top)
            self.add(level + 1, top)

    def finish(self) -> None:
        for level in range(len(self.levels)):
            if self.levels[level]:
                self._compare(level)
        for leaf in self.levels[0] if self.levels else []:
            self.builder.add(leaf)

    def _compare(self, level: int) -> None:
        buf = self.levels[level]
        stored = split_hashes(self.stored(level, self.first[level] >> HEIGHT)[: len(buf) * HASH])
        for offset, h in enumerate(buf):
            if offset >= len(stored) or stored[offset] != h:
                index = (self.first[level] + offset) << (HEIGHT * level)
                known = self.report.first_bad_index
                if known is not None and index <= known < index + (1 << (HEIGHT * level)):
                    return  # the bad node below already explains this one
                what = "entry" if level == 0 else f"tree node at level {HEIGHT * level}"
                self.report.bad(
                    index, f"{what} covering entry {index} does not match the stored tree"
                )
                return


def _own_keys(node: Node) -> list[Ed25519PublicKey]:
    with node.db() as s:
        rows = s.scalars(select(NodeKey).where(NodeKey.use == "sig", NodeKey.purpose == "node"))
        return [raw_public_ed25519(json.loads(r.public_jwk)) for r in rows]


def _check_cosignatures(node: Node | None, checkpoint: note.Note, report: Report) -> None:
    for sig in checkpoint.signatures:
        if sig.name == checkpoint.origin:
            continue
        keys = member_keys(node, sig.name) if node is not None else []
        if not keys:
            report.cosignatures_unchecked.append(sig.name)
            continue
        for key in keys:
            try:
                note.verify_cosignature(checkpoint.body, sig, key)
                report.cosigned_by.append(sig.name)
                break
            except note.NoteError:
                continue
        else:
            report.problems.append(f"the cosignature by {sig.name} does not verify")


def verify_local(node: Node) -> Report:
    report = Report(node.member_id, key_source="this node's keys")
    with node.db() as s:
        cp = latest(s)
        if cp is None:
            return report
        text = cp.note + "".join(
            s.scalars(select(Cosignature.line).where(Cosignature.size == cp.size))
        )
        history = [
            (int(size), bytes(root))
            for size, root in s.execute(
                select(Checkpoint.size, Checkpoint.root).order_by(Checkpoint.size)
            )
        ]
    report.size, report.root = cp.size, base64.b64encode(cp.root).decode()
    try:
        checkpoint = verify_checkpoint(text, node.member_id, _own_keys(node))
    except note.NoteError as exc:
        report.problems.append(f"checkpoint: {exc}")
        checkpoint = note.parse(text)
    if checkpoint.root != bytes(cp.root) or checkpoint.size != cp.size:
        report.problems.append("the stored checkpoint note and its recorded root differ")
    _check_cosignatures(node, checkpoint, report)

    def stored_tile(level: int, index: int) -> bytes:
        with node.db() as s:
            raw = s.scalar(
                select(LedgerTile.hashes).where(
                    LedgerTile.level == level, LedgerTile.tile_index == index
                )
            )
        return bytes(raw) if raw is not None else b""

    builder = RootBuilder()
    tiles = _TileCheck(stored_tile, report, builder)
    count = 0
    for index, data in _local_entries(node, cp.size):
        if index != count:
            report.bad(count, f"entry {count} is missing")
            break
        tiles.add(0, leaf_hash(data))
        count += 1
    tiles.finish()
    if count < cp.size:
        report.bad(count, f"entry {count} is missing")
    elif builder.root() != checkpoint.root and report.first_bad_index is None:
        # Entries and stored tree were changed together: the earlier checkpoints bound it.
        report.first_bad_index, problem = _first_unsigned(node, history)
        report.problems.append(problem)
    return report


def _first_unsigned(node: Node, history: list[tuple[int, bytes]]) -> tuple[int, str]:
    """The start of the first stretch between checkpoints whose signed root the entries
    no longer give (a second pass, taken only when something is wrong)."""
    builder = RootBuilder()
    pending = iter(history)
    mark = next(pending, None)
    last_good = 0
    for _, data in _local_entries(node, history[-1][0]):
        builder.add(leaf_hash(data))
        while mark is not None and mark[0] == builder.size:
            if builder.root() != mark[1]:
                return last_good, (
                    f"entries {last_good} to {mark[0] - 1} do not give the root signed "
                    f"at size {mark[0]}"
                )
            last_good = mark[0]
            mark = next(pending, None)
    return last_good, "the entries do not give the checkpoint's root"


def _local_entries(node: Node, size: int) -> Iterator[tuple[int, bytes]]:
    start = 0
    while start < size:
        with node.db() as s:
            rows = s.execute(
                select(LedgerEntry.leaf_index, LedgerEntry.data)
                .where(LedgerEntry.leaf_index >= start, LedgerEntry.leaf_index < size)
                .order_by(LedgerEntry.leaf_index)
                .limit(READ)
            ).all()
        if not rows:
            return
        for index, data in rows:
            # A row rewritten by hand may come back as text: it is compared, never trusted.
            yield int(index), data.encode() if isinstance(data, str) else bytes(data)
        start = int(rows[-1][0]) + 1


# A remote node --------------------------------------------------------------------------


def _get(client: httpx.Client, url: str, sign: Callable[[str], httpx.Response] | None) -> Any:
    try:
        answer = sign(url) if sign is not None else client.get(url)
    except httpx.TransportError as exc:
        raise Unavailable(f"node unreachable at {url}: {exc}") from None
    if answer.status_code != 200:
        raise Unavailable(f"{url} answered {answer.status_code}: {answer.text[:300]}")
    return answer


def _published_keys(client: httpx.Client, url: str) -> list[Ed25519PublicKey]:
    doc = _get(client, url + "/.well-known/jembatan", None).json()
    keys = []
    for jwk in doc.get("jwks", {}).get("keys", []):
        if (
            jwk.get("crv") == "Ed25519"
            and jwk.get("use") == "sig"
            and (
                jwk.get("purpose", "node") == "node"  # not a registry's directory key
            )
        ):
            keys.append(raw_public_ed25519(jwk))
    return keys


def verify_remote(
    url: str,
    client: httpx.Client,
    reader: Callable[[str], httpx.Response] | None,
    node: Node | None = None,
) -> Report:
    """Check another node's log through its API. `reader` sends an authorised GET (an
    auditor's token, or a request signed by `node`); `node`, when given, supplies the
    directory that vouches for keys."""
    url = url.rstrip("/")
    text = _get(client, url + "/api/v1/ledger/checkpoint", None).text
    try:
        unverified = note.parse(text)
    except note.NoteError as exc:
        raise InvalidInput(
            "the node's checkpoint is unreadable: {reason}", reason=str(exc)
        ) from None
    origin = unverified.origin
    report = Report(origin, unverified.size, base64.b64encode(unverified.root).decode())
    keys = member_keys(node, origin) if node is not None else []
    report.key_source = "the federation directory" if keys else url + "/.well-known/jembatan"
    keys = keys or _published_keys(client, url)
    try:
        checkpoint = verify_checkpoint(text, origin, keys)
    except note.NoteError as exc:
        report.problems.append(f"checkpoint: {exc}")
        checkpoint = unverified
    _check_cosignatures(node, checkpoint, report)
    leaves: list[bytes] = []
    while len(leaves) < checkpoint.size:
        page = _get(
            client,
            f"{url}/api/v1/ledger/entries?start={len(leaves)}&end={checkpoint.size}",
            reader,
        ).json()["entries"]
        if not page:
            break
        for item in page:
            if item["index"] != len(leaves):
                report.bad(len(leaves), f"entry {len(leaves)} is missing")
                return report
            try:
                leaves.append(leaf_hash(base64.b64decode(item["data"], validate=True)))
            except binascii.Error:
                report.bad(len(leaves), f"entry {len(leaves)} is not base64")
                return report
    builder = RootBuilder()
    for h in leaves:
        builder.add(h)
    if len(leaves) < checkpoint.size:
        report.bad(len(leaves), f"entry {len(leaves)} is missing")
    elif builder.root() != checkpoint.root:
        index = _first_unproven(client, url, reader, leaves, checkpoint)
        report.bad(index, f"entry {index} is not the one the checkpoint signed")
    return report


def _first_unproven(
    client: httpx.Client,
    url: str,
    reader: Callable[[str], httpx.Response] | None,
    leaves: list[bytes],
    checkpoint: note.Note,
) -> int:
    """Binary search for the longest prefix the node can prove part of its signed tree."""

    def consistent(m: int) -> bool:
        if m == 0:
            return True
        proof = _get(
            client, f"{url}/api/v1/ledger/proof/consistency?from={m}&to={checkpoint.size}", reader
        ).json()["hashes"]
        prefix = RootBuilder()
        for h in leaves[:m]:
            prefix.add(h)
        try:
            verify_consistency(
                m,
                checkpoint.size,
                prefix.root(),
                checkpoint.root,
                [base64.b64decode(h) for h in proof],
            )
        except (ProofError, binascii.Error):
            return False
        return True

    lo, hi = 0, checkpoint.size  # prefix lo is consistent; prefix hi is not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if consistent(mid):
            lo = mid
        else:
            hi = mid
    return lo
