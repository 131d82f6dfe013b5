"""What every command shares: opening a node, clear one-line errors, JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from jembatan import errors, logs
from jembatan.config import load_settings
from jembatan.node.context import Node

F = TypeVar("F", bound=Callable[..., Any])

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        "-d",
        help="The node's data folder (or JEMBATAN_DATA_DIR).",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

# Exit codes, documented in docs/operations.md.
EXIT_CODES: dict[type[errors.JembatanError], int] = {
    errors.ConfigError: 2,
    errors.InvalidInput: 2,
    errors.NotFound: 3,
    errors.Conflict: 4,
    errors.Unauthenticated: 5,
    errors.Forbidden: 5,
    errors.TooManyAttempts: 5,
    errors.Unavailable: 6,
}


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def clear_errors(func: F) -> F:
    """Turn a refusal into one line on stderr and a non-zero exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except errors.JembatanError as exc:
            fail(exc.detail, EXIT_CODES.get(type(exc), 1))
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return wrapper  # type: ignore[return-value]


def open_node(data_dir: Path | None, quiet: bool = True, **overrides: Any) -> Node:
    """Open the node for a command; `quiet` keeps routine logs off a command's output."""
    settings = load_settings(data_dir, **overrides)
    logs.configure("warning" if quiet else settings.log_level, settings.log_format)
    return Node.open(settings)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")
