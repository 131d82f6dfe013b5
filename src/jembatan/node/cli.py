"""`jembatan init | serve | version | db ...`."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

import jembatan
from jembatan import logs
from jembatan.cli.common import (
    DataDir,
    Json,
    clear_errors,
    key_passphrase,
    open_node,
    print_json,
)
from jembatan.config import load_settings
from jembatan.exchange import delivery
from jembatan.identifiers import MemberId
from jembatan.ledger import worker as ledger_worker
from jembatan.node.context import Node
from jembatan.node.memory import tune_allocator
from jembatan.node.services import init_node
from jembatan.registry.worker import run_periodic
from jembatan.store import migrations
from jembatan.store.db import check_reachable, open_engine

db_app = typer.Typer(help="Database schema: upgrade and status.", no_args_is_help=True)


@clear_errors
def init(
    member: Annotated[
        str, typer.Option(help="Member id INSTANCE/CLASS/CODE, e.g. ASEAN/GOV/IDN-KEMENKES.")
    ],
    name: Annotated[str, typer.Option(help="Legal name of the organisation.")],
    data_dir: DataDir = None,
    port: Annotated[int | None, typer.Option(help="Port `serve` listens on.")] = None,
    host: Annotated[str | None, typer.Option(help="Address `serve` listens on.")] = None,
    public_url: Annotated[
        str | None, typer.Option(help="URL other nodes use for this one.")
    ] = None,
) -> None:
    """Create a node's data folder: secret key, config file and database schema."""
    settings = load_settings(data_dir, port=port, host=host, public_url=public_url)
    logs.configure("warning", "console")
    MemberId.parse(member)  # a bad id is refused before the passphrase is asked for
    extra: dict[str, str | int | bool] = {"public_url": public_url} if public_url else {}
    member_id = init_node(settings, member, name, key_passphrase(settings, confirm=True), extra)
    typer.echo(f"initialised {member_id} in {settings.data_dir}")
    typer.echo(f"next: jembatan user add --data-dir {settings.data_dir} NAME --role admin")


@clear_errors
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate for HTTPS.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key for HTTPS.")] = None,
) -> None:
    """Run the node: portal, API and federation endpoints."""
    from jembatan.web.app import create_app

    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("give both --tls-cert and --tls-key, or neither")
    tune_allocator()
    node = open_node(
        data_dir,
        quiet=False,
        unlock=True,
        host=host,
        port=port,
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    s = node.settings
    config = uvicorn.Config(
        create_app(node),
        host=s.host,
        port=s.port,
        ssl_certfile=str(s.tls_cert) if s.tls_cert else None,
        ssl_keyfile=str(s.tls_key) if s.tls_key else None,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    logs.get_logger("jembatan").info("serving", member=node.member_id, url=s.base_url)
    stop = threading.Event()
    background = threading.Thread(
        target=run_periodic, args=(node, stop), name="jembatan-periodic", daemon=True
    )
    background.start()
    deliverer = threading.Thread(
        target=delivery.run_forever, args=(node, stop), name="jembatan-delivery", daemon=True
    )
    deliverer.start()
    ledger = threading.Thread(
        target=ledger_worker.run_forever, args=(node, stop), name="jembatan-ledger", daemon=True
    )
    ledger.start()
    try:
        uvicorn.Server(config).run()
    finally:
        stop.set()
        background.join(timeout=5)
        deliverer.join(timeout=5)
        ledger.join(timeout=5)
        node.close()


def version(as_json: Json = False) -> None:
    """Print the software version."""
    if as_json:
        print_json({"version": jembatan.__version__, "schema": migrations.head()})
    else:
        typer.echo(f"jembatan {jembatan.__version__} (schema {migrations.head()})")


@db_app.command("upgrade")
@clear_errors
def db_upgrade(data_dir: DataDir = None) -> None:
    """Apply pending migrations (safe to run again)."""
    settings = load_settings(data_dir)
    logs.configure("warning", "console")
    engine = open_engine(settings.db_url)
    try:
        check_reachable(engine)
        before = migrations.current(engine)
        migrations.upgrade(engine)
        typer.echo(f"schema {before or 'empty'} -> {migrations.current(engine)}")
    finally:
        engine.dispose()


@db_app.command("status")
@clear_errors
def db_status(data_dir: DataDir = None, as_json: Json = False) -> None:
    """Show the schema revision and whether it is current."""
    settings = load_settings(data_dir)
    logs.configure("warning", "console")
    node = Node.open(settings, require_current_schema=False)
    try:
        current, head = migrations.current(node.engine), migrations.head()
        info = {
            "backend": node.engine.dialect.name,
            "current": current,
            "expected": head,
            "up_to_date": current == head,
        }
    finally:
        node.close()
    if as_json:
        print_json(info)
    else:
        state = "up to date" if info["up_to_date"] else "upgrade needed"
        typer.echo(f"{info['backend']}: schema {current} ({state}; code expects {head})")
