"""Structured JSON logs (structlog) that never carry secrets."""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = re.compile(
    r"pass(word|phrase)?|secret|token|authorization|cookie|csrf|private|otp|recovery", re.I
)
# Anything that looks like one of our API tokens, wherever it appears in a string.
_TOKEN_TEXT = re.compile(r"jbt_[a-z2-7]{16}_[A-Za-z0-9_-]{20,}")
REDACTED = "[redacted]"


@functools.lru_cache(maxsize=1024)
def _is_secret(key: str) -> bool:
    """Keys repeat from line to line: each is looked at once."""
    return _SECRET_KEYS.search(key) is not None


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _TOKEN_TEXT.sub("jbt_" + REDACTED, value) if "jbt_" in value else value
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact_secrets(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event):
        if key != "event" and _is_secret(key):
            event[key] = REDACTED
        else:
            event[key] = _scrub(event[key])
    return event


def configure(level: str = "info", fmt: str = "json") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    # Our lines carry no source file, thread or process of the standard record: not
    # looking them up saves a good part of each line's cost (the logging HOWTO's
    # "Optimization" section names these switches).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # our middleware logs each request
    logging.getLogger("alembic").setLevel(max(root.level, logging.WARNING))
    # httpx logs every request at INFO; our own events say what matters.
    logging.getLogger("httpx").setLevel(max(root.level, logging.WARNING))


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
