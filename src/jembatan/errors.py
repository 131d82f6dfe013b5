"""Errors that cross layers. Each maps to one RFC 9457 problem and one CLI exit code."""

from __future__ import annotations

from collections.abc import Callable


def N_(message: str) -> str:  # noqa: N802  (marks text for translation)
    return message


class JembatanError(Exception):
    """A refusal with a message meant for the person or system that asked."""

    status = 400
    title = N_("Bad request")
    slug = "bad-request"
    extra: dict[str, object] = {}  # more members for the problem document

    def __init__(self, message: str, **params: object) -> None:
        # `message` is an English template (extracted for translation); params fill it.
        detail = message.format(**params) if params else message
        super().__init__(detail)
        self.message = message
        self.params = params
        self.detail = detail

    def translated(self, gettext: Callable[[str], str]) -> str:
        text = gettext(self.message)
        return text.format(**self.params) if self.params else text


class ConfigError(JembatanError):
    status = 500
    title = N_("Configuration error")
    slug = "configuration"


class InvalidInput(JembatanError):
    status = 422
    title = N_("Invalid input")
    slug = "invalid-input"


class NotFound(JembatanError):
    status = 404
    title = N_("Not found")
    slug = "not-found"


class Conflict(JembatanError):
    status = 409
    title = N_("Conflict")
    slug = "conflict"


class Unauthenticated(JembatanError):
    status = 401
    title = N_("Authentication required")
    slug = "unauthenticated"


class Forbidden(JembatanError):
    status = 403
    title = N_("Forbidden")
    slug = "forbidden"


class TooManyAttempts(JembatanError):
    status = 429
    title = N_("Too many attempts")
    slug = "too-many-attempts"


class Unavailable(JembatanError):
    status = 503
    title = N_("Service unavailable")
    slug = "unavailable"
