"""`jembatan send`, `jembatan inbox`, `jembatan message ...` and `jembatan worker`."""

from __future__ import annotations

import mimetypes
import threading
from pathlib import Path
from typing import Annotated

import typer

from jembatan.accounts.tokens import parse_duration
from jembatan.cli.common import DataDir, Json, clear_errors, open_node, print_json
from jembatan.errors import InvalidInput
from jembatan.exchange import delivery, services
from jembatan.exchange.api import BULK_THRESHOLD, MessageOut

message_app = typer.Typer(help="One message: status, content, envelope.", no_args_is_help=True)


@clear_errors
def send(
    to: Annotated[str, typer.Option(help="Recipient member id(s), comma-separated.")],
    subject: Annotated[str, typer.Option(help="Subject line (signed and encrypted).")],
    data_dir: DataDir = None,
    text: Annotated[str | None, typer.Option(help="Send this text.")] = None,
    file: Annotated[Path | None, typer.Option(help="Send this file.")] = None,
    classification: Annotated[str, typer.Option(help="TLP 2.0 label.")] = "TLP:AMBER",
    expires: Annotated[str, typer.Option(help="Give up delivery after: 12h, 7d, 2w ...")] = "7d",
    kind: Annotated[str, typer.Option(help="Kind of message, as agreements name it.")] = "message",
    agreement: Annotated[
        str | None, typer.Option(help="Agreement id (default: the only active one that fits).")
    ] = None,
    reader: Annotated[
        list[str] | None,
        typer.Option(help="TLP:RED: a person who may read it, MEMBER/user/NAME (repeat)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Seal a message and queue it; prints the message id. The worker delivers it."""
    if (text is None) == (file is None):
        raise InvalidInput("give exactly one of --text or --file")
    node = open_node(data_dir, unlock=True)
    lifetime = parse_duration(expires)
    if file is None:
        message = services.send(
            node,
            to.split(","),
            subject,
            (text or "").encode(),
            "text/plain; charset=utf-8",
            None,
            classification,
            lifetime,
            kind=kind,
            agreement=agreement,
            readers=reader,
        )
    else:
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        try:
            source = file.open("rb")
        except OSError as exc:
            raise InvalidInput(
                "cannot read {file}: {reason}", file=file, reason=exc.strerror
            ) from None
        with source:
            # Large files are encrypted as a stream and travel as a resumable transfer.
            large = file.stat().st_size > BULK_THRESHOLD
            message = services.send(
                node,
                to.split(","),
                subject,
                source if large else source.read(),
                content_type,
                file.name,
                classification,
                lifetime,
                kind=kind,
                agreement=agreement,
                readers=reader,
            )
    if as_json:
        print_json(
            MessageOut.of(message, services.get_message(node, message.id)[1]).model_dump(
                mode="json"
            )
        )
    else:
        typer.echo(message.id)


def _list(data_dir: Path | None, box: str, as_json: bool) -> None:
    node = open_node(data_dir)
    items = services.list_messages(node, box)
    if as_json:
        print_json([MessageOut.of(m).model_dump(mode="json") for m in items])
        return
    for m in items:
        other = m.sender if box == "inbox" else m.recipients
        typer.echo(
            f"{m.id}  {m.created_at:%Y-%m-%d %H:%M}  {m.classification:<16} {other}  {m.subject}"
        )


@clear_errors
def inbox(data_dir: DataDir = None, as_json: Json = False) -> None:
    """List received messages, newest first."""
    _list(data_dir, "inbox", as_json)


@clear_errors
def outbox(data_dir: DataDir = None, as_json: Json = False) -> None:
    """List sent messages, newest first."""
    _list(data_dir, "outbox", as_json)


@message_app.command("show")
@clear_errors
def show(mid: str, data_dir: DataDir = None, as_json: Json = False) -> None:
    """Metadata, per-recipient status and each receipt as the recipient signed it."""
    node = open_node(data_dir)
    message, deliveries = services.get_message(node, mid)
    out = MessageOut.of(message, deliveries)
    if as_json:
        print_json(out.model_dump(mode="json"))
        return
    typer.echo(f"{out.id}  {out.box}  {out.classification}  {out.subject}")
    typer.echo(f"from {out.sender} to {', '.join(out.recipients)}; {out.size} bytes")
    for d in out.deliveries or []:
        typer.echo(f"  {d.recipient:<32} {d.status:<9} attempts {d.attempts}  {d.last_error or ''}")
        if d.receipt:
            typer.echo(f"    receipt {d.receipt}")


@message_app.command("forward")
@clear_errors
def forward(
    mid: str,
    to: Annotated[str, typer.Option(help="Recipient member id(s), comma-separated.")],
    data_dir: DataDir = None,
    agreement: Annotated[
        str | None,
        typer.Option(help="Agreement id for the new recipients (default: the only one)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Share a received message onward, if the agreement it came under allows that."""
    node = open_node(data_dir, unlock=True)
    message = services.forward(node, mid, to.split(","), agreement=agreement)
    if as_json:
        print_json(MessageOut.of(message).model_dump(mode="json"))
    else:
        typer.echo(message.id)


@message_app.command("get")
@clear_errors
def get(
    mid: str,
    output: Annotated[Path, typer.Option("-o", "--output", help="Write the content here.")],
    data_dir: DataDir = None,
) -> None:
    """Write a message's content to a file, byte for byte."""
    node = open_node(data_dir, unlock=True)
    message, _ = services.get_message(node, mid)
    with output.open("wb") as f:
        written = services.write_payload(node, message, f)
    typer.echo(f"wrote {written} bytes to {output}")


@message_app.command("export")
@clear_errors
def export(
    mid: str,
    data_dir: DataDir = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File (else stdout).")
    ] = None,
) -> None:
    """The envelope exactly as it was sent or received (JWE JSON)."""
    node = open_node(data_dir)
    message, _ = services.get_message(node, mid)
    raw = services.envelope_of(node, message)
    if output is None:
        typer.echo(raw.decode())
    else:
        output.write_bytes(raw)
        typer.echo(f"wrote {output}")


@clear_errors
def worker(
    data_dir: DataDir = None,
    once: Annotated[bool, typer.Option(help="Deliver what is due now, then stop.")] = False,
) -> None:
    """Run the delivery worker (and directory refresh) without the web server."""
    from jembatan.node.memory import tune_allocator
    from jembatan.registry.worker import run_periodic

    tune_allocator()
    node = open_node(data_dir, quiet=False, unlock=True)
    if once:
        typer.echo(f"{delivery.run_once(node)} delivery attempts")
        return
    stop = threading.Event()
    periodic = threading.Thread(target=run_periodic, args=(node, stop), daemon=True)
    periodic.start()
    try:
        delivery.run_forever(node, stop)
    except KeyboardInterrupt:
        stop.set()
