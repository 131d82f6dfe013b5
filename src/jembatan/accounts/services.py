"""Every change to an account goes through one function here, in one transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

from jembatan.accounts import passwords, tokens, totp
from jembatan.accounts.models import RecoveryCode, User, WebSession
from jembatan.accounts.roles import parse_role
from jembatan.crypto.secretbox import SecretBox
from jembatan.errors import Conflict, InvalidInput, NotFound, TooManyAttempts, Unauthenticated
from jembatan.exchange.envelope import check_classification
from jembatan.ledger.entries import (
    USER_CHANGED,
    USER_CREATED,
    USER_LOCKED,
    USER_LOGIN,
    Event,
    record,
    user_actor,
)
from jembatan.node.context import Node
from jembatan.store.schema import utcnow

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
LOCKED_MESSAGE = "too many failed attempts; the account is locked for a while, try again later"
LOGIN_FAILED = "wrong user name or password"
LANGUAGES = ("en", "id")


def _totp_box(node: Node) -> SecretBox:
    return SecretBox(node.secret, "totp")


def _get(s: Session, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None:
        raise NotFound("no user with id {id}", id=user_id)
    return user


def get_user(node: Node, user_id: int) -> User:
    with node.db() as s:
        return _get(s, user_id)


def find_user(node: Node, username: str) -> User:
    with node.db() as s:
        user = s.scalar(select(User).where(User.username == username.lower()))
    if user is None:
        raise NotFound("no user named {name!r}", name=username)
    return user


def list_users(node: Node) -> list[User]:
    with node.db() as s:
        return list(s.scalars(select(User).order_by(User.username)))


def count_users(node: Node) -> int:
    with node.db() as s:
        return s.scalar(select(func.count()).select_from(User)) or 0


def _audit(
    node: Node, s: Session, kind: str, user: User, actor: str | None, **details: object
) -> None:
    """The ledger entry for an account change, in the change's own transaction."""
    record(
        s, Event(kind, actor or node.member_id, user_actor(node.member_id, user.username), details)
    )


def create_user(
    node: Node,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    actor: str | None = None,
) -> User:
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise InvalidInput(
            "user name must be 2-64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    parsed_role = parse_role(role)
    passwords.check_rules(password, username)
    with node.transaction() as s:
        if s.scalar(select(User.id).where(User.username == username)) is not None:
            raise Conflict("a user named {name!r} already exists", name=username)
        user = User(
            username=username,
            display_name=display_name.strip()[:200],
            role=parsed_role.value,
            password_hash=passwords.hash_password(password),
        )
        s.add(user)
        s.flush()
        _audit(node, s, USER_CREATED, user, actor, role=user.role)
        return user


def update_user(
    node: Node,
    user_id: int,
    role: str | None = None,
    disabled: bool | None = None,
    actor: str | None = None,
    clearance: str | None = None,
    email: str | None = None,
) -> User:
    """Change role and/or disable; disabling ends the user's sessions at once (tokens stop
    working while the account is disabled). An empty `email` removes the address."""
    parsed = parse_role(role) if role is not None else None
    with node.transaction() as s:
        user = _get(s, user_id)
        changes: dict[str, object] = {}
        if parsed is not None and parsed.value != user.role:
            changes["role"] = {"from": user.role, "to": parsed.value}
            user.role = parsed.value
        if disabled is not None:
            if disabled != user.disabled:
                changes["disabled"] = disabled
            user.disabled = disabled
            if disabled:
                s.execute(delete(WebSession).where(WebSession.user_id == user_id))
        if clearance is not None and clearance != user.clearance:
            changes["clearance"] = {"from": user.clearance, "to": check_classification(clearance)}
            user.clearance = clearance
        if email is not None and (email.strip() or None) != user.email:
            user.email = check_email(email) if email.strip() else None
            changes["email"] = "set" if user.email else "removed"
        if changes:
            _audit(node, s, USER_CHANGED, user, actor, **changes)
    tokens.forget_checks(node)  # a disabled user's or changed role's tokens stop at once
    return user


_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}$")


def check_email(address: str) -> str:
    address = address.strip()
    if not _EMAIL.match(address):
        raise InvalidInput("{address!r} is not an e-mail address", address=address)
    return address


def set_language(node: Node, user_id: int, language: str) -> None:
    if language not in LANGUAGES:
        raise InvalidInput("language must be one of {choices}", choices=", ".join(LANGUAGES))
    with node.transaction() as s:
        _get(s, user_id).language = language


def change_password(node: Node, user_id: int, current: str, new: str) -> None:
    with node.transaction() as s:
        user = _get(s, user_id)
        if not passwords.verify_password(user.password_hash, current):
            raise InvalidInput("the current password is wrong")
        passwords.check_rules(new, user.username)
        user.password_hash = passwords.hash_password(new)


def reset_password(node: Node, user_id: int, new: str, actor: str | None = None) -> User:
    """An administrator sets a new password; it also lifts a lockout and ends sessions."""
    with node.transaction() as s:
        user = _get(s, user_id)
        passwords.check_rules(new, user.username)
        user.password_hash = passwords.hash_password(new)
        user.failed_logins, user.locked_until = 0, None
        s.execute(delete(WebSession).where(WebSession.user_id == user_id))
        _audit(node, s, USER_CHANGED, user, actor, reset="password")
        return user


