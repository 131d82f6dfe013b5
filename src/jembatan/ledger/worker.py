"""Ledger chores inside `serve`: checkpoint new entries every few seconds, and witness
the peers' logs on the witness schedule."""

from __future__ import annotations

import threading
import time

from jembatan.ledger import services, witness
from jembatan.logs import get_logger
from jembatan.node.context import Node
from jembatan.registry.membership import own_anchor

log = get_logger("jembatan.ledger")


def tick(node: Node, witness_due: bool) -> None:
    services.issue_checkpoint(node)
    if witness_due and own_anchor(node) is not None:
        for outcome in witness.witness_all(node):
            if outcome.status == "alert":
                log.warning("peer log failed the witness check", peer=outcome.peer)


def run_forever(node: Node, stop: threading.Event) -> None:
    stop.wait(1)
    next_witness = time.monotonic() + 3  # peers come up around the same time
    while not stop.is_set():
        due = time.monotonic() >= next_witness
        try:
            tick(node, due)
        except Exception:  # keep the node serving; the next tick tries again
            log.exception("ledger task failed")
        if due:
            next_witness = time.monotonic() + node.settings.ledger_witness_seconds
        stop.wait(min(1.0, node.settings.ledger_checkpoint_seconds))
