"""API tokens for agencies' own systems: shown once, stored hashed, scoped, expiring."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from jembatan.accounts.models import ApiToken, User
from jembatan.accounts.roles import PERMISSIONS, Role, parse_scopes
from jembatan.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from jembatan.node.context import Node
from jembatan.store.schema import utcnow

PREFIX = "jbt"
_FORMAT = re.compile(r"^jbt_([a-z2-7]{16})_([A-Za-z0-9_-]{43})$")
_DURATION = re.compile(r"^(\d{1,5})([hdw])$")
MAX_LIFETIME = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """'12h', '30d' or '8w'."""
    match = _DURATION.match(text.strip())
    if not match:
        raise InvalidInput("duration {text!r} must look like 12h, 30d or 8w", text=text)
    amount, unit = int(match.group(1)), match.group(2)
    span = {"h": timedelta(hours=amount), "d": timedelta(days=amount), "w": timedelta(weeks=amount)}
    if amount == 0:
        raise InvalidInput("duration must be more than zero")
    return span[unit]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the only time the full token exists outside its owner's hands
    record: ApiToken


def create_token(
    node: Node, user_id: int, name: str, scopes: list[str] | str, lifetime: timedelta
) -> IssuedToken:
    wanted = parse_scopes(scopes)
    name = name.strip() or "token"
    if len(name) > 100:
        raise InvalidInput("token name must be at most 100 characters")
    if lifetime > MAX_LIFETIME:
        raise InvalidInput("a token may live at most 366 days")
    token_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(16))
    secret = secrets.token_urlsafe(32)
    with node.transaction() as s:
        user = s.get(User, user_id)
        if user is None:
            raise NotFound("no user with id {id}", id=user_id)
        beyond = [sc for sc in wanted if sc not in PERMISSIONS[Role(user.role)]]
        if beyond:
            raise Forbidden(
                "role {role!r} may not hold scope {scope!r}", role=user.role, scope=beyond[0]
            )
        record = ApiToken(
            user_id=user_id,
            name=name,
            token_id=token_id,
            secret_hash=_digest(secret),
            scopes=" ".join(wanted),
            expires_at=utcnow() + lifetime,
        )
        s.add(record)
        s.flush()
    return IssuedToken(f"{PREFIX}_{token_id}_{secret}", record)


def list_tokens(node: Node, user_id: int) -> list[ApiToken]:
    with node.db() as s:
        return list(
            s.scalars(
                select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
            )
        )


def revoke_token(node: Node, token_id: str, owner_id: int | None = None) -> ApiToken:
    """Revoke by public id; with owner_id, only that user's own token."""
    with node.transaction() as s:
        query = select(ApiToken).where(ApiToken.token_id == token_id)
        if owner_id is not None:
            query = query.where(ApiToken.user_id == owner_id)
        record = s.scalar(query)
        if record is None:
            raise NotFound("no token {id!r}", id=token_id)
        if record.revoked_at is None:
            record.revoked_at = utcnow()
    forget_checks(node)
    return record


LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class TokenHolder:
    user: User
    scopes: frozenset[str]
    token_id: str


def authenticate_token(node: Node, presented: str) -> TokenHolder:
    return _authenticate(node, presented)[0]


def _authenticate(node: Node, presented: str) -> tuple[TokenHolder, str, datetime]:
    """The holder, the stored secret hash and the expiry."""
    match = _FORMAT.match(presented.strip())
    if not match:
        raise Unauthenticated("malformed API token")
    token_id, secret = match.groups()
    now = utcnow()
    with node.transaction() as s:
        record = s.scalar(select(ApiToken).where(ApiToken.token_id == token_id))
        if record is None or not hmac.compare_digest(record.secret_hash, _digest(secret)):
            raise Unauthenticated("unknown API token")
        if record.revoked_at is not None:
            raise Unauthenticated("this API token has been revoked")
        if record.expires_at <= now:
            raise Unauthenticated("this API token has expired")
        user = s.get(User, record.user_id)
        if user is None or user.disabled:
            raise Unauthenticated("the owner of this API token is disabled")
        if record.last_used_at is None or now - record.last_used_at > LAST_USED_RESOLUTION:
            record.last_used_at = now  # not on every call: a write per request costs throughput
        allowed = PERMISSIONS[Role(user.role)]
        holder = TokenHolder(user, frozenset(record.scope_list) & allowed, token_id)
        return holder, record.secret_hash, record.expires_at


# How long the gateway may go by a token as checked when another process (a CLI command)
# revoked it or disabled its owner; this process's own changes apply at once.
CHECK_SECONDS = 1.0
_CHECKS = "token_checks"


def remembered(node: Node, presented: str) -> TokenHolder | None:
    """The holder of a token checked less than CHECK_SECONDS ago, when the secret matches
    (compared in constant time) and the token has not expired since; None: check afresh
    with `authenticate_remembering`. Every gateway call presents a token."""
    match = _FORMAT.match(presented.strip())
    checks = node.extras.get(_CHECKS)
    if match is None or not isinstance(checks, dict):
        return None
    found = checks.get(match.group(1))
    if found is None or time.monotonic() - found[0] >= CHECK_SECONDS or found[3] <= time.time():
        return None
    if not hmac.compare_digest(found[1], _digest(match.group(2))):
        return None
    holder: TokenHolder = found[2]
    return holder


def authenticate_remembering(node: Node, presented: str) -> TokenHolder:
    holder, secret_hash, expires_at = _authenticate(node, presented)
    checks = node.extras.setdefault(_CHECKS, {})
    assert isinstance(checks, dict)
    expires = expires_at.replace(tzinfo=UTC) if expires_at.tzinfo is None else expires_at
    checks[holder.token_id] = (time.monotonic(), secret_hash, holder, expires.timestamp())
    return holder


def forget_checks(node: Node) -> None:
    """After a token is revoked or a user changed, every token is checked afresh."""
    node.extras.pop(_CHECKS, None)


def token_status(record: ApiToken, now: datetime | None = None) -> str:
    if record.revoked_at is not None:
        return "revoked"
    if record.expires_at <= (now or utcnow()):
        return "expired"
    return "active"