def unlock(node: Node, user_id: int, actor: str | None = None) -> User:
    with node.transaction() as s:
        user = _get(s, user_id)
        user.failed_logins, user.locked_until = 0, None
        _audit(node, s, USER_CHANGED, user, actor, unlocked=True)
        return user


@dataclass(frozen=True)
class LoginResult:
    user: User
    needs_second_factor: bool


def _register_failure(node: Node, s: Session, user: User) -> None:
    user.failed_logins += 1
    if user.failed_logins >= node.settings.login_max_failures:
        user.locked_until = utcnow() + timedelta(minutes=node.settings.lockout_minutes)
        user.failed_logins = 0
        _audit(node, s, USER_LOCKED, user, None, minutes=node.settings.lockout_minutes)


def _is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def check_password_login(node: Node, username: str, password: str) -> LoginResult:
    """First login step. Failures count towards a temporary lockout of the account."""
    refusal: Exception | None = None
    with node.transaction() as s:
        user = s.scalar(select(User).where(User.username == username.strip().lower()))
        ok = passwords.verify_password(user.password_hash if user else None, password)
        if user is None:
            raise Unauthenticated(LOGIN_FAILED)
        if _is_locked(user):
            raise TooManyAttempts(LOCKED_MESSAGE)
        if not ok:
            _register_failure(node, s, user)  # committed: the failure must count
            refusal = TooManyAttempts(LOCKED_MESSAGE) if _is_locked(user) else None
            refusal = refusal or Unauthenticated(LOGIN_FAILED)
        elif user.disabled:
            refusal = Unauthenticated(LOGIN_FAILED)
        else:
            if passwords.needs_rehash(user.password_hash):
                user.password_hash = passwords.hash_password(password)
            if not user.totp_enabled:
                _login_succeeded(node, s, user, "password")
    if refusal is not None:
        raise refusal
    return LoginResult(user, user.totp_enabled)


def _login_succeeded(node: Node, s: Session, user: User, method: str) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    _audit(node, s, USER_LOGIN, user, user_actor(node.member_id, user.username), method=method)


def check_second_factor(node: Node, user_id: int, code: str) -> bool:
    """Second login step: a TOTP code or an unused recovery code (then spent).

    Returns True when a recovery code was used, so the portal can say how many remain.
    """
    with node.transaction() as s:
        user = _get(s, user_id)
        if _is_locked(user):
            raise TooManyAttempts(LOCKED_MESSAGE)
        if not user.totp_enabled or not user.totp_secret:
            raise InvalidInput("two-factor login is not enrolled for this account")
        secret = _totp_box(node).open(user.totp_secret)
        step = totp.match_step(secret, code, user.totp_last_step)
        if step is not None:
            user.totp_last_step = step
            _login_succeeded(node, s, user, "password+totp")
            return False
        spent = cast(
            CursorResult[Any],
            s.execute(
                update(RecoveryCode)
                .where(
                    RecoveryCode.user_id == user_id,
                    RecoveryCode.code_hash == totp.hash_recovery_code(code),
                    RecoveryCode.used_at.is_(None),
                )
                .values(used_at=utcnow())
            ),
        ).rowcount
        if spent:
            _login_succeeded(node, s, user, "password+recovery-code")
            return True
        _register_failure(node, s, user)  # committed: the failure must count
        locked = _is_locked(user)
    if locked:
        raise TooManyAttempts(LOCKED_MESSAGE)
    raise Unauthenticated("that code is not valid; check the time on your device")


def begin_totp_enrolment(node: Node, user_id: int) -> str:
    """A new secret, kept sealed but not yet active until a code confirms it."""
    with node.transaction() as s:
        user = _get(s, user_id)
        if user.totp_enabled:
            raise Conflict("two-factor login is already enrolled; disable it first")
        if user.totp_secret:
            return _totp_box(node).open(user.totp_secret)
        secret = totp.new_secret()
        user.totp_secret = _totp_box(node).seal(secret)
        return secret


def confirm_totp_enrolment(node: Node, user_id: int, code: str) -> list[str]:
    """Activate two-factor login; returns the recovery codes, shown to the user once."""
    with node.transaction() as s:
        user = _get(s, user_id)
        if user.totp_enabled:
            raise Conflict("two-factor login is already enrolled")
        if not user.totp_secret:
            raise InvalidInput("start the enrolment first")
        step = totp.match_step(_totp_box(node).open(user.totp_secret), code, user.totp_last_step)
        if step is None:
            raise InvalidInput("that code is not valid; check the time on your device")
        user.totp_enabled = True
        user.totp_last_step = step
        codes = totp.new_recovery_codes()
        s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        s.add_all(
            RecoveryCode(user_id=user_id, code_hash=totp.hash_recovery_code(c)) for c in codes
        )
        _audit(
            node,
            s,
            USER_CHANGED,
            user,
            user_actor(node.member_id, user.username),
            two_factor="enrolled",
        )
        return codes


def disable_totp(node: Node, user_id: int, actor: str | None = None) -> None:
    with node.transaction() as s:
        user = _get(s, user_id)
        user.totp_enabled = False
        user.totp_secret = None
        user.totp_last_step = 0
        s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        _audit(node, s, USER_CHANGED, user, actor, two_factor="removed")


def unused_recovery_codes(node: Node, user_id: int) -> int:
    with node.db() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(RecoveryCode)
                .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
            )
            or 0
        )
