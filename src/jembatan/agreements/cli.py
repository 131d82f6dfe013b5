"""`jembatan agreement create | list | show | sign | revoke`."""

from __future__ import annotations

from typing import Annotated

import typer

from jembatan.agreements import services
from jembatan.cli.common import DataDir, Json, clear_errors, open_node, print_json
from jembatan.ledger.entries import console

agreement_app = typer.Typer(
    help="Data-sharing agreements: nothing moves without one.", no_args_is_help=True
)


def _print(held: services.Held, as_json: bool) -> None:
    if as_json:
        print_json(services.summary(held))
        return
    facts = services.summary(held)
    typer.echo(f"{facts['id']} v{facts['version']}  {facts['status']}  {facts['title']}")
    typer.echo(f"  parties: {', '.join(facts['parties'])}")
    typer.echo(f"  signed by: {', '.join(facts['signed_by']) or '-'}")
    typer.echo(f"  kinds: {', '.join(facts['kinds'])}; up to {facts['classification_ceiling']}")
    typer.echo(f"  valid {facts['valid_from']} to {facts['valid_until'] or 'open-ended'}")


@agreement_app.command("create")
@clear_errors
def create(
    title: Annotated[str, typer.Option(help="What the agreement is, in a few words.")],
    with_: Annotated[
        str, typer.Option("--with", help="The other parties' member ids, comma-separated.")
    ],
    purpose: Annotated[str, typer.Option(help="Why the data may flow.")],
    legal_basis: Annotated[str, typer.Option(help="The legal basis, in words.")],
    data_dir: DataDir = None,
    kinds: Annotated[
        str, typer.Option(help="Message kinds allowed both ways, comma-separated.")
    ] = "message",
    legal_reference: Annotated[str, typer.Option(help="Citation of the legal basis.")] = "",
    ceiling: Annotated[str, typer.Option(help="Highest TLP 2.0 label allowed.")] = "TLP:AMBER",
    valid_days: Annotated[int, typer.Option(min=1, max=36500, help="Validity in days.")] = 365,
    retention_days: Annotated[
        int | None, typer.Option(min=1, max=36500, help="Keep received data this long.")
    ] = None,
    onward_sharing: Annotated[bool, typer.Option(help="Recipients may share further.")] = False,
    amends: Annotated[
        str | None, typer.Option(help="Make a new version of this agreement id.")
    ] = None,
    allow_field: Annotated[
        list[str] | None, typer.Option(help="JSON field that may leave (repeat); others may not.")
    ] = None,
    deny_field: Annotated[
        list[str] | None, typer.Option(help="JSON field that may not leave (repeat).")
    ] = None,
    pseudonymise_field: Annotated[
        list[str] | None,
        typer.Option(help="JSON field replaced by a keyed pseudonym before sealing (repeat)."),
    ] = None,
    remove_denied: Annotated[
        bool, typer.Option(help="Remove denied fields instead of refusing the message.")
    ] = False,
    flow: Annotated[
        list[str] | None,
        typer.Option(help="One way only: FROM>TO:kind,kind with member ids or * (repeat)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Draft an agreement; `sign` then proposes it to the other parties."""
    node = open_node(data_dir)
    held = services.draft(
        node,
        title=title,
        parties=with_.split(","),
        kinds=kinds.split(","),
        flows=[services.parse_flow(f) for f in flow or []],
        purpose=purpose,
        legal_basis=legal_basis,
        legal_reference=legal_reference,
        ceiling=ceiling,
        valid_days=valid_days,
        retention_days=retention_days,
        onward_sharing=onward_sharing,
        amends=amends,
        allow_fields=allow_field,
        deny_fields=deny_field,
        pseudonymise_fields=pseudonymise_field,
        denied="remove" if remove_denied else "refuse",
        actor=console(node),
    )
    _print(held, as_json)


@agreement_app.command("list")
@clear_errors
def list_command(data_dir: DataDir = None, as_json: Json = False) -> None:
    """Every agreement version this node holds, newest first."""
    node = open_node(data_dir)
    items = services.list_agreements(node)
    if as_json:
        print_json([services.summary(h) for h in items])
        return
    for held in items:
        missing = f" (waiting for {', '.join(held.missing)})" if held.missing else ""
        typer.echo(
            f"{held.terms.id} v{held.terms.version}  {held.status:<10} {held.terms.title}{missing}"
        )


@agreement_app.command("show")
@clear_errors
def show(
    agreement_id: str,
    data_dir: DataDir = None,
    version: Annotated[int | None, typer.Option(help="A given version (default: latest).")] = None,
    as_json: Json = False,
) -> None:
    """One agreement: terms, parties and who has signed."""
    _print(services.get(open_node(data_dir), agreement_id, version), as_json)


@agreement_app.command("sign")
@clear_errors
def sign(agreement_id: str, data_dir: DataDir = None, as_json: Json = False) -> None:
    """Sign for this node: proposes a draft, or countersigns a proposal."""
    node = open_node(data_dir, unlock=True)
    _print(services.sign(node, agreement_id, console(node)), as_json)


@agreement_app.command("resend")
@clear_errors
def resend(agreement_id: str, data_dir: DataDir = None, as_json: Json = False) -> None:
    """Send the other parties again every signature (or the notice) this node holds, for
    a party that missed a step."""
    node = open_node(data_dir, unlock=True)
    _print(services.resend(node, agreement_id), as_json)


@agreement_app.command("revoke")
@clear_errors
def revoke(
    agreement_id: str,
    data_dir: DataDir = None,
    reason: Annotated[str, typer.Option(help="Why, for the other parties.")] = "",
    suspend: Annotated[bool, typer.Option(help="Suspend instead of revoking.")] = False,
    purge: Annotated[
        bool, typer.Option(help="Every party also purges what it received under it.")
    ] = False,
    as_json: Json = False,
) -> None:
    """End an agreement for all parties (or suspend it) with a signed notice."""
    node = open_node(data_dir, unlock=True)
    action = "suspend" if suspend else "revoke"
    _print(services.end(node, agreement_id, action, reason, console(node), purge), as_json)
