"""`jembatan registry ...`, `jembatan join`, `jembatan directory ...`, `jembatan keys ...`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from jembatan.cli.common import DataDir, Json, clear_errors, open_node, print_json
from jembatan.errors import InvalidInput
from jembatan.node.models import NodeKey
from jembatan.registry import authority, membership
from jembatan.registry.directory import TrustAnchor

registry_app = typer.Typer(
    help="The registry role: members, join requests, keys.", no_args_is_help=True
)
directory_app = typer.Typer(
    help="The signed member directory this node trusts.", no_args_is_help=True
)
keys_app = typer.Typer(help="This node's own keys.", no_args_is_help=True)

CLI_ACTOR = "cli"


def read_anchor(path: Path) -> TrustAnchor:
    try:
        return TrustAnchor.parse(path.read_bytes())
    except OSError as exc:
        raise InvalidInput(
            "cannot read anchor file {path}: {reason}", path=path, reason=exc.strerror
        ) from None


@registry_app.command("init")
@clear_errors
def registry_init(
    instance: Annotated[str, typer.Option(help="Federation instance id, e.g. ASEAN.")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 country of this member.")],
    data_dir: DataDir = None,
) -> None:
    """Make this node the registry authority of an instance."""
    node = open_node(data_dir, unlock=True)
    anchor = authority.init_registry(node, instance, country.upper())
    membership.set_anchor(node, anchor)
    typer.echo(f"this node is now the registry of {instance}; its key is {anchor.key['kid']}")
    typer.echo(f"next: jembatan registry anchor --data-dir {node.data_dir} -o anchor.json")


@registry_app.command("anchor")
@clear_errors
def registry_anchor(
    data_dir: DataDir = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to this file.")
    ] = None,
) -> None:
    """Write the trust anchor that members receive out of band."""
    raw = authority.anchor(open_node(data_dir)).to_bytes()
    if output is None:
        typer.echo(raw.decode())
    else:
        output.write_bytes(raw + b"\n")
        typer.echo(f"wrote {output}")


@registry_app.command("requests")
@clear_errors
def registry_requests(
    data_dir: DataDir = None,
    all_: Annotated[bool, typer.Option("--all", help="Also decided requests.")] = False,
    as_json: Json = False,
) -> None:
    """List join requests (pending ones by default)."""
    rows = authority.list_requests(open_node(data_dir), None if all_ else "pending")
    items = [
        {
            "id": r.id,
            "member": r.member_id,
            "name": r.name,
            "country": r.country,
            "node_url": r.node_url,
            "status": r.status,
            "reason": r.reason,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]
    if as_json:
        print_json(items)
        return
    for i in items:
        typer.echo(
            f"{i['id']:>4}  {i['status']:<9} {i['member']:<32} "
            f"{i['name']} ({i['country']}) {i['node_url']}"
        )


@registry_app.command("approve")
@clear_errors
def registry_approve(request_id: int, data_dir: DataDir = None) -> None:
    """Approve a join request; the next directory lists the new member."""
    done = authority.approve(open_node(data_dir), request_id, CLI_ACTOR)
    typer.echo(f"approved {done.member_id}")


@registry_app.command("reject")
@clear_errors
def registry_reject(
    request_id: int,
    reason: Annotated[str, typer.Option(help="Told to the requester.")],
    data_dir: DataDir = None,
) -> None:
    """Reject a join request."""
    done = authority.reject(open_node(data_dir), request_id, reason, CLI_ACTOR)
    typer.echo(f"rejected {done.member_id}")


@registry_app.command("revoke-key")
@clear_errors
def registry_revoke_key(
    kid: str,
    reason: Annotated[str, typer.Option(help="Why; published in the directory.")] = "revoked",
    data_dir: DataDir = None,
) -> None:
    """Revoke a member's key from now on; it takes effect with the next directory."""
    key = authority.revoke_key(open_node(data_dir), kid, reason)
    typer.echo(f"revoked {key.kid} of {key.member_id}")


@registry_app.command("add-subsystem")
@clear_errors
def registry_add_subsystem(
    subsystem: Annotated[str, typer.Argument(help="INSTANCE/CLASS/CODE/SUBSYSTEM")],
    data_dir: DataDir = None,
) -> None:
    """Register a member's subsystem in the directory."""
    authority.set_subsystem(open_node(data_dir), subsystem)
    typer.echo(f"registered {subsystem}")


