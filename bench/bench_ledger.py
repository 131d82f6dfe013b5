"""Ledger: appending a million entries against a raw batched insert of the same rows,
inclusion proofs at that size, and a full verify."""

from __future__ import annotations

import os
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Result
from jembatan.config import load_settings
from jembatan.ledger import services, verify
from jembatan.ledger.entries import Event, encode, record_many
from jembatan.node.context import Node
from jembatan.node.services import init_node
from jembatan.store import migrations
from jembatan.store.db import open_engine
from jembatan.store.driver import Writes

COUNT = int(os.environ.get("JEMBATAN_BENCH_LEDGER_ENTRIES", "1000000"))
BATCH = 1000  # entries per transaction, as a busy node's commits group them
INTEGRATE_EVERY = 65536  # the background thread integrates what arrived since its last tick
PASSPHRASE = "bench-passphrase"  # noqa: S105  (a throwaway node's)


def _event(i: int) -> Event:
    return Event(
        "message.sent",
        "ASEAN/GOV/IDN-KEMENKES/user/siti",
        f"0193b2c4-5d6e-7f80-9a1b-{i:012d}",
        {
            "sender": "ASEAN/GOV/IDN-KEMENKES",
            "recipients": ["ASEAN/GOV/MYS-MOH"],
            "classification": "TLP:AMBER",
            "size": 1024,
        },
        {"envelope": f"{i:064x}", "payload": f"{i + 1:064x}"},
    )


def _raw_insert(folder: Path) -> float:
    """The same rows, already encoded and numbered, handed to the driver's executemany in
    the same batches, into the same table (with its indexes)."""
    engine = open_engine(f"sqlite:///{folder / 'raw.db'}")
    migrations.upgrade(engine)
    at = datetime.now(UTC).replace(microsecond=0)
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.000000")
    rows = [
        (i, e.type, stamp, e.actor, e.subject, encode(e, at))
        for i, e in ((i, _event(i)) for i in range(COUNT))
    ]
    sql = (
        "INSERT INTO ledger_entries (leaf_index, type, time, actor, subject, data) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    )
    started = time.perf_counter()
    for start in range(0, COUNT, BATCH):
        with engine.begin() as conn:
            conn.exec_driver_sql(sql, rows[start : start + BATCH])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return COUNT / elapsed


def _node(folder: Path) -> Node:
    settings = load_settings(
        folder / "node", database_url=f"sqlite:///{folder / 'ledger.db'}", key_passphrase=PASSPHRASE
    )
    init_node(settings, "ASEAN/GOV/BENCH", "Bench", PASSPHRASE)
    return Node.open(settings)


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        raw_rate = _raw_insert(folder)
        node = _node(folder)
        events = [_event(i) for i in range(COUNT)]
        started = time.perf_counter()
        for start in range(0, COUNT, BATCH):
            with node.transaction() as s:
                record_many(Writes.of(s), events[start : start + BATCH])
            if (start + BATCH) % INTEGRATE_EVERY == 0:
                services.integrate(node)
        services.integrate(node)
        append_rate = COUNT / (time.perf_counter() - started)
        del events
        checkpoint = services.issue_checkpoint(node, force=True)
        assert checkpoint is not None
        assert checkpoint.size == COUNT

        picks = random.Random(3).sample(range(COUNT), 2000)
        started = time.perf_counter()
        for index in picks:
            services.prove_inclusion(node, index, COUNT)
        proof_ms = (time.perf_counter() - started) / len(picks) * 1000

        started = time.perf_counter()
        report = verify.verify_local(node)
        verify_s = time.perf_counter() - started
        assert report.ok, report.problems
        node.close()
    n = f"{COUNT:,}"
    return [
        Result(
            "ledger",
            f"append {n} entries (encode, number, insert, hash into tiles)",
            append_rate,
            "entries/s",
            raw_rate,
            "ratio ≥ 0.5 of a raw batched insert; ≥ 50,000 entries/s",
        ),
        Result("ledger", f"inclusion proof at {n} entries", proof_ms, "ms", None, "≤ 1 ms"),
        Result("ledger", f"full verify of {n} entries", verify_s, "s", None, "≤ 10 s"),
    ]
