"""The exchange over HTTP: agencies' systems send and read messages; nodes hand each other
envelopes at /fed/v1/envelopes."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from jembatan.accounts.tokens import parse_duration
from jembatan.errors import InvalidInput, JembatanError
from jembatan.exchange import services, transfer
from jembatan.exchange.models import Delivery, Message
from jembatan.logs import get_logger
from jembatan.node.context import Node
from jembatan.registry.peers import Peer, signed_peer
from jembatan.web.security import ApiCaller, node_of, require_scope

ENVELOPE_TYPE = "application/jose+json"
BULK_THRESHOLD = 8 * 1024 * 1024  # larger files travel as a resumable age stream
fed_router = APIRouter(prefix="/fed/v1", tags=["federation"])
log = get_logger("jembatan.exchange")
router = APIRouter(prefix="/api/v1", tags=["messages"])


@fed_router.post("/envelopes", summary="Hand over an envelope; answers with a signed receipt")
async def envelopes(
    request: Request, peer: Annotated[Peer, Depends(signed_peer)]
) -> dict[str, str]:
    node = node_of(request)
    body = await request.body()  # already read (and digest-checked) by signed_peer
    if len(body) > node.settings.max_message_bytes * 2 + 65536:
        raise InvalidInput("envelope larger than this node accepts")
    try:
        receipt = await run_in_threadpool(services.receive, node, peer.member, body)
    except JembatanError as exc:
        # A verified member sent something we refuse: operators are told, not only the peer.
        request.app.state.metrics.refused.labels(sender=peer.member, status=exc.status).inc()
        log.warning("envelope refused", sender=peer.member, status=exc.status, reason=exc.detail)
        raise
    return {"receipt": receipt}


@fed_router.get("/transfers/{mid}", summary="How many bytes of a large payload arrived")
def transfer_status(
    request: Request, mid: str, peer: Annotated[Peer, Depends(signed_peer)]
) -> dict[str, int]:
    return {"received": transfer.status(node_of(request), peer.member, mid)}


@fed_router.put("/transfers/{mid}", summary="Append one chunk of a large payload")
async def transfer_chunk(
    request: Request,
    mid: str,
    peer: Annotated[Peer, Depends(signed_peer)],
    offset: Annotated[int, Query(ge=0)],
    total: Annotated[int, Query(ge=1)],
) -> dict[str, int]:
    chunk = await request.body()  # read once by signed_peer, digest checked there
    received = await run_in_threadpool(
        transfer.accept_chunk, node_of(request), peer.member, mid, offset, total, chunk
    )
    return {"received": received}


class DeliveryOut(BaseModel):
    recipient: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    receipt: str | None = Field(description="The JWS the recipient signed")

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        return cls(
            recipient=d.recipient,
            status=d.status,
            attempts=d.attempts,
            last_error=d.last_error,
            next_attempt_at=d.next_attempt_at if d.status in ("queued", "sent") else None,
            delivered_at=d.delivered_at,
            receipt=d.receipt,
        )


class MessageOut(BaseModel):
    id: str
    box: str
    conversation_id: str
    sender: str
    recipients: list[str]
    subject: str
    classification: str
    kind: str
    agreement_id: str | None
    readers: list[str] = Field(description="TLP:RED only: its named readers")
    content_type: str
    filename: str | None
    size: int
    payload_sha256: str
    envelope_sha256: str
    created_at: datetime
    expires_at: datetime
    received_at: datetime | None
    deliveries: list[DeliveryOut] | None = None
    receipt: str | None = Field(default=None, description="Inbox: the receipt we signed")

    @classmethod
    def of(cls, m: Message, deliveries: list[Delivery] | None = None) -> MessageOut:
        return cls(
            id=m.id,
            box=m.box,
            conversation_id=m.conversation_id,
            sender=m.sender,
            recipients=json.loads(m.recipients),
            subject=m.subject,
            classification=m.classification,
            kind=m.kind,
            agreement_id=m.agreement_id,
            readers=json.loads(m.readers or "[]"),
            content_type=m.content_type,
            filename=m.filename,
            size=m.size,
            payload_sha256=m.payload_sha256,
            envelope_sha256=m.envelope_sha256,
            created_at=m.created_at,
            expires_at=m.expires_at,
            received_at=m.received_at,
            deliveries=[DeliveryOut.of(d) for d in deliveries] if deliveries is not None else None,
            receipt=m.receipt,
        )


def _viewer(node: Node, caller: ApiCaller) -> services.Viewer:
    return services.Viewer.of(node, caller.user)


class NewMessage(BaseModel):
    to: list[str] = Field(min_length=1, description="Recipient member ids")
    subject: str = Field(max_length=500)
    text: str | None = Field(default=None, description="A text message (UTF-8)")
    content_base64: str | None = Field(default=None, description="Or any bytes, base64")
    content_type: str | None = Field(default=None, max_length=200)
    filename: str | None = Field(default=None, max_length=255)
    classification: str = "TLP:AMBER"
    kind: str = Field(default="message", max_length=64, description="Kind, as agreements name it")
    agreement: str | None = Field(
        default=None, max_length=64, description="Agreement id (default: the only one that fits)"
    )
    expires: str = Field(default="7d", description="Lifetime: 12h, 7d, 2w ...")
    conversation_id: str | None = Field(default=None, max_length=36)
    readers: list[str] = Field(
        default=[],
        max_length=100,
        description="TLP:RED only: the people who alone may read it, as MEMBER/user/NAME",
    )


def _payload(body: NewMessage) -> tuple[bytes, str]:
    if (body.text is None) == (body.content_base64 is None):
        raise InvalidInput("give exactly one of text or content_base64")
    if body.text is not None:
        return body.text.encode(), body.content_type or "text/plain; charset=utf-8"
    try:
        data = base64.b64decode(body.content_base64 or "", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("content_base64 is not valid base64") from None
    return data, body.content_type or "application/octet-stream"


@router.post("/messages", response_model=MessageOut, status_code=201, summary="Send a message")
async def send_message(
    request: Request, caller: Annotated[ApiCaller, Depends(require_scope("messages:send"))]
) -> MessageOut:
    """JSON (`NewMessage`), or multipart/form-data with fields `to` (repeat or
    comma-separated), `subject`, `classification`, `expires` and a `file` or `text`."""
    node = node_of(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        to = [t for v in form.getlist("to") for t in str(v).split(",") if t.strip()]
        payload: bytes | BinaryIO
        if upload is not None and not isinstance(upload, str):
            # Spooled to disk by the form parser; large files are encrypted as a stream.
            upload.file.seek(0, 2)
            large = upload.file.tell() > BULK_THRESHOLD
            upload.file.seek(0)
            payload = upload.file if large else await upload.read()
            content_type = upload.content_type or "application/octet-stream"
            filename = upload.filename
        else:
            payload, content_type, filename = (
                str(form.get("text", "")).encode(),
                "text/plain; charset=utf-8",
                None,
            )
        body = NewMessage(
            to=to or [""],
            subject=str(form.get("subject", "")),
            classification=str(form.get("classification", "TLP:AMBER")),
            kind=str(form.get("kind", "message")),
            agreement=str(form["agreement"]) if form.get("agreement") else None,
            expires=str(form.get("expires", "7d")),
            readers=[r for v in form.getlist("readers") for r in str(v).split()],
            text="",
            filename=filename,
        )
    else:
        try:
            body = NewMessage.model_validate_json(await request.body())
        except ValueError as exc:
            raise InvalidInput("body: {reason}", reason=str(exc).splitlines()[0]) from None
        payload, content_type = _payload(body)
        filename = body.filename
    message = await run_in_threadpool(
        lambda: services.send(
            node,
            body.to,
            body.subject,
            payload,
            content_type,
            filename,
            body.classification,
            parse_duration(body.expires),
            body.conversation_id,
            caller.user.id,
            body.kind,
            body.agreement,
            readers=body.readers,
        )
    )
    return MessageOut.of(message, services.get_message(node, message.id)[1])


class Forward(BaseModel):
    to: list[str] = Field(min_length=1, description="Recipient member ids")
    agreement: str | None = Field(default=None, max_length=64)


@router.post(
    "/messages/{mid}/forward",
    response_model=MessageOut,
    status_code=201,
    summary="Share a received message onward (if its agreement allows onward sharing)",
)
def forward(
    request: Request,
    mid: str,
    body: Forward,
    caller: Annotated[ApiCaller, Depends(require_scope("messages:send"))],
) -> MessageOut:
    node = node_of(request)
    message = services.forward(
        node, mid, body.to, caller.user.id, _viewer(node, caller), body.agreement
    )
    return MessageOut.of(message, services.get_message(node, message.id)[1])


@router.get("/messages", response_model=list[MessageOut], summary="List the inbox or outbox")
def list_messages(
    request: Request,
    caller: Annotated[ApiCaller, Depends(require_scope("messages:read"))],
    box: Annotated[str, Query(pattern="^(inbox|outbox)$")] = "inbox",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[MessageOut]:
    node = node_of(request)
    found = services.list_messages(node, box, limit, offset, _viewer(node, caller))
    return [MessageOut.of(m) for m in found]


@router.get("/messages/{mid}", response_model=MessageOut, summary="One message, with delivery")
def get_message(
    request: Request,
    mid: str,
    caller: Annotated[ApiCaller, Depends(require_scope("messages:read"))],
) -> MessageOut:
    node = node_of(request)
    message, deliveries = services.get_message(node, mid, _viewer(node, caller))
    return MessageOut.of(message, deliveries)


@router.get("/messages/{mid}/content", summary="The payload, byte for byte")
def content(
    request: Request,
    mid: str,
    caller: Annotated[ApiCaller, Depends(require_scope("messages:read"))],
) -> Response:
    node = node_of(request)
    message, _ = services.get_message(node, mid, _viewer(node, caller))
    return payload_response(node, message)


def payload_response(node: Node, message: Message) -> Response:
    """The payload as a download; a large one is decrypted to a temporary file first and
    streamed from there, so memory stays constant."""
    name = message.filename or f"{message.id}.bin"
    headers: dict[str, Any] = {
        "X-Content-SHA256": message.payload_sha256,
        "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(name)}",
    }
    if message.bulk_sha256 is None:
        return Response(
            services.read_payload(node, message), media_type=message.content_type, headers=headers
        )
    path = node.blobs.temp_path(f"read-{uuid.uuid4()}")
    try:
        with path.open("wb") as f:
            services.write_payload(node, message, f)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(
        path,
        media_type=message.content_type,
        headers=headers,
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get("/messages/{mid}/envelope", summary="The envelope exactly as sent or received")
def envelope(
    request: Request,
    mid: str,
    caller: Annotated[ApiCaller, Depends(require_scope("messages:read"))],
) -> Response:
    node = node_of(request)
    message, _ = services.get_message(node, mid, _viewer(node, caller))
    return Response(services.envelope_of(node, message), media_type=ENVELOPE_TYPE)


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
