"""Password hashing (argon2id) and the password rules."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from jembatan.errors import InvalidInput

_hasher = PasswordHasher()
# Checked when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash("jembatan-timing-equaliser")

MIN_LENGTH = 12
MAX_LENGTH = 256


def check_rules(password: str, username: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput("password must be at least {n} characters", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise InvalidInput("password must be at most {n} characters", n=MAX_LENGTH)
    if password.strip().lower() == username.lower():
        raise InvalidInput("password must not be the user name")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
