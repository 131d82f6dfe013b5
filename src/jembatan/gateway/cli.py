"""`jembatan service add | list | show | set | endpoint | enable | disable | remove | grant
| revoke | calls`: the services this node provides to other members, and the call log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jembatan.cli.common import DataDir, Json, clear_errors, open_node, print_json
from jembatan.errors import InvalidInput
from jembatan.gateway import services
from jembatan.ledger.entries import console
from jembatan.node.context import Node

service_app = typer.Typer(
    help="Service gateway: our REST services other members call (X-Road pr-rest).",
    no_args_is_help=True,
)
Name = Annotated[str, typer.Argument(help="SUBSYSTEM/CODE, e.g. immunization/lookup.")]
Client = Annotated[
    str, typer.Argument(help="The client subsystem INSTANCE/CLASS/CODE/SUBSYSTEM, or agreement:ID.")
]
EndpointOption = Annotated[
    str | None, typer.Option("--endpoint", help="Only this endpoint: 'METHOD PATH'.")
]


def _show(node: Node, view: services.ServiceView, as_json: bool) -> None:
    doc = services.describe(view, node.member_id)
    if as_json:
        print_json(doc)
        return
    state = "enabled" if doc["enabled"] else "DISABLED"
    typer.echo(f"{doc['id']}  {state}  {doc['title']}")
    typer.echo(f"  internal URL: {doc['base_url']}  (timeout {doc['timeout_seconds']} s)")
    for e in doc["endpoints"]:
        mark = "" if e["enabled"] else "  (disabled)"
        typer.echo(f"  endpoint {e['method']} {e['path']}{mark}")
    for r in doc["access"]:
        typer.echo(f"  access   {r['client']}  {r['endpoint'] or 'all endpoints'}")


def _endpoint(text: str) -> tuple[str, str]:
    method, _, path = text.strip().partition(" ")
    if not path.strip():
        raise InvalidInput("give an endpoint as 'METHOD PATH', e.g. 'GET /v1/status/{id}'")
    return method, path.strip()


@service_app.command("add")
@clear_errors
def add(
    subsystem: Annotated[str, typer.Argument(help="One of our subsystems, e.g. immunization.")],
    code: Annotated[str, typer.Argument(help="The service code, e.g. vaccination-status.")],
    url: Annotated[str, typer.Option(help="Base URL of the internal service.")],
    data_dir: DataDir = None,
    title: Annotated[str, typer.Option(help="What the service does, in a few words.")] = "",
    openapi: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="OpenAPI 3 JSON file.")
    ] = None,
    endpoint: Annotated[
        list[str] | None, typer.Option(help="'METHOD PATH' (repeat); default: the OpenAPI's.")
    ] = None,
    timeout: Annotated[int, typer.Option(min=1, max=3600, help="Seconds to wait.")] = 60,
    as_json: Json = False,
) -> None:
    """Register a REST service of one of our subsystems."""
    node = open_node(data_dir)
    services.add_service(
        node,
        subsystem,
        code,
        url,
        title=title,
        openapi=openapi.read_text() if openapi else None,
        endpoints=[_endpoint(e) for e in endpoint or []],
        timeout_seconds=timeout,
    )
    services.publish(node)
    _show(node, services.get(node, f"{subsystem}/{code}"), as_json)


@service_app.command("list")
@clear_errors
def list_(data_dir: DataDir = None, as_json: Json = False) -> None:
    """The services this node provides."""
    node = open_node(data_dir)
    found = services.list_services(node)
    if as_json:
        print_json([services.describe(v, node.member_id) for v in found])
        return
    for view in found:
        state = "enabled" if view.service.enabled else "disabled"
        typer.echo(
            f"{view.name}  {state}  {len(view.endpoints)} endpoint(s), "
            f"{len(view.rights)} access right(s)  {view.service.title}"
        )


@service_app.command("show")
@clear_errors
def show(name: Name, data_dir: DataDir = None, as_json: Json = False) -> None:
    """One service: endpoints and access rights."""
    node = open_node(data_dir)
    _show(node, services.get(node, name), as_json)


@service_app.command("set")
@clear_errors
def set_(
    name: Name,
    data_dir: DataDir = None,
    url: Annotated[str | None, typer.Option(help="New base URL of the internal service.")] = None,
    title: Annotated[str | None, typer.Option(help="New title.")] = None,
    openapi: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="New OpenAPI 3 JSON file.")
    ] = None,
    timeout: Annotated[int | None, typer.Option(min=1, max=3600, help="Seconds to wait.")] = None,
    as_json: Json = False,
) -> None:
    """Change a service's internal URL, title, OpenAPI description or timeout."""
    node = open_node(data_dir)
    view = services.change_service(
        node,
        name,
        base_url=url,
        title=title,
        openapi=openapi.read_text() if openapi else None,
        timeout_seconds=timeout,
    )
    _show(node, view, as_json)


