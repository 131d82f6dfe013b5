"""A node's side of the federation: its anchor, joining, fetching and checking the
directory (its own and those of federations its registry trusts), and rotating its keys."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select

import jembatan
from jembatan.crypto import jws
from jembatan.crypto.canonical import canonical_json
from jembatan.errors import Conflict, InvalidInput, NotFound, Unavailable
from jembatan.ledger.entries import (
    DIRECTORY_ACCEPTED,
    KEYS_ACTIVATED,
    KEYS_ROTATED,
    Event,
    console,
    record,
)
from jembatan.logs import get_logger
from jembatan.node.context import Node
from jembatan.node.identity import NODE, add_key
from jembatan.node.models import NodeKey
from jembatan.registry.authority import JOIN_TYP, ROTATION_TYP
from jembatan.registry.directory import (
    Directory,
    TrustAnchor,
    check_country,
    parse_directory,
    stamp,
    verify_directory,
)
from jembatan.registry.models import Anchor, DirectoryCopy
from jembatan.store.schema import utcnow

log = get_logger("jembatan.registry")
USER_AGENT = f"jembatan/{jembatan.__version__}"


def http(node: Node) -> httpx.Client:
    """One pooled keep-alive client per node for everything it says to other nodes."""
    client = node.extras.get("http")
    if not isinstance(client, httpx.Client):
        client = httpx.Client(timeout=httpx.Timeout(10.0), headers={"User-Agent": USER_AGENT})
        node.extras["http"] = client
    return client


def own_anchor(node: Node) -> TrustAnchor | None:
    with node.db() as s:
        row = s.scalar(select(Anchor))
    if row is None:
        return None
    return TrustAnchor(row.instance, row.registry_url, json.loads(row.key))


def set_anchor(node: Node, anchor: TrustAnchor) -> None:
    with node.transaction() as s:
        row = s.scalar(select(Anchor))
        if row is not None and row.instance != anchor.instance:
            raise Conflict("this node already belongs to instance {have!r}", have=row.instance)
        if row is None:
            s.add(
                Anchor(
                    id=1,
                    instance=anchor.instance,
                    registry_url=anchor.registry_url,
                    key=json.dumps(anchor.key),
                )
            )
        else:
            row.registry_url, row.key = anchor.registry_url, json.dumps(anchor.key)
    forget_view(node)


def _node_jwks(node: Node, status: str) -> list[dict[str, Any]]:
    with node.db() as s:
        rows = s.scalars(select(NodeKey).where(NodeKey.purpose == NODE, NodeKey.status == status))
        return [json.loads(r.public_jwk) for r in rows]


def join(node: Node, anchor: TrustAnchor, country: str) -> dict[str, Any]:
    """Send a join request signed with this node's key; the registry's admins decide."""
    check_country(country)
    set_anchor(node, anchor)
    payload = {
        "member": node.member_id,
        "name": node.name,
        "country": country,
        "node_url": node.settings.base_url,
        "keys": _node_jwks(node, "active"),
        "requested_at": stamp(utcnow()),
    }
    proof = jws.sign(canonical_json(payload), node.keys().signer(), JOIN_TYP)
    return _post_jose(node, anchor.registry_url + "/registry/v1/join-requests", proof)


def _post_jose(node: Node, url: str, token: str) -> dict[str, Any]:
    try:
        answer = http(node).post(url, content=token, headers={"Content-Type": "application/jose"})
    except httpx.TransportError as exc:
        raise Unavailable(f"registry unreachable at {url}: {exc}") from None
    body: dict[str, Any] = {}
    with contextlib.suppress(ValueError):
        body = answer.json()
    if answer.status_code >= 400:
        raise Unavailable(
            f"registry refused ({answer.status_code}): {body.get('detail', answer.text[:200])}"
        )
    return body


# The directory ----------------------------------------------------------------------------


@dataclass
class Federation:
    """What this node currently trusts: its own directory and those of trusted instances."""

    own: Directory | None = None
    others: dict[str, Directory] = field(default_factory=dict)

    def directories(self) -> list[Directory]:
        return ([self.own] if self.own else []) + list(self.others.values())

    @functools.cached_property
    def first_expiry(self) -> datetime | None:
        """When the first of its directories expires (a view is asked for many times)."""
        return min((d.expires_at for d in self.directories()), default=None)

    def member(self, member_id: str) -> Any:
        for d in self.directories():
            if member_id in d.members:
                return d.members[member_id]
        return None

    def key(self, kid: str) -> Any:
        for d in self.directories():
            if kid in d.keys:
                return d.keys[kid]
        return None


_cache_lock = threading.Lock()


# How long the view is trusted without asking the database whether another process (a CLI
# command, a second worker) accepted a newer directory; this process's own changes show
# at once. A gateway call asks for the view several times.
VIEW_RECHECK_SECONDS = 1.0


def forget_view(node: Node) -> None:
    """This process changed the directory copies: the next look-up reads them again."""
    with _cache_lock:
        node.extras.pop("federation_checked", None)


def federation(node: Node) -> Federation:
    """The current trusted view, parsed once per set of directory serials."""
    now = time.monotonic()
    with _cache_lock:
        cached = node.extras.get("federation")
        checked = node.extras.get("federation_checked")
        if (
            isinstance(cached, tuple)
            and isinstance(checked, float)
            and now - checked < VIEW_RECHECK_SECONDS
        ):
            return _unexpired(cached[1])
    with node.db() as s:  # the cheap question first: did any serial change?
        rows = s.execute(select(DirectoryCopy.instance, DirectoryCopy.serial))
        marker: tuple[tuple[str, int], ...] = tuple(sorted((i, n) for i, n in rows))
    with _cache_lock:
        cached = node.extras.get("federation")
        if isinstance(cached, tuple) and cached[0] == marker:
            view: Federation = cached[1]
            node.extras["federation_checked"] = now
            return _unexpired(view)
    with node.db() as s:
        copies = list(s.scalars(select(DirectoryCopy)))
    marker = tuple(sorted((c.instance, c.serial) for c in copies))
    anchor = own_anchor(node)
    view = Federation()
    for c in copies:
        directory = parse_directory(json.loads(jws_payload(c.signed)))
        if anchor is not None and c.instance == anchor.instance:
            view.own = directory
        else:
            view.others[c.instance] = directory
    if view.own is not None:  # only instances our registry still trusts count
        view.others = {i: d for i, d in view.others.items() if i in view.own.trusted}
    else:
        view.others = {}
    with _cache_lock:
        node.extras["federation"] = (marker, view)
        node.extras["federation_checked"] = now
    return _unexpired(view)


def _unexpired(view: Federation) -> Federation:
    """An expired directory vouches for nobody until a fresh one arrives."""
    now = utcnow()
    if view.first_expiry is None or view.first_expiry > now:
        return view
    own = view.own if view.own is not None and view.own.expires_at > now else None
    others = {i: d for i, d in view.others.items() if own is not None and d.expires_at > now}
    return Federation(own, others)


def other_members(node: Node) -> list[Any]:
    """Every member the trusted directories list, except this node, by id."""
    return sorted(
        (
            m
            for d in federation(node).directories()
            for m in d.members.values()
            if m.id != node.member_id
        ),
        key=lambda m: m.id,
    )


def jws_payload(token: str) -> bytes:
    import base64

    body = token.split(".")[1]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


@dataclass(frozen=True)
class RefreshResult:
    instance: str
    serial: int | None
    changed: bool
    error: str | None = None


def _fetch(node: Node, anchor: TrustAnchor) -> str:
    url = anchor.registry_url + "/registry/v1/directory"
    try:
        answer = http(node).get(url)
    except httpx.TransportError as exc:
        raise Unavailable(f"registry unreachable at {url}: {exc}") from None
    if answer.status_code != 200:
        raise Unavailable(f"registry answered {answer.status_code} at {url}")
    return answer.text.strip()


def accept_directory(node: Node, anchor: TrustAnchor, signed: str) -> RefreshResult:
    """Verify a directory and keep it when newer; a bad one is refused, the last good kept."""
    now = utcnow()
    error: str | None = None
    with node.transaction() as s:
        copy = s.get(DirectoryCopy, anchor.instance)
        try:
            directory = verify_directory(
                signed, anchor, now, copy.serial if copy is not None else None
            )
        except InvalidInput as exc:
            if copy is not None:
                copy.last_error = exc.detail[:500]
            error = exc.detail
    if error is not None:
        log.warning("directory refused", instance=anchor.instance, reason=error)
        raise InvalidInput("directory refused: {reason}", reason=error)
    with node.transaction() as s:
        copy = s.get(DirectoryCopy, anchor.instance)
        changed = copy is None or copy.serial != directory.serial
        if copy is None:
            copy = DirectoryCopy(instance=anchor.instance)
            s.add(copy)
        copy.serial, copy.signed = directory.serial, signed
        copy.issued_at, copy.expires_at = directory.issued_at, directory.expires_at
        copy.fetched_at, copy.last_error = now, None
        if changed:
            record(
                s,
                Event(
                    DIRECTORY_ACCEPTED,
                    node.member_id,
                    anchor.instance,
                    {"serial": directory.serial, "expires": stamp(directory.expires_at)},
                    {"directory": hashlib.sha256(signed.encode()).hexdigest()},
                ),
            )
    forget_view(node)
    return RefreshResult(anchor.instance, directory.serial, changed)


def refresh(node: Node) -> list[RefreshResult]:
    """Fetch and check our directory, then those of the instances it trusts."""
    anchor = own_anchor(node)
    if anchor is None:
        raise NotFound("this node has not joined a federation; run `jembatan join`")
    results = [accept_directory(node, anchor, _fetch(node, anchor))]
    view = federation(node)
    assert view.own is not None
    for other in view.own.trusted.values():
        try:
            results.append(accept_directory(node, other, _fetch(node, other)))
        except (InvalidInput, Unavailable) as exc:
            results.append(RefreshResult(other.instance, None, False, exc.detail))
    with node.transaction() as s:  # ending the trust ends the exchange
        s.execute(
            delete(DirectoryCopy).where(
                DirectoryCopy.instance.not_in([anchor.instance, *view.own.trusted])
            )
        )
    forget_view(node)
    _settle_keys(node)
    return results


def _settle_keys(node: Node) -> None:
    """Pending keys the directory now lists become active; the keys they replace retire
    after the overlap window."""
    view = federation(node)
    if view.own is None:
        return
    now = utcnow()
    listed = {kid for kid, k in view.own.keys.items() if k.member == node.member_id}
    changed: dict[str, str] = {}
    with node.transaction() as s:
        rows = list(s.scalars(select(NodeKey).where(NodeKey.purpose == NODE)))
        for row in rows:
            if row.status == "pending" and row.kid in listed:
                for old in rows:
                    if old.use == row.use and old.status == "active" and old.kid != row.kid:
                        old.status = "retiring"
                        old.retire_at = now + timedelta(hours=node.settings.key_overlap_hours)
                        changed[old.kid] = "retiring"
                row.status = changed[row.kid] = "active"
            elif row.status == "retiring" and row.retire_at is not None and row.retire_at <= now:
                row.status = changed[row.kid] = "retired"
        if changed:
            record(s, Event(KEYS_ACTIVATED, node.member_id, node.member_id, {"keys": changed}))
    if changed:
        node.unlock(node.keys().passphrase)


def rotate_keys(node: Node) -> list[str]:
    """Announce new keys in a request signed by the current key; they take over once the
    registry's directory lists them, and the old ones verify for the overlap window."""
    anchor = own_anchor(node)
    if anchor is None:
        raise NotFound("this node has not joined a federation; run `jembatan join`")
    ring = node.keys()
    with node.transaction() as s:
        if s.scalar(select(NodeKey.kid).where(NodeKey.status == "pending")) is not None:
            raise Conflict("a key rotation is already waiting for the directory")
        new = [
            add_key(s, ring.passphrase, NODE, "sig", "pending"),
            add_key(s, ring.passphrase, NODE, "enc", "pending"),
        ]
        payload = {
            "member": node.member_id,
            "keys": [k.public_jwk() for k in new],
            "requested_at": stamp(utcnow()),
        }
        proof = jws.sign(canonical_json(payload), ring.signer(), ROTATION_TYP)
        record(
            s,
            Event(
                KEYS_ROTATED,
                console(node),
                node.member_id,
                {"new_keys": [k.kid for k in new], "signed_by": ring.signer().kid},
            ),
        )
        # Sent inside the transaction: if the registry refuses, the new keys are not kept.
        _post_jose(node, anchor.registry_url + "/registry/v1/key-rotations", proof)
    return [k.kid for k in new]


def directory_status(node: Node) -> dict[str, Any]:
    """For /readyz and the portal: whether we hold a valid directory and how old it is."""
    anchor = own_anchor(node)
    if anchor is None:
        return {"ok": True, "joined": False}
    with node.db() as s:
        copy = s.get(DirectoryCopy, anchor.instance)
    if copy is None:
        return {
            "ok": False,
            "joined": True,
            "instance": anchor.instance,
            "error": "no directory fetched yet",
        }
    now = utcnow()
    return {
        "ok": copy.expires_at > now,
        "joined": True,
        "instance": anchor.instance,
        "serial": copy.serial,
        "age_seconds": int((now - copy.fetched_at).total_seconds()),
        "issued_at": stamp(copy.issued_at),
        "expires_at": stamp(copy.expires_at),
        "last_error": copy.last_error,
    }


def last_fetch(node: Node) -> datetime | None:
    anchor = own_anchor(node)
    if anchor is None:
        return None
    with node.db() as s:
        copy = s.get(DirectoryCopy, anchor.instance)
    return copy.fetched_at if copy else None
