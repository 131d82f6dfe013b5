"""The registry role: members, keys and join requests, and the signed directory it issues.

Any node can take the role (`jembatan registry init`). Every change bumps the directory
content; the next request for the directory signs a new serial.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from jembatan.crypto import jws
from jembatan.crypto.keys import public_key
from jembatan.errors import Conflict, Forbidden, InvalidInput, NotFound
from jembatan.identifiers import MemberId, SubsystemId, service_code
from jembatan.node.context import Node
from jembatan.node.identity import REGISTRY, add_key
from jembatan.node.models import NodeKey
from jembatan.registry.directory import (
    TrustAnchor,
    check_country,
    check_instance,
    parse_stamp,
    sign_directory,
    stamp,
)
from jembatan.registry.models import (
    JoinRequest,
    RegistryKey,
    RegistryMember,
    RegistryService,
    RegistryState,
    RegistrySubsystem,
    TrustedInstance,
)
from jembatan.store.schema import utcnow

JOIN_TYP = "jembatan-join+jws"
ROTATION_TYP = "jembatan-key-rotation+jws"
REQUEST_WINDOW = timedelta(minutes=10)


def state(s: Session, lock: bool = False) -> RegistryState:
    query = select(RegistryState)
    if lock:
        query = query.with_for_update()
    found = s.scalar(query)
    if found is None:
        raise NotFound("this node is not a registry; run `jembatan registry init`")
    return found


def is_registry(node: Node) -> bool:
    with node.db() as s:
        return s.scalar(select(RegistryState.id)) is not None


def check_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput("{url!r} is not an http(s) URL", url=url)
    return url.rstrip("/")


def _add_member(
    s: Session, member: str, name: str, country: str, url: str, jwks: list[dict[str, Any]]
) -> None:
    now = utcnow()
    s.add(RegistryMember(member_id=member, name=name, country=country, node_url=url))
    s.flush()
    for jwk in jwks:
        s.add(
            RegistryKey(
                kid=jwk["kid"],
                member_id=member,
                use=jwk["use"],
                jwk=json.dumps(jwk),
                not_before=now,
            )
        )


def init_registry(node: Node, instance: str, country: str) -> TrustAnchor:
    """Take the registry role; the node itself becomes the first member of its directory."""
    check_instance(instance)
    check_country(country)
    if MemberId.parse(node.member_id).instance != instance:
        raise InvalidInput(
            "this node is member {member}, which is not in instance {instance!r}",
            member=node.member_id,
            instance=instance,
        )
    ring = node.keys()
    with node.transaction() as s:
        if s.scalar(select(RegistryState.id)) is not None:
            raise Conflict("this node already holds the registry role")
        pair = add_key(s, ring.passphrase, REGISTRY, "sig", "active")
        s.add(RegistryState(id=1, instance=instance, url=node.settings.base_url))
        own = [k for k in ring.public if k["purpose"] == "node"]
        _add_member(
            s,
            node.member_id,
            node.name,
            country,
            node.settings.base_url,
            [{k: v for k, v in jwk.items() if k != "purpose"} for jwk in own],
        )
    node.unlock(ring.passphrase)
    return TrustAnchor(instance, node.settings.base_url, _public(pair.public_jwk()))


def _public(jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: jwk[k] for k in ("kty", "crv", "x", "kid")}


def anchor(node: Node) -> TrustAnchor:
    with node.db() as s:
        st = state(s)
        row = s.scalar(
            select(NodeKey)
            .where(NodeKey.purpose == REGISTRY, NodeKey.status == "active")
            .order_by(NodeKey.created_at.desc())
        )
        assert row is not None
    return TrustAnchor(st.instance, st.url, _public(json.loads(row.public_jwk)))


def build_document(
    s: Session, st: RegistryState, serial: int, now: datetime, hours: int
) -> dict[str, Any]:
    members = []
    revoked = []
    for m in s.scalars(select(RegistryMember).order_by(RegistryMember.member_id)):
        keys = []
        for k in s.scalars(
            select(RegistryKey)
            .where(RegistryKey.member_id == m.member_id)
            .order_by(RegistryKey.kid)
        ):
            if k.not_after is not None and k.not_after < now and k.revoked_at is None:
                continue  # long expired: no longer listed
            entry = {**json.loads(k.jwk), "nbf": stamp(k.not_before)}
            if k.not_after is not None:
                entry["exp"] = stamp(k.not_after)
            keys.append(entry)
            if k.revoked_at is not None:
                revoked.append(
                    {
                        "kid": k.kid,
                        "member": m.member_id,
                        "revoked_at": stamp(k.revoked_at),
                        "reason": k.revoke_reason or "",
                    }
                )
        subsystems = list(
            s.scalars(
                select(RegistrySubsystem.code)
                .where(RegistrySubsystem.member_id == m.member_id)
                .order_by(RegistrySubsystem.code)
            )
        )
        members.append(
            {
                "id": m.member_id,
                "name": m.name,
                "country": m.country,
                "class": MemberId.parse(m.member_id).member_class,
                "node_url": m.node_url,
                "keys": keys,
                "subsystems": subsystems,
                "services": [
                    {"subsystem": sub, "code": code}
                    for sub, code in s.execute(
                        select(RegistryService.subsystem, RegistryService.code)
                        .where(RegistryService.member_id == m.member_id)
                        .order_by(RegistryService.subsystem, RegistryService.code)
                    )
                ],
            }
        )
    trusted = [
        {"instance": t.instance, "registry_url": t.registry_url, "key": json.loads(t.key)}
        for t in s.scalars(select(TrustedInstance).order_by(TrustedInstance.instance))
    ]
    return {
        "version": 1,
        "instance": st.instance,
        "serial": serial,
        "issued_at": stamp(now),
        "expires_at": stamp(now + timedelta(hours=hours)),
        "registry": {"url": st.url},
        "members": members,
        "revoked_keys": sorted(revoked, key=lambda r: r["kid"]),
        "trusted_instances": trusted,
    }


def current_directory(node: Node) -> str:
    """The signed directory; re-signed with the next serial after any change, and when
    half its validity has passed, so nodes never hold an expired one."""
    now = utcnow()
    hours = node.settings.directory_validity_hours
    with node.transaction() as s:
        st = state(s, lock=True)
        fresh = (
            st.signed is not None
            and not st.changed
            and st.expires_at is not None
            and st.expires_at - now > timedelta(hours=hours) / 2
        )
        if fresh:
            assert st.signed is not None
            return st.signed
        st.serial += 1
        document = build_document(s, st, st.serial, now, hours)
        st.signed = sign_directory(document, node.keys().signer(REGISTRY))
        st.issued_at, st.expires_at, st.changed = now, now + timedelta(hours=hours), False
        return st.signed


def _mark_changed(s: Session) -> None:
    state(s, lock=True).changed = True


# Join requests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class JoinClaim:
    member: str
    name: str
    country: str
    node_url: str
    keys: list[dict[str, Any]]
    requested_at: datetime


def read_join(proof: str, instance: str, now: datetime) -> JoinClaim:
    """Verify a join request: signed by the signing key it announces (proof of possession)."""
    header = jws.unverified_header(proof)
    import base64

    try:
        body = proof.split(".")[1]
        doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        keys = [dict(k) for k in doc["keys"]]
    except (ValueError, IndexError, KeyError, TypeError):
        raise InvalidInput("join request payload is malformed") from None
    signing = [k for k in keys if k.get("use") == "sig"]
    enc = [k for k in keys if k.get("use") == "enc"]
    if len(signing) != 1 or len(enc) != 1:
        raise InvalidInput("a join request announces exactly one sig and one enc key")
    for k in keys:
        public_key(k)
    if header.get("kid") != signing[0]["kid"]:
        raise InvalidInput("the join request must be signed by the signing key it announces")
    jws.verify(proof, public_key(signing[0]), JOIN_TYP)
    try:
        claim = JoinClaim(
            member=str(MemberId.parse(doc["member"])),
            name=str(doc["name"]).strip()[:300],
            country=check_country(doc["country"]),
            node_url=check_url(doc["node_url"]),
            keys=[{x: k[x] for x in ("kty", "crv", "x", "kid", "use")} for k in keys],
            requested_at=parse_stamp(doc["requested_at"]),
        )
    except KeyError as exc:
        raise InvalidInput("join request lacks {field!r}", field=str(exc)) from None
    if MemberId.parse(claim.member).instance != instance:
        raise InvalidInput(
            "member {member} is not in this registry's instance {instance!r}",
            member=claim.member,
            instance=instance,
        )
    if abs(now - claim.requested_at) > REQUEST_WINDOW:
        raise InvalidInput("join request is too old or from the future; check the clock")
    if not claim.name:
        raise InvalidInput("join request has no name")
    return claim


def submit_join(node: Node, proof: str) -> JoinRequest:
    with node.transaction() as s:
        st = state(s)
        claim = read_join(proof, st.instance, utcnow())
        if s.get(RegistryMember, claim.member) is not None:
            raise Conflict("{member} is already a member", member=claim.member)
        pending = s.scalar(
            select(JoinRequest).where(
                JoinRequest.member_id == claim.member, JoinRequest.status == "pending"
            )
        )
        if pending is not None:
            raise Conflict(
                "{member} already has a pending join request ({id})",
                member=claim.member,
                id=pending.id,
            )
        request = JoinRequest(
            member_id=claim.member,
            name=claim.name,
            country=claim.country,
            node_url=claim.node_url,
            keys=json.dumps(claim.keys),
            proof=proof,
        )
        s.add(request)
        s.flush()
        return request


def list_requests(node: Node, status: str | None = "pending") -> list[JoinRequest]:
    with node.db() as s:
        query = select(JoinRequest).order_by(JoinRequest.id.desc())
        if status:
            query = query.where(JoinRequest.status == status)
        return list(s.scalars(query))


def _pending(s: Session, request_id: int) -> JoinRequest:
    request = s.get(JoinRequest, request_id)
    if request is None:
        raise NotFound("no join request {id}", id=request_id)
    if request.status != "pending":
        raise Conflict(
            "join request {id} is already {status}", id=request_id, status=request.status
        )
    return request


def approve(node: Node, request_id: int, actor: str) -> JoinRequest:
    with node.transaction() as s:
        request = _pending(s, request_id)
        if s.get(RegistryMember, request.member_id) is not None:
            raise Conflict("{member} is already a member", member=request.member_id)
        _add_member(
            s,
            request.member_id,
            request.name,
            request.country,
            request.node_url,
            json.loads(request.keys),
        )
        request.status, request.decided_at, request.decided_by = "approved", utcnow(), actor
        _mark_changed(s)
        return request


def reject(node: Node, request_id: int, reason: str, actor: str) -> JoinRequest:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("give a reason for the rejection")
    with node.transaction() as s:
        request = _pending(s, request_id)
        request.status, request.reason = "rejected", reason[:500]
        request.decided_at, request.decided_by = utcnow(), actor
        return request


def list_members(node: Node) -> list[tuple[RegistryMember, list[RegistryKey]]]:
    with node.db() as s:
        out = []
        for m in s.scalars(select(RegistryMember).order_by(RegistryMember.member_id)):
            keys = list(s.scalars(select(RegistryKey).where(RegistryKey.member_id == m.member_id)))
            out.append((m, keys))
        return out


def set_subsystem(node: Node, subsystem: str, present: bool = True) -> SubsystemId:
    """Register (or remove) a member's subsystem; the next directory lists it."""
    ident = SubsystemId.parse(subsystem)
    with node.transaction() as s:
        if s.get(RegistryMember, str(ident.member)) is None:
            raise NotFound("{member} is not a member", member=str(ident.member))
        row = s.get(RegistrySubsystem, (str(ident.member), ident.subsystem))
        if present and row is None:
            s.add(RegistrySubsystem(member_id=str(ident.member), code=ident.subsystem))
        elif not present and row is not None:
            s.delete(row)
        elif present:
            raise Conflict("subsystem {id} is already registered", id=subsystem)
        else:
            raise NotFound("subsystem {id} is not registered", id=subsystem)
        _mark_changed(s)
    return ident


