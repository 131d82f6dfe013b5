"""`jembatan ledger ...`: verify a log, prove an entry, show checkpoints and entries,
and witness peers now."""

from __future__ import annotations

import base64
import json
from typing import Annotated

import httpx
import typer

from jembatan.cli.common import DataDir, Json, clear_errors, fail, open_node, print_json
from jembatan.errors import InvalidInput, NotFound
from jembatan.ledger import services, verify, witness
from jembatan.ledger.merkle import leaf_hash, verify_inclusion
from jembatan.registry.peers import send_signed

ledger_app = typer.Typer(help="The tamper-evident ledger of this node.", no_args_is_help=True)


@ledger_app.command("verify")
@clear_errors
def verify_command(
    data_dir: DataDir = None,
    url: Annotated[
        str | None, typer.Option(help="Verify the node at this URL instead of the local one.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="With --url: an auditor's API token of that node (else requests are signed "
            "as the node in --data-dir).",
            envvar="JEMBATAN_TOKEN",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Rebuild the tree from the entries and check it against the latest signed checkpoint
    and its cosignatures. Exits 1 naming the first bad index on any mismatch."""
    if url is None:
        node = open_node(data_dir)
        report = verify.verify_local(node)
    else:
        node = None
        if token is None or data_dir is not None:
            node = open_node(data_dir, unlock=token is None)
        with httpx.Client(timeout=60) as client:

            def reader(target: str) -> httpx.Response:
                if token is not None:
                    return client.get(target, headers={"Authorization": f"Bearer {token}"})
                assert node is not None
                return send_signed(node, "GET", target)

            report = verify.verify_remote(url, client, reader, node)
    if as_json:
        print_json(report.as_dict())
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: verify.Report) -> None:
    if report.ok:
        typer.echo(
            f"ok: {report.origin}, {report.size} entries rebuild root {report.root} "
            f"(checkpoint signature checked with {report.key_source})"
        )
    else:
        if report.first_bad_index is not None:
            typer.echo(f"first bad index: {report.first_bad_index}", err=True)
        for problem in report.problems:
            typer.echo(f"error: {problem}", err=True)
    if report.cosigned_by:
        typer.echo("cosigned by: " + ", ".join(report.cosigned_by))
    if report.cosignatures_unchecked:
        typer.echo(
            "cosignatures not checked (witness keys unknown without a directory): "
            + ", ".join(report.cosignatures_unchecked)
        )


@ledger_app.command("prove")
@clear_errors
def prove(
    index: Annotated[int, typer.Option(help="The entry's index.")],
    data_dir: DataDir = None,
    size: Annotated[
        int | None, typer.Option(help="Tree size (default: the latest checkpoint).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Print an RFC 9162 inclusion proof of one entry, checked against the checkpoint."""
    node = open_node(data_dir)
    found = services.entry(node, index)
    with node.db() as s:
        cp = services.latest(s)
    if cp is None or cp.size <= index:
        raise InvalidInput(
            "entry {index} is not in a signed checkpoint yet; run `jembatan ledger checkpoint "
            "--issue` or wait a few seconds",
            index=index,
        )
    tree = size if size is not None else cp.size
    proof = services.prove_inclusion(node, index, tree)
    leaf = leaf_hash(bytes(found.data))
    out = {
        "index": index,
        "size": tree,
        "hashes": services.b64(proof),
        "leaf_hash": base64.b64encode(leaf).decode(),
        "entry": json.loads(found.data),
    }
    if tree == cp.size:
        verify_inclusion(index, tree, leaf, proof, cp.root)
        out["checkpoint"] = cp.note
    if as_json:
        print_json(out)
        return
    typer.echo(f"entry {index} in tree of size {tree}; leaf hash {out['leaf_hash']}")
    for h in out["hashes"]:
        typer.echo(f"  {h}")
    if "checkpoint" in out:
        typer.echo("verified against the checkpoint:\n" + cp.note)


@ledger_app.command("checkpoint")
@clear_errors
def checkpoint(
    data_dir: DataDir = None,
    issue: Annotated[
        bool, typer.Option("--issue", help="Sign a new one now if entries wait.")
    ] = False,
) -> None:
    """Print the latest checkpoint with its cosignatures (a C2SP signed note)."""
    node = open_node(data_dir, unlock=issue)
    if issue:
        services.issue_checkpoint(node, force=True)
    typer.echo(services.current_checkpoint(node), nl=False)


@ledger_app.command("entries")
@clear_errors
def entries(
    data_dir: DataDir = None,
    type: Annotated[str | None, typer.Option(help="Only entries of this type.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only entries by this actor.")] = None,
    subject: Annotated[str | None, typer.Option(help="Only entries about this subject.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    as_json: Json = False,
) -> None:
    """The newest entries, filtered."""
    node = open_node(data_dir)
    rows = services.search(node, services.Filters(type, actor, subject), limit)
    if as_json:
        print_json([{"index": r.leaf_index, **json.loads(r.data)} for r in rows])
        return
    for r in rows:
        typer.echo(
            f"{r.leaf_index:>8}  {r.time:%Y-%m-%d %H:%M:%S}  {r.type:<20} {r.actor}  {r.subject}"
        )


@ledger_app.command("witness")
@clear_errors
def witness_now(
    data_dir: DataDir = None,
    reset: Annotated[
        str | None,
        typer.Option(
            help="Forget what was seen of this peer's log, after its operators explained an "
            "alert; its next checkpoint becomes the reference."
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Check and cosign every peer's checkpoint now (serve does this on a schedule)."""
    node = open_node(data_dir, unlock=True)
    if reset is not None:
        if not witness.forget(node, reset):
            raise NotFound("this node has not witnessed {peer}", peer=reset)
        typer.echo(f"{reset}: forgotten; witnessing starts afresh")
    outcomes = witness.witness_all(node)
    if as_json:
        print_json([o.__dict__ for o in outcomes])
    else:
        for o in outcomes:
            typer.echo(f"{o.peer}: {o.status}" + (f" ({o.detail})" if o.detail else ""))
    if any(o.status == "alert" for o in outcomes):
        fail("a peer's log failed the witness check", 1)
