"""The two halves of a call. The consumer's node takes the agency's pr-rest request,
signs it and streams it to the provider's node; that node verifies, decides, calls its
internal service and streams the signed answer back. Bodies are never buffered whole."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from jembatan.accounts import tokens
from jembatan.crypto import httpsig
from jembatan.errors import InvalidInput, JembatanError, Unauthenticated
from jembatan.gateway import hops, services, xroad
from jembatan.gateway.frames import (
    FRAMING,
    WHOLE,
    WHOLE_LIMIT,
    BodyRefused,
    BodyTooLarge,
    FrameReader,
    FrameWriter,
    most_framed,
)
from jembatan.gateway.frames import trailer_message as trailer
from jembatan.identifiers import SubsystemId, uuid7
from jembatan.logs import get_logger
from jembatan.node.context import Node
from jembatan.registry import peers
from jembatan.registry.membership import USER_AGENT, federation
from jembatan.store.batch import Batcher
from jembatan.store.schema import utcnow
from jembatan.web.metrics import Metrics

log = get_logger("jembatan.gateway")
SCOPE = "services:call"
FED_PREFIX = "/fed/v1"
STATUS = "jembatan-status"
LENGTH = "jembatan-body-length"
AGREEMENT = "jembatan-agreement"
FRAMING_HEADER = "jembatan-body-framing"
REQUEST_COMPONENTS = (
    "@method",
    "@target-uri",
    xroad.CLIENT,
    xroad.ID,
    xroad.REQUEST_ID,
    FRAMING_HEADER,
)
RESPONSE_COMPONENTS = ("@status", STATUS, xroad.REQUEST_ID, xroad.REQUEST_HASH, FRAMING_HEADER)
# Signed too whenever present.
DIGEST = "content-digest"  # of a body sent whole
OPTIONAL_COMPONENTS = (
    LENGTH,
    "content-type",
    xroad.USER_ID,
    xroad.ISSUE,
    AGREEMENT,
    xroad.ERROR,
    DIGEST,
)
# Set by the provider's node for its own hop; ours sets its own.
NODE_SET = frozenset({"date", "x-request-id"})
IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "OPTIONS"})
MEDIATED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
NO_BODY_STATUS = frozenset({204, 304})
SMALL = 256 * 1024  # bodies up to this size are framed or checked whole, then sent in one piece
CONNECT_SECONDS = 10.0


def request_hash(signature_base: bytes, body_sha512: bytes | None) -> str:
    """X-Road-Request-Hash as pr-rest defines it, base64 of SHA512(SHA512(headers) +
    SHA512(body)) or of SHA512(headers) without a body, where "headers" is the request's
    RFC 9421 signature base: the answer is bound to exactly the request that was signed."""
    digest = hashlib.sha512(signature_base).digest()
    if body_sha512:
        digest = hashlib.sha512(digest + body_sha512).digest()
    return base64.b64encode(digest).decode()


def _hops(node: Node) -> hops.Hops:
    """One pool of keep-alive connections per node and event loop, for both hops."""
    key = f"gateway_hops:{id(asyncio.get_running_loop())}"
    pool = node.extras.get(key)
    if not isinstance(pool, hops.Hops):
        # Idle connections are dropped before a server's usual 5 s keep-alive ends, so a
        # call never goes out on a connection the other side is closing.
        pool = node.extras[key] = hops.Hops(
            user_agent=USER_AGENT,
            keepalive_expiry=2.0,
            # The node's one trust configuration (SSL_CERT_FILE, SSL_CERT_DIR or certifi),
            # as for its other connections.
            ssl_context=httpx.create_ssl_context(),
        )
    return pool


def _raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else request.url.path


def _query(request: Request) -> str:
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"?{query}" if query else ""


def _has_body(request: Request) -> bool:
    return "transfer-encoding" in request.headers or request.headers.get(
        "content-length", "0"
    ) not in ("", "0")


def _required(components: tuple[str, ...], framing: str | None) -> tuple[str, ...]:
    """What a message's signature must cover: with a body sent whole, its digest too."""
    return (*components, DIGEST) if framing == WHOLE else components


