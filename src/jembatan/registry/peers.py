"""Node-to-node requests: signing what we send, and checking what other nodes send us."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import Request
from sqlalchemy import delete
from starlette.concurrency import run_in_threadpool

from jembatan.crypto import httpsig
from jembatan.crypto.ed25519 import verifying
from jembatan.crypto.keys import raw_public_ed25519
from jembatan.errors import Unauthenticated, Unavailable
from jembatan.node.context import Node
from jembatan.registry.membership import federation, http
from jembatan.registry.models import SeenNonce
from jembatan.store.driver import insert_ignoring
from jembatan.store.schema import utcnow


@dataclass(frozen=True)
class Peer:
    """A verified sender: which member, with which key."""

    member: str
    kid: str
    node_url: str


def key_lookup(node: Node) -> Any:
    view = federation(node)

    def key_for(keyid: str, created: int) -> httpsig.VerifyingKey:
        record = view.key(keyid)
        if record is None:
            raise httpsig.SignatureRefused("unknown key: not in any trusted directory")
        if record.use != "sig":
            raise httpsig.SignatureRefused("that key is not a signing key")
        moment = datetime.fromtimestamp(created, UTC)
        if record.revoked_at is not None and moment >= record.revoked_at:
            raise httpsig.SignatureRefused("the key was revoked")
        if not record.usable_at(moment):
            raise httpsig.SignatureRefused("the key is not valid at the signature's time")
        return verifying(raw_public_ed25519(record.jwk).public_bytes_raw())

    return key_for


def target_uri(node: Node, request: Request) -> str:
    """The URI the sender addressed: our public URL (from the directory) plus the path."""
    query = request.url.query
    return node.settings.base_url + request.url.path + (f"?{query}" if query else "")


def check_signed(node: Node, method: str, uri: str, headers: Any, body: bytes) -> Peer:
    max_age = node.settings.signature_max_age_seconds
    try:
        signed = httpsig.verify(
            method, uri, headers, body, key_lookup(node), int(time.time()), max_age
        )
    except httpsig.SignatureRefused as exc:
        raise Unauthenticated("request signature refused: {reason}", reason=str(exc)) from None
    return _accept(node, signed)


def signed_values(
    node: Node, headers: Any, derived: Callable[[str], str | None], required: tuple[str, ...]
) -> tuple[Peer, httpsig.Verified]:
    """Like check_signed, for messages whose body is authenticated apart (see gateway),
    without recording the nonce: the caller records it with `nonce_row` (the gateway by
    group commit, many calls in one transaction)."""
    try:
        verified = httpsig.verify_values(
            headers,
            derived,
            required,
            key_lookup(node),
            int(time.time()),
            node.settings.signature_max_age_seconds,
        )
    except httpsig.SignatureRefused as exc:
        raise Unauthenticated("request signature refused: {reason}", reason=str(exc)) from None
    return _peer(node, verified.request), verified


def nonce_row(node: Node, signed: httpsig.SignedRequest) -> dict[str, Any]:
    max_age = node.settings.signature_max_age_seconds
    return {
        "keyid": signed.keyid,
        "nonce": signed.nonce,
        "expires_at": utcnow() + timedelta(seconds=max_age + httpsig.CLOCK_SKEW),
    }


def _peer(node: Node, signed: httpsig.SignedRequest) -> Peer:
    record = federation(node).key(signed.keyid)
    member = federation(node).member(record.member)
    return Peer(record.member, signed.keyid, member.node_url)


def _accept(node: Node, signed: httpsig.SignedRequest) -> Peer:
    """Record the nonce (a replay is refused) and name the sender."""
    with node.transaction() as s:
        if not insert_ignoring(s, SeenNonce, nonce_row(node, signed)):
            raise Unauthenticated("request signature refused: replayed nonce")
    return _peer(node, signed)


async def signed_peer(request: Request) -> Peer:
    """FastAPI dependency for every /fed/ route: no valid signature, no entry."""
    node: Node = request.app.state.node
    body = await request.body()
    return await run_in_threadpool(
        check_signed, node, request.method, target_uri(node, request), request.headers, body
    )


def forget_old_nonces(node: Node) -> int:
    with node.transaction() as s:
        result = s.execute(delete(SeenNonce).where(SeenNonce.expires_at < utcnow()))
        return int(getattr(result, "rowcount", 0) or 0)


def send_signed(
    node: Node,
    method: str,
    url: str,
    body: bytes = b"",
    content_type: str = "application/json",
    timeout: float | None = None,
) -> httpx.Response:
    """Sign and send one request to another node (pooled keep-alive connections)."""
    signer = node.keys().signer()
    headers = httpsig.sign(method, url, body, signer.ed25519, signer.kid, int(time.time()))
    content: bytes | Iterator[bytes] = body
    if body:
        headers["Content-Type"] = content_type
    if len(body) > _SLICE:
        # Handed to httpx in slices: given one large bytes object it makes copies that
        # leave a streaming node's memory fragmented (see docs/performance.md).
        headers["Content-Length"] = str(len(body))
        content = _slices(body)
    try:
        return http(node).request(
            method,
            url,
            content=content,
            headers=headers,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
    except httpx.TransportError as exc:
        raise Unavailable(f"node unreachable at {url}: {exc}") from None


_SLICE = 64 * 1024


def _slices(body: bytes) -> Iterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), _SLICE):
        yield bytes(view[start : start + _SLICE])


def send_json(node: Node, method: str, url: str, payload: Any) -> httpx.Response:
    return send_signed(node, method, url, json.dumps(payload).encode())