def set_services(node: Node, member: str, announced: Any) -> list[dict[str, str]]:
    """Replace the services a member's node announced (only of its registered subsystems)."""
    try:
        wanted = sorted({(str(x["subsystem"]), str(x["code"])) for x in announced["services"]})
    except (KeyError, TypeError):
        raise InvalidInput('announce services as {"services": [{"subsystem", "code"}]}') from None
    if len(wanted) > 1000:
        raise InvalidInput("at most 1000 services per member")
    with node.transaction() as s:
        subsystems = set(
            s.scalars(select(RegistrySubsystem.code).where(RegistrySubsystem.member_id == member))
        )
        for sub, code in wanted:
            service_code(code)
            if sub not in subsystems:
                raise InvalidInput(
                    "{sub} is not a registered subsystem of {member}", sub=sub, member=member
                )
        have = {
            (sub, code)
            for sub, code in s.execute(
                select(RegistryService.subsystem, RegistryService.code).where(
                    RegistryService.member_id == member
                )
            )
        }
        if have != set(wanted):
            s.execute(delete(RegistryService).where(RegistryService.member_id == member))
            for sub, code in wanted:
                s.add(RegistryService(member_id=member, subsystem=sub, code=code))
            _mark_changed(s)
    return [{"subsystem": sub, "code": code} for sub, code in wanted]


