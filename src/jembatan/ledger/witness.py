"""Witnessing: fetch each peer's checkpoint, check it extends the last one we saw, and
send back our cosignature. A peer whose log does not extend what it showed before (a
fork, a rollback, rewritten history) raises an alert, kept with its evidence."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select

from jembatan.crypto.keys import raw_public_ed25519
from jembatan.errors import JembatanError, Unavailable
from jembatan.ledger import note
from jembatan.ledger.entries import LEDGER_ALERT, Event, console, record
from jembatan.ledger.merkle import ProofError, verify_consistency
from jembatan.ledger.models import LedgerAlert, WitnessedLog
from jembatan.logs import get_logger
from jembatan.node.context import Node
from jembatan.registry.membership import federation, http, other_members
from jembatan.registry.peers import send_signed
from jembatan.store.schema import utcnow

log = get_logger("jembatan.ledger")

CHECKPOINT_PATH = "/api/v1/ledger/checkpoint"
COSIGNATURE_PATH = "/fed/v1/ledger/cosignatures"


def member_keys(node: Node, member: str) -> list[Ed25519PublicKey]:
    """The signing keys the directory lists for a member and that are usable now."""
    now = utcnow()
    return [
        raw_public_ed25519(k.jwk)
        for d in federation(node).directories()
        for k in d.keys_of(member, "sig", now)
    ]


def verify_checkpoint(text: str, origin: str, keys: list[Ed25519PublicKey]) -> note.Note:
    """Parse a checkpoint and check the log's own signature; raises NoteError."""
    checkpoint = note.parse(text)
    if checkpoint.origin != origin:
        raise note.NoteError(f"the checkpoint is for {checkpoint.origin!r}, not {origin!r}")
    for sig in checkpoint.by(origin):
        for key in keys:
            try:
                note.verify(checkpoint.body, sig, key)
                return checkpoint
            except note.NoteError:
                continue
    raise note.NoteError(f"no signature by {origin} verifies with its published keys")


@dataclass(frozen=True)
class Outcome:
    peer: str
    status: str  # cosigned, unchanged, alert, error
    size: int | None = None
    detail: str | None = None


def _alert(node: Node, peer: str, kind: str, detail: str, seen: str, new: str, proof: str) -> None:
    with node.transaction() as s:
        repeat = s.scalar(
            select(func.count())
            .select_from(LedgerAlert)
            .where(LedgerAlert.peer == peer, LedgerAlert.new_note == new)
        )
        if repeat:
            return
        s.add(
            LedgerAlert(
                peer=peer,
                kind=kind,
                detail=detail[:1000],
                seen_note=seen,
                new_note=new,
                proof=proof,
            )
        )
        record(
            s,
            Event(
                LEDGER_ALERT,
                node.member_id,
                peer,
                {"kind": kind, "detail": detail[:500]},
                {"checkpoint": hashlib.sha256(new.encode()).hexdigest()},
            ),
        )
    log.warning("peer ledger alert", peer=peer, kind=kind, detail=detail)


def _fetch_consistency(node: Node, url: str, old: int, new: int) -> list[bytes]:
    answer = send_signed(node, "GET", f"{url}/api/v1/ledger/proof/consistency?from={old}&to={new}")
    if answer.status_code != 200:
        raise Unavailable(f"consistency proof refused ({answer.status_code}): {answer.text[:200]}")
    try:
        return [base64.b64decode(h, validate=True) for h in answer.json()["hashes"]]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise Unavailable("consistency proof unreadable") from None


