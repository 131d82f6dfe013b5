"""The `jembatan` command: one Typer sub-app per capability."""

from __future__ import annotations

import typer

from jembatan.accounts.cli import token_app, user_app
from jembatan.agreements.cli import agreement_app
from jembatan.demo.cli import demo
from jembatan.exchange.cli import inbox, message_app, outbox, send, worker
from jembatan.gateway.cli import service_app
from jembatan.health.cli import health_app
from jembatan.ledger.cli import ledger_app
from jembatan.node.cli import db_app, init, serve, version
from jembatan.registry.cli import directory_app, join, keys_app, registry_app
from jembatan.workspaces.cli import workspace_app

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
app.command()(join)
app.command()(send)
app.command()(inbox)
app.command()(outbox)
app.command()(worker)
app.add_typer(message_app, name="message")
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(registry_app, name="registry")
app.add_typer(directory_app, name="directory")
app.add_typer(keys_app, name="keys")
app.add_typer(ledger_app, name="ledger")
app.add_typer(agreement_app, name="agreement")
app.add_typer(service_app, name="service")
app.add_typer(health_app, name="health")
app.add_typer(workspace_app, name="workspace")


def main() -> None:
    app()