@registry_app.command("remove-subsystem")
@clear_errors
def registry_remove_subsystem(
    subsystem: Annotated[str, typer.Argument(help="INSTANCE/CLASS/CODE/SUBSYSTEM")],
    data_dir: DataDir = None,
) -> None:
    """Remove a member's subsystem from the directory."""
    authority.set_subsystem(open_node(data_dir), subsystem, present=False)
    typer.echo(f"removed {subsystem}")


@registry_app.command("members")
@clear_errors
def registry_members(data_dir: DataDir = None, as_json: Json = False) -> None:
    """List members and their keys."""
    rows = authority.list_members(open_node(data_dir))
    items = [
        {
            "member": m.member_id,
            "name": m.name,
            "country": m.country,
            "node_url": m.node_url,
            "keys": [
                {"kid": k.kid, "use": k.use, "revoked": k.revoked_at is not None} for k in keys
            ],
        }
        for m, keys in rows
    ]
    if as_json:
        print_json(items)
        return
    for i in items:
        typer.echo(f"{i['member']:<32} {i['country']}  {i['node_url']}  {len(i['keys'])} keys")


@registry_app.command("trust")
@clear_errors
def registry_trust(
    anchor: Annotated[Path, typer.Option(help="The other federation's anchor file.")],
    data_dir: DataDir = None,
) -> None:
    """Trust another federation: our members may then exchange with theirs."""
    other = read_anchor(anchor)
    authority.trust_instance(open_node(data_dir), other)
    typer.echo(f"trusting instance {other.instance}")


@registry_app.command("untrust")
@clear_errors
def registry_untrust(instance: str, data_dir: DataDir = None) -> None:
    """End the trust in another federation."""
    authority.untrust_instance(open_node(data_dir), instance)
    typer.echo(f"no longer trusting instance {instance}")


@clear_errors
def join(
    registry: Annotated[str, typer.Option(help="The registry's URL.")],
    anchor: Annotated[Path, typer.Option(help="Trust anchor file received out of band.")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 country of this member.")],
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Ask a registry to admit this node (signed with its key)."""
    trust = read_anchor(anchor)
    if trust.registry_url != registry.rstrip("/"):
        raise InvalidInput(
            "the anchor names registry {anchor_url}, not {url}",
            anchor_url=trust.registry_url,
            url=registry,
        )
    answer = membership.join(open_node(data_dir, unlock=True), trust, country.upper())
    if as_json:
        print_json(answer)
    else:
        typer.echo(f"join request {answer.get('id')} sent; status {answer.get('status')}")


@directory_app.command("refresh")
@clear_errors
def directory_refresh(data_dir: DataDir = None, as_json: Json = False) -> None:
    """Fetch and check the directory now (refused ones are reported; the last good kept)."""
    node = open_node(data_dir, unlock=True)
    results = membership.refresh(node)
    if as_json:
        print_json([r.__dict__ for r in results])
    else:
        for r in results:
            state = f"error: {r.error}" if r.error else ("new" if r.changed else "unchanged")
            typer.echo(f"{r.instance}: serial {r.serial} ({state})")
    if any(r.error for r in results):
        raise typer.Exit(1)


@directory_app.command("show")
@clear_errors
def directory_show(data_dir: DataDir = None, as_json: Json = False) -> None:
    """Show the directory this node holds and how old it is."""
    node = open_node(data_dir)
    status = membership.directory_status(node)
    view = membership.federation(node)
    if as_json:
        print_json({"status": status, "directories": [d.document for d in view.directories()]})
        return
    typer.echo(json.dumps(status))
    for d in view.directories():
        for m in d.members.values():
            typer.echo(f"{m.id:<32} {m.country}  {m.node_url}")


@keys_app.command("rotate")
@clear_errors
def keys_rotate(data_dir: DataDir = None) -> None:
    """Announce new keys, signed by the current ones; both verify during the overlap."""
    kids = membership.rotate_keys(open_node(data_dir, unlock=True))
    typer.echo("announced new keys " + ", ".join(kids) + "; they take over at the next refresh")


@keys_app.command("list")
@clear_errors
def keys_list(data_dir: DataDir = None, as_json: Json = False) -> None:
    """List this node's keys (public parts only)."""
    node = open_node(data_dir)
    with node.db() as s:
        rows = list(s.scalars(select(NodeKey).order_by(NodeKey.created_at)))
    items = [
        {
            "kid": r.kid,
            "purpose": r.purpose,
            "use": r.use,
            "status": r.status,
            "created_at": r.created_at.isoformat(),
            "retire_at": r.retire_at.isoformat() if r.retire_at else None,
        }
        for r in rows
    ]
    if as_json:
        print_json(items)
        return
    for i in items:
        typer.echo(f"{i['kid']}  {i['purpose']:<8} {i['use']}  {i['status']}")
