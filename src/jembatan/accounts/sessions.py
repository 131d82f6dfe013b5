"""Portal sessions, kept server-side so logout and disabling end them at once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete

from jembatan.accounts.models import User, WebSession
from jembatan.node.context import Node
from jembatan.store.schema import utcnow

_TOUCH_EVERY = timedelta(seconds=60)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def start_session(node: Node, user_id: int, two_factor_done: bool) -> str:
    """A new session; returns the secret for the cookie (only its hash is stored)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    with node.transaction() as s:
        s.add(
            WebSession(
                id=_digest(raw),
                user_id=user_id,
                two_factor_done=two_factor_done,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=node.settings.session_hours),
            )
        )
    return raw


def resolve_session(node: Node, raw: str) -> tuple[WebSession, User] | None:
    """The live session and its user, or None when unknown, expired, idle or disabled."""
    now = utcnow()
    idle = timedelta(minutes=node.settings.session_idle_minutes)
    with node.transaction() as s:
        session = s.get(WebSession, _digest(raw))
        if session is None:
            return None
        user = s.get(User, session.user_id)
        if (
            user is None
            or user.disabled
            or session.expires_at <= now
            or session.last_seen_at + idle <= now
        ):
            s.delete(session)
            return None
        if now - session.last_seen_at > _TOUCH_EVERY:
            session.last_seen_at = now
        return session, user


def complete_two_factor(node: Node, session_id: str) -> str:
    """Replace a half-logged-in session with a full one (a fresh id defeats fixation)."""
    with node.transaction() as s:
        old = s.get(WebSession, session_id)
        if old is None:
            raise LookupError("session ended")
        user_id = old.user_id
        s.delete(old)
    return start_session(node, user_id, two_factor_done=True)


def end_session(node: Node, session_id: str) -> None:
    with node.transaction() as s:
        s.execute(delete(WebSession).where(WebSession.id == session_id))