# Keys -------------------------------------------------------------------------------------


def revoke_key(node: Node, kid: str, reason: str, at: datetime | None = None) -> RegistryKey:
    with node.transaction() as s:
        key = s.get(RegistryKey, kid)
        if key is None:
            raise NotFound("no key {kid} in the registry", kid=kid)
        if key.revoked_at is not None:
            raise Conflict("key {kid} is already revoked", kid=kid)
        key.revoked_at = at or utcnow()
        key.revoke_reason = reason.strip()[:300] or "revoked"
        _mark_changed(s)
        return key


def accept_rotation(node: Node, proof: str) -> list[str]:
    """New keys announced in a request signed by the member's current signing key."""
    now = utcnow()
    overlap = timedelta(hours=node.settings.key_overlap_hours)
    header = jws.unverified_header(proof)
    with node.transaction() as s:
        old = s.get(RegistryKey, str(header.get("kid", "")))
        if old is None or old.use != "sig":
            raise Forbidden("the rotation request is not signed by a known signing key")
        if not _valid(old, now):
            raise Forbidden("the key that signed the rotation request is revoked or expired")
        doc = json.loads(jws.verify(proof, public_key(json.loads(old.jwk)), ROTATION_TYP).payload)
        if doc.get("member") != old.member_id:
            raise Forbidden("a member may rotate only its own keys")
        if abs(now - parse_stamp(doc.get("requested_at", ""))) > REQUEST_WINDOW:
            raise InvalidInput("rotation request is too old or from the future; check the clock")
        new = [{x: k[x] for x in ("kty", "crv", "x", "kid", "use")} for k in doc.get("keys", [])]
        if sorted(k["use"] for k in new) != ["enc", "sig"]:
            raise InvalidInput("a rotation announces exactly one new sig and one new enc key")
        for jwk in new:
            public_key(jwk)
            if s.get(RegistryKey, jwk["kid"]) is not None:
                raise Conflict("key {kid} is already registered", kid=jwk["kid"])
        for current in s.scalars(
            select(RegistryKey).where(
                RegistryKey.member_id == old.member_id, RegistryKey.not_after.is_(None)
            )
        ):
            current.not_after = now + overlap
        for jwk in new:
            s.add(
                RegistryKey(
                    kid=jwk["kid"],
                    member_id=old.member_id,
                    use=jwk["use"],
                    jwk=json.dumps(jwk),
                    not_before=now,
                )
            )
        _mark_changed(s)
        return [k["kid"] for k in new]


def _valid(key: RegistryKey, now: datetime) -> bool:
    if key.revoked_at is not None and key.revoked_at <= now:
        return False
    return key.not_after is None or key.not_after > now


# Federation of federations ----------------------------------------------------------------


def trust_instance(node: Node, other: TrustAnchor) -> None:
    with node.transaction() as s:
        if other.instance == state(s).instance:
            raise InvalidInput("a registry cannot trust its own instance")
        existing = s.get(TrustedInstance, other.instance)
        if existing is not None:
            existing.registry_url, existing.key = other.registry_url, json.dumps(other.key)
        else:
            s.add(
                TrustedInstance(
                    instance=other.instance,
                    registry_url=other.registry_url,
                    key=json.dumps(other.key),
                )
            )
        _mark_changed(s)


def untrust_instance(node: Node, instance: str) -> None:
    with node.transaction() as s:
        existing = s.get(TrustedInstance, instance)
        if existing is None:
            raise NotFound("instance {instance!r} is not trusted", instance=instance)
        s.delete(existing)
        _mark_changed(s)


def list_trusted(node: Node) -> list[TrustedInstance]:
    with node.db() as s:
        return list(s.scalars(select(TrustedInstance).order_by(TrustedInstance.instance)))