def _error_response(exc: xroad.GatewayError, headers: dict[str, str] | None = None) -> Response:
    """A gateway error as X-Road sends it: its type in X-Road-Error, the JSON document."""
    return Response(
        exc.body(),
        status_code=exc.status,
        media_type="application/json",
        headers={**(headers or {}), "X-Road-Error": exc.type},
    )


def _member_key(node: Node, member: str) -> Callable[[str, int], httpsig.VerifyingKey]:
    lookup = peers.key_lookup(node)

    def key_for(keyid: str, created: int) -> httpsig.VerifyingKey:
        record = federation(node).key(keyid)
        if record is None or record.member != member:
            raise httpsig.SignatureRefused(f"the key is not one of {member}'s")
        key: httpsig.VerifyingKey = lookup(keyid, created)
        return key

    return key_for


def _checker(key: httpsig.VerifyingKey, header_signature: bytes) -> Callable[[bytes, bytes], None]:
    def check(digest: bytes, signature: bytes) -> None:
        try:
            key.verify(signature, trailer(header_signature, digest))
        except InvalidSignature:
            raise BodyRefused("the body's trailer signature does not verify") from None

    return check


def _sign(
    node: Node, values: dict[str, str], headers: dict[str, str]
) -> tuple[bytes, bytes, Callable[[bytes], bytes]]:
    """Sign the components, add the signature headers; the signature, its base and the
    function that signs the body's trailer."""
    signer = node.keys().signer()
    key = signer.ed25519
    for name in OPTIONAL_COMPONENTS:
        if name in headers:
            values[name] = headers[name]
    signed, signature = httpsig.sign_values(values, key, signer.kid, int(time.time()))
    headers.update(signed)
    base = httpsig.signature_base(values, signed["Signature-Input"])
    return signature, base, lambda digest: key.sign(trailer(signature, digest))


def _record_later(request: Request, record: services.CallRecord, t0: float) -> Callable[[], Any]:
    """Writes the call's row and ledger entry, once, and counts it."""
    node: Node = request.app.state.node
    metrics: Metrics = request.app.state.metrics
    done = False

    async def write() -> None:
        nonlocal done
        if done:
            return
        done = True
        metrics.gateway_calls.labels(role=record.role, outcome=record.error or "ok").inc()
        record.duration_ms = int((time.perf_counter() - t0) * 1000)
        # Once submitted, the write happens even if this request is cancelled meanwhile
        # (the client went away): the batch holds it, not this task.
        try:
            await Batcher.of(node).write(services.write_calls, record)
        except Exception:  # the answer is already on its way; the log says what failed
            log.exception("gateway call not recorded", request_id=record.request_id)

    return write


# The consumer's node ----------------------------------------------------------------------


async def consume(request: Request) -> Response:
    """`{METHOD} /r1/{service}/{path}` from one of our agencies' systems."""
    node: Node = request.app.state.node
    t0 = time.perf_counter()
    request_id = uuid7()
    instance = node.member_id.split("/", 1)[0]
    xroad_id = request.headers.get(xroad.ID) or f"{instance}-{uuid7()}"
    record = services.CallRecord(
        role="consumer",
        request_id=request_id,
        xroad_id=xroad_id,
        client=request.headers.get(xroad.CLIENT, "")[:800],
        service="",
        method=request.method,
        path="",
        started_at=utcnow(),
        user_id=request.headers.get(xroad.USER_ID),
        issue=request.headers.get(xroad.ISSUE),
    )
    finish = _record_later(request, record, t0)
    answer_headers = {"X-Road-Id": xroad_id, "X-Road-Request-Id": request_id}
    try:
        return await _consume(node, request, record, finish, answer_headers)
    except xroad.GatewayError as exc:
        record.status, record.error, record.message = exc.status, exc.type, exc.message
        exc.detail = exc.detail or request_id  # as X-Road's detail: where to look in the logs
        await finish()
        return _error_response(exc, answer_headers)