def witness_peer(node: Node, peer: str) -> Outcome:
    member = federation(node).member(peer)
    if member is None:
        return Outcome(peer, "error", detail="not in the directory")
    url = member.node_url
    try:
        answer = http(node).get(url + CHECKPOINT_PATH)
    except httpx.TransportError as exc:
        return _failed(node, peer, f"unreachable: {exc}")
    if answer.status_code != 200:
        return _failed(node, peer, f"checkpoint answered {answer.status_code}")
    try:
        checkpoint = verify_checkpoint(answer.text, peer, member_keys(node, peer))
    except note.NoteError as exc:
        return _failed(node, peer, f"checkpoint refused: {exc}")
    body = checkpoint.body
    with node.db() as s:
        seen = s.get(WitnessedLog, peer)
    proof: list[bytes] = []
    if seen is not None:
        seen_body = note.parse(seen.note).body
        if checkpoint.size < seen.size:
            _alert(
                node,
                peer,
                "rollback",
                f"tree shrank from {seen.size} to {checkpoint.size}",
                seen.note,
                answer.text,
                "[]",
            )
            return Outcome(peer, "alert", checkpoint.size, "rollback")
        if checkpoint.size == seen.size:
            if checkpoint.root != seen.root:
                _alert(
                    node,
                    peer,
                    "fork",
                    f"two different roots at size {seen.size}",
                    seen.note,
                    answer.text,
                    "[]",
                )
                return Outcome(peer, "alert", checkpoint.size, "fork")
            if seen.last_error is None and seen_body == body:
                with node.transaction() as s:
                    row = s.get(WitnessedLog, peer)
                    if row is not None:
                        row.checked_at = utcnow()
                return Outcome(peer, "unchanged", checkpoint.size)
        elif seen.size > 0:  # any tree extends the empty one
            try:
                proof = _fetch_consistency(node, url, seen.size, checkpoint.size)
            except JembatanError as exc:
                return _failed(node, peer, exc.detail)
            try:
                verify_consistency(seen.size, checkpoint.size, seen.root, checkpoint.root, proof)
            except ProofError as exc:
                encoded = json.dumps([base64.b64encode(h).decode() for h in proof])
                _alert(
                    node,
                    peer,
                    "inconsistent",
                    f"size {checkpoint.size} does not extend size {seen.size}: {exc}",
                    seen.note,
                    answer.text,
                    encoded,
                )
                return Outcome(peer, "alert", checkpoint.size, "inconsistent")
    error = _send_cosignature(node, url, body)
    with node.transaction() as s:
        row = s.get(WitnessedLog, peer)
        if row is None:
            row = WitnessedLog(peer=peer)
            s.add(row)
        row.size, row.root, row.note = checkpoint.size, checkpoint.root, answer.text
        row.checked_at, row.last_error = utcnow(), error
    if error:
        return Outcome(peer, "error", checkpoint.size, error)
    return Outcome(peer, "cosigned", checkpoint.size)


def _send_cosignature(node: Node, url: str, body: str) -> str | None:
    key = node.keys().signer().signing_key()
    sig = note.cosign(body, node.member_id, key, int(time.time()))
    try:
        answer = send_signed(
            node, "POST", url + COSIGNATURE_PATH, (body + "\n" + sig.line()).encode(), "text/plain"
        )
    except JembatanError as exc:
        return exc.detail[:500]
    if answer.status_code != 200:
        return f"cosignature refused ({answer.status_code}): {answer.text[:300]}"
    return None


def _failed(node: Node, peer: str, detail: str) -> Outcome:
    with node.transaction() as s:
        row = s.get(WitnessedLog, peer)
        if row is not None:
            row.last_error, row.checked_at = detail[:500], utcnow()
    log.info("witness check failed", peer=peer, reason=detail)
    return Outcome(peer, "error", detail=detail)


def peers(node: Node) -> list[str]:
    """Every member with a node in the directories we trust, except ourselves."""
    return [m.id for m in other_members(node) if m.node_url]


def forget(node: Node, peer: str) -> bool:
    """Start witnessing a peer afresh, after its operators explained an alert (a restore
    from backup, say): the next checkpoint seen becomes the new reference."""
    with node.transaction() as s:
        row = s.get(WitnessedLog, peer)
        if row is None:
            return False
        s.delete(row)
        record(s, Event(LEDGER_ALERT, console(node), peer, {"kind": "reset"}))
        return True


def witness_all(node: Node) -> list[Outcome]:
    return [witness_peer(node, peer) for peer in peers(node)]


def alerts(node: Node, limit: int = 100) -> list[LedgerAlert]:
    with node.db() as s:
        return list(s.scalars(select(LedgerAlert).order_by(LedgerAlert.id.desc()).limit(limit)))


def alert_count(node: Node) -> int:
    with node.db() as s:
        return int(s.scalar(select(func.count()).select_from(LedgerAlert)) or 0)


def witnessed(node: Node) -> list[WitnessedLog]:
    with node.db() as s:
        return list(s.scalars(select(WitnessedLog).order_by(WitnessedLog.peer)))
