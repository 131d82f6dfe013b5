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
from jembatan.config import Settings, load_settings
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


def key_passphrase(settings: Settings, confirm: bool = False) -> str:
    """JEMBATAN_KEY_PASSPHRASE, else a prompt when a person is at the terminal."""
    if settings.key_passphrase is not None:
        return settings.key_passphrase.get_secret_value()
    if sys.stdin.isatty():
        return str(typer.prompt("Key passphrase", hide_input=True, confirmation_prompt=confirm))
    raise errors.ConfigError(
        "setting JEMBATAN_KEY_PASSPHRASE is missing: the node's private keys are encrypted "
        "under it; set it, or run the command in a terminal to be asked"
    )


def open_node(
    data_dir: Path | None, quiet: bool = True, unlock: bool = False, **overrides: Any
) -> Node:
    """Open the node for a command; `quiet` keeps routine logs off a command's output;
    `unlock` opens the private keys (asking for the passphrase if needed)."""
    settings = load_settings(data_dir, **overrides)
    logs.configure("warning" if quiet else settings.log_level, settings.log_format)
    node = Node.open(settings)
    if unlock and node.keyring is None:
        node.unlock(key_passphrase(settings))
    return node


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")