async def _authenticate(node: Node, request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header[:7].lower() != "bearer ":
        raise xroad.GatewayError(
            xroad.CLIENT_NOT_ALLOWED,
            "send an API token of this node as 'Authorization: Bearer <token>'",
            status=401,
        )
    holder = tokens.remembered(node, header[7:])
    if holder is None:
        try:
            holder = await run_in_threadpool(tokens.authenticate_remembering, node, header[7:])
        except Unauthenticated as exc:
            raise xroad.GatewayError(xroad.CLIENT_NOT_ALLOWED, exc.detail, status=401) from None
    if SCOPE not in holder.scopes:
        raise xroad.GatewayError(
            xroad.CLIENT_NOT_ALLOWED, f"this API token lacks scope {SCOPE!r}", status=403
        )
    return holder.user.username


async def _consume(
    node: Node,
    request: Request,
    record: services.CallRecord,
    finish: Callable[[], Any],
    answer_headers: dict[str, str],
) -> Response:
    username = await _authenticate(node, request)
    try:
        service, rest = xroad.parse_target(_raw_path(request))
    except (InvalidInput, UnicodeDecodeError) as exc:
        raise xroad.GatewayError(xroad.INVALID_SERVICE, str(exc)) from None
    record.service, record.path = str(service), rest + _query(request)
    try:
        client = xroad.parse_client(request.headers.get(xroad.CLIENT))
    except (InvalidInput, UnicodeDecodeError) as exc:
        raise xroad.GatewayError(xroad.INVALID_CLIENT, str(exc)) from None
    record.client = str(client)
    record.actor = f"{client}/user/{username}"
    if str(client.member) != node.member_id or client.subsystem not in services.own_subsystems(
        node
    ):
        raise xroad.GatewayError(
            xroad.INVALID_CLIENT,
            f"{client} is not a registered subsystem of this node's member {node.member_id}",
        )
    answer_headers["X-Road-Client"] = xroad.encode_subsystem(client)
    answer_headers["X-Road-Service"] = xroad.encode_service(service)
    if request.method not in MEDIATED_METHODS:
        raise xroad.GatewayError(xroad.INVALID_REQUEST, f"method {request.method} is not mediated")
    provider = federation(node).member(service.provider)
    if provider is None:
        raise xroad.GatewayError(
            xroad.UNKNOWN_MEMBER, f"{service.provider} is not in the member directory"
        )
    url = f"{provider.node_url}{FED_PREFIX}/{xroad.VERSION}/{xroad.encode_service(service)}"
    url += rest + _query(request)
    headers = {k: v for k, v in request.headers.items() if xroad.passes_back(k)}
    headers[xroad.CLIENT] = xroad.encode_subsystem(client)
    headers[xroad.ID] = record.xroad_id
    headers[xroad.REQUEST_ID] = record.request_id
    length = request.headers.get("content-length")
    has_body = _has_body(request)
    if length is not None:
        headers[LENGTH] = length
    elif not has_body:
        headers[LENGTH] = "0"
    body: bytes | AsyncIterator[bytes]
    try:
        whole: bytes | None = None
        if not has_body:
            whole = b""
        elif length is not None and length.isdigit() and int(length) <= SMALL:
            whole = await request.body()  # small: sent whole, with a signed digest
        if whole is not None:
            headers[FRAMING_HEADER] = WHOLE
            headers[DIGEST] = httpsig.content_digest(whole)
        else:
            headers[FRAMING_HEADER] = FRAMING
        values = {"@method": request.method, "@target-uri": url}
        values.update({name: headers[name] for name in REQUEST_COMPONENTS if name in headers})
        _, base, seal = _sign(node, values, headers)
        writer = FrameWriter(seal, node.settings.gateway_max_body_bytes)
        body = writer.plain(whole) if whole is not None else writer.frames(request.stream())
        answer = await _hops(node).request(
            request.method,
            url,
            headers,
            body,
            timeout=node.settings.gateway_timeout_seconds,
            connect_timeout=CONNECT_SECONDS,
        )
    except BodyTooLarge as exc:
        raise xroad.GatewayError(xroad.BODY_TOO_LARGE, str(exc)) from None
    except ClientDisconnect:
        raise xroad.GatewayError(
            xroad.INVALID_REQUEST, "the client went away while sending"
        ) from None
    except hops.HopTimeout:
        raise xroad.GatewayError(
            xroad.NETWORK_ERROR,
            f"no answer from {service.provider}'s node within "
            f"{node.settings.gateway_timeout_seconds} seconds",
        ) from None
    except hops.HopError as exc:
        raise xroad.GatewayError(
            xroad.NETWORK_ERROR, f"{service.provider}'s node is unreachable: {exc}"
        ) from None
    record.request_bytes, record.request_sha256 = writer.size, writer.sha256
    try:
        return await _answer(node, record, finish, answer_headers, answer, service, base, writer)
    except BaseException:
        await answer.aclose()
        raise


async def _answer(
    node: Node,
    record: services.CallRecord,
    finish: Callable[[], Any],
    answer_headers: dict[str, str],
    answer: hops.Answer,
    service: xroad.ServiceId,
    request_base: bytes,
    writer: FrameWriter,
) -> Response:
    """Check the provider's signed answer and stream it on to our agency's system."""
    key_for = _member_key(node, service.provider)
    framing = answer.headers.get(FRAMING_HEADER)
    try:
        verified = httpsig.verify_values(
            answer.headers,
            lambda name: str(answer.status) if name == "@status" else None,
            _required(RESPONSE_COMPONENTS, framing),
            key_for,
            int(time.time()),
            node.settings.signature_max_age_seconds,
        )
        if answer.headers[xroad.REQUEST_ID] != record.request_id:
            raise httpsig.SignatureRefused("it answers another request")
        status = int(answer.headers[STATUS])
    except (httpsig.SignatureRefused, KeyError, ValueError) as exc:
        raise xroad.GatewayError(
            xroad.INCONSISTENT,
            f"the answer of {service.provider}'s node is not properly signed: {exc}",
        ) from None
    expected = request_hash(request_base, writer.sha512 if writer.size else None)
    error = answer.headers.get(xroad.ERROR)
    if answer.headers[xroad.REQUEST_HASH] != expected and not error:
        raise xroad.GatewayError(
            xroad.INCONSISTENT,
            f"the answer of {service.provider}'s node is bound to another request "
            "(X-Road-Request-Hash differs)",
        )
    record.status, record.error = status, error
    record.agreement_id = answer.headers.get(AGREEMENT)
    record.request_hash = expected
    key = key_for(verified.request.keyid, verified.request.created)
    reader = FrameReader(_checker(key, verified.signature), node.settings.gateway_max_body_bytes)
    headers = {
        k: v for k, v in answer.headers.items() if xroad.passes_back(k) and k not in NODE_SET
    }
    headers.update(answer_headers)
    headers["X-Road-Request-Hash"] = expected
    if LENGTH in answer.headers:
        headers["Content-Length"] = answer.headers[LENGTH]

    def fill() -> None:
        record.response_bytes, record.response_sha256 = reader.size, reader.sha256 or None

    length = answer.headers.get(LENGTH, "")
    small = length.isdigit() and int(length) <= SMALL
    if framing == WHOLE or (not error and status not in NO_BODY_STATUS and small):
        # Small: read and checked whole, before anything is sent on.
        try:
            if framing == WHOLE:
                claimed = httpsig.claimed_sha256(answer.headers[DIGEST])
                data = reader.plain(await answer.read(WHOLE_LIMIT), claimed)
            else:
                data = reader.whole(await answer.read(most_framed(int(length))))
        except (BodyRefused, httpsig.SignatureRefused, hops.HopError) as exc:
            raise xroad.GatewayError(
                xroad.INCONSISTENT, f"the answer of {service.provider}'s node was refused: {exc}"
            ) from None
        fill()
        if error:
            record.message = data[:500].decode(errors="replace")
            await finish()
            parsed = xroad.GatewayError.parse(error, status, data)
            return _error_response(parsed, {**answer_headers, "X-Road-Request-Hash": expected})
        if status in NO_BODY_STATUS:
            await finish()
            headers.pop("Content-Length", None)
            return Response(status_code=status, headers=headers)
        if length != str(len(data)):
            raise xroad.GatewayError(
                xroad.INCONSISTENT,
                f"the answer of {service.provider}'s node is not the length it signed",
            )
        await finish()
        return Response(data, status_code=status, headers=headers)
    if framing != FRAMING:
        raise xroad.GatewayError(
            xroad.INCONSISTENT,
            f"the answer of {service.provider}'s node has an unknown body framing {framing!r}",
        )

    async def body() -> AsyncIterator[bytes]:
        try:
            async for piece in _evidence_first(reader.data(answer.pieces()), fill, finish):
                yield piece
        except (BodyRefused, hops.HopError) as exc:
            record.error, record.message = xroad.INCONSISTENT, f"answer body refused: {exc}"
            log.warning("gateway answer refused", request_id=record.request_id, reason=str(exc))
            raise
        finally:
            await answer.aclose()
            fill()
            await finish()

    if error:
        record.message = (await _collect(body()))[:500].decode(errors="replace")
        parsed = xroad.GatewayError.parse(error, status, record.message.encode())
        return _error_response(parsed, {**answer_headers, "X-Road-Request-Hash": expected})
    if status in NO_BODY_STATUS:
        await _collect(body())
        headers.pop("Content-Length", None)
        return Response(status_code=status, headers=headers)
    return StreamingResponse(body(), status_code=status, headers=headers)


async def _evidence_first(
    stream: AsyncIterator[bytes], fill: Callable[[], None], finish: Callable[[], Any]
) -> AsyncIterator[bytes]:
    """Pass the stream on, but write the call's evidence before its last piece goes: no
    answer is complete at the other end before both ledgers can hold it."""
    held: bytes | None = None
    async for piece in stream:
        if held is not None:
            yield held
        held = piece
    fill()
    await finish()
    if held is not None:
        yield held


async def _collect(stream: AsyncIterator[bytes], limit: int = 64 * 1024) -> bytes:
    """A small body read whole (errors and empty answers); the rest is dropped."""
    kept = bytearray()
    async for piece in stream:
        if len(kept) < limit:
            kept += piece[: limit - len(kept)]
    return bytes(kept)


# The provider's node ----------------------------------------------------------------------


async def provide(request: Request) -> Response:
    """`{METHOD} /fed/v1/r1/{service}/{path}` from another member's node."""
    node: Node = request.app.state.node
    t0 = time.perf_counter()
    raw = _raw_path(request)
    target = node.settings.base_url + raw + _query(request)
    headers = request.headers
    record = services.CallRecord(
        role="provider",
        request_id=headers.get(xroad.REQUEST_ID, "")[:64] or uuid7(),
        xroad_id=headers.get(xroad.ID, ""),
        client=headers.get(xroad.CLIENT, "")[:800],
        service="",
        method=request.method,
        path="",
        started_at=utcnow(),
        user_id=headers.get(xroad.USER_ID),
        issue=headers.get(xroad.ISSUE),
    )
    finish = _record_later(request, record, t0)
    verified: httpsig.Verified | None = None
    reader: FrameReader | None = None
    stream = request.stream()  # read by the reader, also after an error (for the hash)
    try:
        try:
            peer, checked = peers.signed_values(
                node,
                headers,
                lambda name: {"@method": request.method, "@target-uri": target}.get(name),
                _required(REQUEST_COMPONENTS, headers.get(FRAMING_HEADER)),
            )
        except JembatanError as exc:
            raise xroad.GatewayError(xroad.SERVER_SIGNATURE, exc.detail) from None
        await _admit(node, checked, record.request_id)
        verified = checked
        record.actor = peer.member
        key = _member_key(node, peer.member)(checked.request.keyid, checked.request.created)
        reader = FrameReader(_checker(key, checked.signature), node.settings.gateway_max_body_bytes)
        return await _provide(node, request, record, finish, peer, checked, reader, stream, raw)
    except xroad.GatewayError as exc:
        record.status, record.error, record.message = exc.status, exc.type, exc.message
        exc.detail = exc.detail or record.request_id
        request_hash_value = ""
        if reader is not None and verified is not None:
            try:
                if not reader.complete:
                    await _drain(reader, stream, headers)
                request_hash_value = _hash_of(verified, reader)
            except (BodyRefused, ClientDisconnect, xroad.GatewayError):
                pass
        record.request_hash = request_hash_value or None
        claimed = record.request_id
        if verified is None:  # the claimed request id is not ours to log under
            record.request_id = uuid7()
        return await _signed(
            node,
            record,
            finish,
            exc.status,
            _error_headers(exc),
            exc.body(),
            request_hash_value,
            request_id=claimed,
        )


async def _admit(node: Node, verified: httpsig.Verified, request_id: str) -> None:
    """Record the signature's nonce and refuse a request id served before."""
    admission = services.Admission(peers.nonce_row(node, verified.request), request_id)
    verdict = await Batcher.of(node).write(services.admit, admission)
    if verdict == services.REPLAYED:
        raise xroad.GatewayError(
            xroad.SERVER_SIGNATURE, "request signature refused: replayed nonce"
        )
    if verdict == services.USED_BEFORE:
        raise xroad.GatewayError(
            xroad.SERVER_INVALID_REQUEST,
            f"X-Road-Request-Id {request_id} was used before; every call needs a new one",
        )


def _error_headers(exc: xroad.GatewayError) -> dict[str, str]:
    return {"content-type": "application/json", xroad.ERROR: exc.type}


async def _signed(
    node: Node,
    record: services.CallRecord,
    finish: Callable[[], Any],
    status: int,
    headers: dict[str, str],
    content: bytes | hops.Answer,
    request_hash_value: str,
    close: Callable[[], Any] | None = None,
    small: bool = True,
    request_id: str | None = None,
) -> Response:
    """Our signed, framed answer to the consumer's node: built whole when small, else
    streamed from the service's answer."""
    headers[STATUS] = str(status)
    headers[xroad.REQUEST_ID] = request_id or record.request_id
    headers[xroad.REQUEST_HASH] = request_hash_value or "-"
    if record.agreement_id:
        headers[AGREEMENT] = record.agreement_id
    whole: bytes | None = None
    if small:
        try:
            whole = content if isinstance(content, bytes) else await content.read()
        except hops.HopError as exc:
            raise xroad.GatewayError(
                xroad.SERVICE_FAILED, f"the service's answer broke off: {exc}"
            ) from None
        finally:
            if close is not None:
                await close()
        headers[FRAMING_HEADER] = WHOLE
        headers.setdefault(LENGTH, str(len(whole)))  # refusals and HEAD answers too
        headers[DIGEST] = httpsig.content_digest(whole)
    else:
        headers[FRAMING_HEADER] = FRAMING
    values = {"@status": "200"}
    values.update({name: headers[name] for name in RESPONSE_COMPONENTS if name in headers})
    _, _, seal = _sign(node, values, headers)
    writer = FrameWriter(seal)

    def fill() -> None:
        record.response_bytes, record.response_sha256 = writer.size, writer.sha256 or None

    if whole is not None:
        writer.plain(whole)
        fill()
        await finish()
        return Response(whole, status_code=200, headers=headers)

    assert isinstance(content, hops.Answer)
    pieces = content.pieces()

    async def body() -> AsyncIterator[bytes]:
        try:
            async for piece in _evidence_first(writer.frames(pieces), fill, finish):
                yield piece
        except hops.HopError as exc:
            record.error = xroad.SERVICE_FAILED
            record.message = f"the service's answer broke off: {exc}"
            raise
        finally:
            if close is not None:
                await close()
            fill()
            await finish()

    return StreamingResponse(body(), status_code=200, headers=headers)


async def _provide(
    node: Node,
    request: Request,
    record: services.CallRecord,
    finish: Callable[[], Any],
    peer: peers.Peer,
    verified: httpsig.Verified,
    reader: FrameReader,
    stream: AsyncIterator[bytes],
    raw: str,
) -> Response:
    try:
        client = xroad.parse_client(request.headers.get(xroad.CLIENT))
        service, rest = xroad.parse_target(raw[len(FED_PREFIX) :])
    except (InvalidInput, UnicodeDecodeError) as exc:
        raise xroad.GatewayError(xroad.SERVER_INVALID_REQUEST, str(exc)) from None
    record.client, record.service, record.path = str(client), str(service), rest + _query(request)
    if str(client.member) != peer.member:
        raise xroad.GatewayError(
            xroad.SERVER_CLIENT,
            f"{client} is not a subsystem of the calling member {peer.member}",
        )
    if service.provider != node.member_id:
        raise xroad.GatewayError(
            xroad.UNKNOWN_SERVICE, f"{node.member_id} does not provide {service}"
        )
    sub = service.subsystem.subsystem
    if service.code in xroad.METADATA and rest in ("", "/"):
        await _drain(reader, stream, request.headers)
        return await _metadata(node, request, record, finish, verified, reader, client, sub)
    view = services.find_for_call(node, sub, service.code)
    if view is None:
        raise xroad.GatewayError(xroad.UNKNOWN_SERVICE, f"Unknown service: {service}")
    if view.by_agreement:  # such a right reads the agreement's state
        _, record.agreement_id = await run_in_threadpool(
            services.decide, node, view, client, request.method, rest
        )
    else:
        _, record.agreement_id = services.decide(node, view, client, request.method, rest)
    url = view.service.base_url + rest + _query(request)
    out = {k: v for k, v in request.headers.items() if xroad.passes(k)}
    length = request.headers.get(LENGTH)
    if length is not None:
        out["content-length"] = length
    try:
        content = await _body(reader, stream, request.headers)
        try:
            answer = await _call_service(node, request.method, url, out, content, view)
        except hops.ConnectionLost as exc:
            if (
                not exc.fresh_attempt_safe
                or content is not None
                or request.method not in IDEMPOTENT
            ):
                raise
            # The service closed a kept-alive connection as we reused it: an idempotent
            # request without a body may go once more, on a fresh connection (RFC 9110
            # §9.2.2).
            answer = await _call_service(node, request.method, url, out, content, view)
    except (BodyRefused, ClientDisconnect) as exc:
        raise xroad.GatewayError(
            xroad.SERVER_SIGNATURE, f"the request body was refused: {exc}"
        ) from None
    except hops.HopTimeout:
        raise xroad.GatewayError(
            xroad.SERVICE_TIMEOUT,
            f"the service {service} did not answer within {view.service.timeout_seconds} seconds",
        ) from None
    except hops.HopError as exc:
        raise xroad.GatewayError(
            xroad.SERVICE_FAILED, f"the service {service} is unreachable: {exc}"
        ) from None
    if not reader.complete:
        await answer.aclose()
        raise xroad.GatewayError(
            xroad.SERVICE_FAILED,
            f"the service {service} answered before the request body was complete",
        )
    record.request_bytes, record.request_sha256 = reader.size, reader.sha256
    record.request_hash = _hash_of(verified, reader)
    headers = {k: v for k, v in answer.headers.items() if xroad.passes_back(k)}
    if "content-length" in answer.headers and request.method != "HEAD":
        headers[LENGTH] = answer.headers["content-length"]
    record.status = answer.status
    length = answer.headers.get("content-length", "")
    return await _signed(
        node,
        record,
        finish,
        answer.status,
        headers,
        answer,
        record.request_hash,
        answer.aclose,
        small=length.isdigit() and int(length) <= SMALL,
    )


async def _body(
    reader: FrameReader, stream: AsyncIterator[bytes], headers: Mapping[str, str]
) -> bytes | AsyncIterator[bytes] | None:
    """The request's body for the service: none, whole and checked, or unframed as it
    streams in."""
    framing, length = headers.get(FRAMING_HEADER), headers.get(LENGTH)
    if framing == WHOLE:
        content = await _whole(reader, stream, headers.get(DIGEST, ""))
        if length != str(len(content)):
            raise xroad.GatewayError(
                xroad.SERVER_INVALID_REQUEST,
                f"the body is {len(content)} bytes, not the {length} its header declares",
            )
        return content or None
    if framing != FRAMING:
        raise xroad.GatewayError(xroad.SERVER_INVALID_REQUEST, f"unknown body framing {framing!r}")
    if length == "0":
        await _collect(reader.data(stream), 0)
        return None
    if length is not None and length.isdigit() and int(length) <= SMALL:
        return await _small(reader, stream, int(length))  # checked whole, then sent
    return reader.data(stream)


async def _drain(
    reader: FrameReader, stream: AsyncIterator[bytes], headers: Mapping[str, str]
) -> None:
    """Read the request's body to its end (for its hash), when nobody else will."""
    content = await _body(reader, stream, headers)
    if content is not None and not isinstance(content, bytes):
        await _collect(content, 0)


async def _whole(reader: FrameReader, stream: AsyncIterator[bytes], digest: str) -> bytes:
    """A body sent whole: at most WHOLE_LIMIT bytes, matching its signed digest."""
    parts, size = [], 0
    async for chunk in stream:
        size += len(chunk)
        if size > WHOLE_LIMIT:
            raise BodyRefused(f"a body sent whole is larger than {WHOLE_LIMIT} bytes")
        parts.append(chunk)
    try:
        claimed = httpsig.claimed_sha256(digest)
    except httpsig.SignatureRefused as exc:
        raise BodyRefused(str(exc)) from None
    return reader.plain(b"".join(parts), claimed)


async def _small(reader: FrameReader, stream: AsyncIterator[bytes], length: int) -> bytes:
    """A small body, unframed and checked whole; refused once it is past its length."""
    pieces = []
    async for chunk in stream:
        pieces.extend(reader.feed(chunk))
        if reader.size > length:
            break
    else:
        reader.finish()
        if reader.size == length:
            return b"".join(pieces)
    raise xroad.GatewayError(
        xroad.SERVER_INVALID_REQUEST,
        f"the body is {'longer than' if reader.size > length else reader.size} bytes, "
        f"not the {length} its header declares",
    )


async def _call_service(
    node: Node,
    method: str,
    url: str,
    headers: dict[str, str],
    content: bytes | AsyncIterator[bytes] | None,
    view: services.ServiceView,
) -> hops.Answer:
    return await _hops(node).request(
        method,
        url,
        headers,
        content,
        timeout=view.service.timeout_seconds,
        connect_timeout=CONNECT_SECONDS,
    )


async def _metadata(
    node: Node,
    request: Request,
    record: services.CallRecord,
    finish: Callable[[], Any],
    verified: httpsig.Verified,
    reader: FrameReader,
    client: SubsystemId,
    subsystem: str,
) -> Response:
    """listMethods, allowedMethods and getOpenAPI, answered by the node itself (the
    request's body has been read)."""
    record.request_bytes, record.request_sha256 = reader.size, reader.sha256
    record.request_hash = _hash_of(verified, reader)
    code = record.service.rsplit("/", 1)[1]
    if request.method != "GET":
        raise xroad.GatewayError(xroad.SERVER_INVALID_REQUEST, f"{code} answers GET only")
    if code == xroad.GET_OPENAPI:
        wanted = request.query_params.get("serviceCode", "")
        if not wanted:
            raise xroad.GatewayError(
                xroad.SERVER_INVALID_REQUEST, "Missing serviceCode in the query (?serviceCode=)"
            )
        text = await run_in_threadpool(services.openapi_of, node, subsystem, wanted)
        body, media = text.encode(), "application/json"
    else:
        doc = await run_in_threadpool(
            services.list_methods,
            node,
            subsystem,
            client if code == xroad.ALLOWED_METHODS else None,
        )
        body, media = json.dumps(doc).encode(), "application/json"
    record.status = 200
    headers = {"content-type": media, LENGTH: str(len(body))}
    return await _signed(node, record, finish, 200, headers, body, record.request_hash)


def _hash_of(verified: httpsig.Verified, reader: FrameReader) -> str:
    return request_hash(verified.base, reader.sha512 if reader.size else None)