@service_app.command("endpoint")
@clear_errors
def endpoint_(
    name: Name,
    method: Annotated[str, typer.Argument(help="GET, POST, ... or *.")],
    path: Annotated[str, typer.Argument(help="/v1/status/{id}, /v1/** or **.")],
    enable: Annotated[bool, typer.Option("--enable/--disable")] = True,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Add an endpoint, or enable or disable one."""
    node = open_node(data_dir)
    _show(node, services.set_endpoint(node, name, method, path, enable), as_json)


def _switch(name: str, data_dir: Path | None, enabled: bool, as_json: bool) -> None:
    node = open_node(data_dir)
    view = services.change_service(node, name, enabled=enabled)
    services.publish(node)
    _show(node, view, as_json)


@service_app.command("enable")
@clear_errors
def enable(name: Name, data_dir: DataDir = None, as_json: Json = False) -> None:
    """Let calls reach the service again."""
    _switch(name, data_dir, True, as_json)


@service_app.command("disable")
@clear_errors
def disable(name: Name, data_dir: DataDir = None, as_json: Json = False) -> None:
    """Refuse every call to the service (ServiceDisabled) until enabled."""
    _switch(name, data_dir, False, as_json)


@service_app.command("remove")
@clear_errors
def remove(name: Name, data_dir: DataDir = None) -> None:
    """Remove the service with its endpoints and access rights."""
    node = open_node(data_dir)
    services.remove_service(node, name)
    services.publish(node)
    typer.echo(f"removed {name}")


@service_app.command("grant")
@clear_errors
def grant(
    name: Name,
    client: Client,
    data_dir: DataDir = None,
    endpoint: EndpointOption = None,
    as_json: Json = False,
) -> None:
    """Let a client subsystem (or every other party of an agreement) call the service."""
    node = open_node(data_dir)
    services.grant(node, name, client, console(node), endpoint)
    _show(node, services.get(node, name), as_json)


@service_app.command("revoke")
@clear_errors
def revoke(
    name: Name,
    client: Client,
    data_dir: DataDir = None,
    endpoint: EndpointOption = None,
    as_json: Json = False,
) -> None:
    """Take an access right away."""
    node = open_node(data_dir)
    services.revoke(node, name, client, endpoint)
    _show(node, services.get(node, name), as_json)


@service_app.command("calls")
@clear_errors
def calls(
    data_dir: DataDir = None,
    role: Annotated[
        str | None, typer.Option(help="consumer (our calls out) or provider (calls in).")
    ] = None,
    service: Annotated[str | None, typer.Option(help="Only calls to this service id.")] = None,
    client: Annotated[str | None, typer.Option(help="Only calls of this client.")] = None,
    errors: Annotated[bool, typer.Option(help="Only calls that failed in the gateway.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Json = False,
) -> None:
    """The gateway's call log, newest first, with each call's ledger entry."""
    if role is not None and role not in ("consumer", "provider"):
        raise InvalidInput("--role must be consumer or provider")
    node = open_node(data_dir)
    found = services.calls(
        node, role=role, service=service, client=client, errors_only=errors, limit=limit
    )
    if as_json:
        print_json([services.call_document(c) for c in found])
        return
    for c in found:
        typer.echo(
            f"{c.started_at:%Y-%m-%d %H:%M:%S}  {c.role:<8}  {c.status}  {c.error or '-'}  "
            f"{c.client} -> {c.service} {c.method} {c.path}  {c.duration_ms} ms  "
            f"ledger #{c.ledger_index}"
        )
