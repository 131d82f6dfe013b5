"""The Merkle tree kept as tiles: rows of up to 256 node hashes, one row per 256 nodes of
every eighth tree level. Any complete subtree hash costs one row read plus at most 127
hash operations, so every proof reads O(log n) rows."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from jembatan.ledger.merkle import EMPTY_ROOT, node_hash, subtree_from
from jembatan.ledger.models import LedgerTile

Levels = list[bytes]  # a tile's row of hashes, then each row of complete nodes above it

HEIGHT = 8
WIDTH = 1 << HEIGHT
HASH = 32
SHARED_TILES = 2048  # tiles kept in memory for proofs: at most 16 KiB each


def fold(hashes: list[bytes]) -> bytes:
    """The root of 2**k consecutive sibling hashes."""
    while len(hashes) > 1:
        hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


def split_hashes(raw: bytes) -> list[bytes]:
    return [raw[i : i + HASH] for i in range(0, len(raw), HASH)]


_READ = select(LedgerTile.hashes).where(
    LedgerTile.level == bindparam("level"), LedgerTile.tile_index == bindparam("index")
)


class Tiles:
    """Tiles read through one session. `shared` (kept by the caller across sessions) holds
    tiles with their inner levels, keyed by width: computed once, reused by later proofs."""

    def __init__(self, s: Session, shared: OrderedDict[tuple[int, int, int], Levels] | None = None):
        self.s = s
        self.cache: dict[tuple[int, int], bytes] = {}
        self.levels: dict[tuple[int, int], Levels] = {}
        self.shared = shared

    def tile(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self.cache:
            # A plain Core query built once: proofs run many of these.
            raw = self.s.connection().execute(_READ, {"level": level, "index": index}).scalar()
            self.cache[key] = bytes(raw) if raw is not None else b""
        return self.cache[key]

    def _levels(self, level: int, index: int) -> Levels:
        """The tile's hashes and every complete node above them inside the tile."""
        found = self.levels.get((level, index))
        if found is not None:
            return found
        raw = self.tile(level, index)
        # A tile only grows, so its content at a given width never changes.
        key = (level, index, len(raw))
        if self.shared is not None and key in self.shared:
            found = self.shared[key]
            self.shared.move_to_end(key)
        else:
            found, below = [raw], split_hashes(raw)
            while len(below) > 1:
                below = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
                found.append(b"".join(below))
            if self.shared is not None:
                self.shared[key] = found
                while len(self.shared) > SHARED_TILES:
                    self.shared.popitem(last=False)
        self.levels[(level, index)] = found
        return found

    def complete(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree of 2**level leaves starting at index * 2**level."""
        tile_level, rise = divmod(level, HEIGHT)
        first = index << rise  # its leftmost node on tree level HEIGHT * tile_level
        rows = self._levels(tile_level, first >> HEIGHT)
        start = ((first & (WIDTH - 1)) >> rise) * HASH
        if rise >= len(rows) or start + HASH > len(rows[rise]):
            raise LookupError(f"tree node {level}/{index} is not integrated yet")
        return rows[rise][start : start + HASH]

    def root(self, size: int) -> bytes:
        return subtree_from(self.complete)(0, size) if size else EMPTY_ROOT

    def subtree(self, lo: int, hi: int) -> bytes:
        return subtree_from(self.complete)(lo, hi)

    def leaf(self, index: int) -> bytes:
        return self.complete(0, index)

    def integrate(self, old_size: int, leaf_hashes: Iterable[bytes]) -> int:
        """Add leaves after the first `old_size`; returns the new size."""
        items = list(leaf_hashes)
        new_size = old_size + len(items)
        level, before = 0, old_size  # `before`: nodes already stored on this tile level
        while items:
            first = before >> HEIGHT
            partial = self.tile(level, first) if before & (WIDTH - 1) else b""
            buf = partial + b"".join(items)
            rows = [buf[i : i + WIDTH * HASH] for i in range(0, len(buf), WIDTH * HASH)]
            fresh = []
            for offset, raw in enumerate(rows):
                index = first + offset
                if offset == 0 and partial:
                    self.s.execute(
                        update(LedgerTile)
                        .where(LedgerTile.level == level, LedgerTile.tile_index == index)
                        .values(hashes=raw)
                    )
                else:
                    fresh.append({"level": level, "tile_index": index, "hashes": raw})
                self.cache[(level, index)] = raw
                self.levels.pop((level, index), None)
            if fresh:
                self.s.execute(insert(LedgerTile), fresh)
            items = [fold(split_hashes(raw)) for raw in rows if len(raw) == WIDTH * HASH]
            level, before = level + 1, before >> HEIGHT
        return new_size
