"""Workspaces: taking in a partner's events refolds the whole log, so the fold's cost
bounds how long a workspace can grow; a log of signed events (tasks created, edited and
done, comments, among three members) is folded from scratch, against reading the same
events back from storage (parsing each stored JWS), which any fold must do first. A
node's own action applies its one event to the stored state instead: its cost, in a
workspace of 1,000 events, against the same in a new workspace."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bench.harness import Result, best_of
from jembatan.crypto.keys import generate
from jembatan.workspaces import events, fold
from jembatan.workspaces.events import Event

EVENTS = int(os.environ.get("JEMBATAN_BENCH_WORKSPACE_EVENTS", "5000"))
ACTIONS = int(os.environ.get("JEMBATAN_BENCH_WORKSPACE_ACTIONS", "1000"))
MEMBERS = [("ASEAN/GOV/IDN", "ana"), ("ASEAN/GOV/MYS", "mei"), ("ASEAN/GOV/SGP", "sam")]


def _log() -> tuple[str, list[Event]]:
    key = generate("sig")
    at = datetime(2026, 1, 5, tzinfo=UTC)
    (owner, user), *others = MEMBERS
    made = [
        events.make(
            key,
            owner,
            user,
            "",
            "workspace.created",
            {"name": "Bench", "classification": "TLP:GREEN", "ceiling": "TLP:AMBER"},
            [],
            at,
        )
    ]
    wid = events.workspace_of(made[0])

    def add(author: str, name: str, type: str, body: dict[str, Any]) -> Event:
        event = events.make(key, author, name, wid, type, body, [made[-1]], at)
        made.append(event)
        return event

    for member, _ in others:
        add(owner, user, "member.invited", {"member": member})
    for member, name in others:
        add(member, name, "member.joined", {})
    tasks: list[str] = []
    while len(made) < EVENTS:
        author, name = MEMBERS[len(made) % 3]
        step = len(made) % 4
        if step == 0 or not tasks:
            tasks.append(add(author, name, "task.created", {"title": f"Task {len(made)}"}).id)
        elif step == 1:
            change = {"task": tasks[-1], "changes": {"status": "in-progress", "due": "2026-12-01"}}
            add(author, name, "task.updated", change)
        elif step == 2:
            add(author, name, "comment.posted", {"thread": tasks[-1], "text": "On it. " * 8})
        else:
            add(author, name, "task.completed", {"task": tasks[-1]})
        at += timedelta(minutes=1)
    return wid, made


def _read(tokens: list[str]) -> None:
    [events.from_stored(t) for t in tokens]


def _fold(wid: str, tokens: list[str]) -> None:
    folded = fold.fold(wid, [events.from_stored(t) for t in tokens])
    assert not folded.rejected
    assert not folded.waiting
    folded.state_hash  # noqa: B018  (computed as every refold does)


def _actions(count: int) -> tuple[float, float]:
    """Milliseconds per task added through the services on a SQLite node: the first 50
    (a new workspace) and the last 50 (one holding `count` events)."""
    from jembatan.accounts.services import create_user
    from jembatan.config import load_settings
    from jembatan.node.context import Node
    from jembatan.node.services import init_node
    from jembatan.workspaces import services

    with tempfile.TemporaryDirectory() as folder:
        passphrase = "bench passphrase"  # noqa: S105  (a throwaway node)
        settings = load_settings(Path(folder) / "node", database_url=None)
        init_node(settings, "ASEAN/GOV/BENCH", "Bench", passphrase, {})
        node = Node.open(load_settings(Path(folder) / "node", key_passphrase=passphrase))
        try:
            person = services.Person.of(
                create_user(node, "ana", "a long bench password", "officer")
            )
            wid = services.create(node, person, "Bench", classification="TLP:GREEN")
            times = []
            for n in range(count):
                started = time.perf_counter()
                services.add_task(node, wid, person, f"Task {n}")
                times.append(time.perf_counter() - started)
        finally:
            node.close()
    return sum(times[:50]) / 50 * 1000, sum(times[-50:]) / 50 * 1000


def run() -> list[Result]:
    wid, made = _log()
    tokens = [e.token for e in made]
    read = best_of(3, partial(_read, tokens)) * 1000
    whole = best_of(3, partial(_fold, wid, tokens)) * 1000
    first, last = _actions(ACTIONS)
    return [
        Result(
            "workspaces",
            f"add a task (sign, check, store, ledger, index) to a workspace of {ACTIONS:,} "
            "events, SQLite node (baseline: the same to a new workspace)",
            last,
            "ms",
            first,
            "ratio ≤ 2 (the cost of an action does not grow with the log)",
        ),
        Result(
            "workspaces",
            f"fold {EVENTS:,} events from storage to state hash (baseline: reading them)",
            whole,
            "ms",
            read,
            "≤ 1,000 ms (taking in a partner's message refolds once)",
        ),
    ]
