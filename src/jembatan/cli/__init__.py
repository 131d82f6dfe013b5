"""The `jembatan` command: one Typer sub-app per capability."""

from __future__ import annotations

import typer

from jembatan.accounts.cli import token_app, user_app
from jembatan.demo.cli import demo
from jembatan.node.cli import db_app, init, serve, version

app = typer.Typer(
    name="jembatan",
    help="Jembatan: secure government-to-government data exchange. One node per agency.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(init)
app.command()(serve)
app.command()(version)
app.command()(demo)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


def main() -> None:
    app()
