"""The node-to-node hop of a gateway call as docs/protocol.md writes it down, built and
checked here without the product's own code: RFC 9421 signatures by the independent
`http-message-signatures` library, frames and trailers by hand."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)

from jembatan.crypto.keys import raw_public_ed25519
from jembatan.gateway import hops, proxy, services, xroad
from jembatan.gateway.frames import FrameWriter
from jembatan.identifiers import SubsystemId
from jembatan.registry.membership import federation
from jembatan.store.schema import utcnow
from tests.gateway.conftest import Setup

CONTEXT = b"jembatan-gateway-body/1\n"
COMPONENTS = (
    "@method",
    "@target-uri",
    "x-road-client",
    "x-road-id",
    "x-road-request-id",
    "jembatan-body-framing",
)


class _Keys(HTTPSignatureKeyResolver):
    def __init__(self, private: Any = None, public: Any = None) -> None:
        self.private, self.public = private, public

    def resolve_private_key(self, key_id: str) -> Any:
        return self.private

    def resolve_public_key(self, key_id: str) -> Any:
        return self.public


def _framed(data: bytes, header_signature: bytes, key: Ed25519PrivateKey) -> bytes:
    digest = hashlib.sha256(data).digest()
    frames = struct.pack(">I", len(data)) + data if data else b""
    return frames + struct.pack(">I", 0) + digest + key.sign(CONTEXT + header_signature + digest)


def _unframe(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """(data, digest, trailer signature)"""
    data, at = b"", 0
    while True:
        (length,) = struct.unpack(">I", raw[at : at + 4])
        at += 4
        if length == 0:
            break
        data += raw[at : at + length]
        at += length
    assert len(raw) == at + 96
    return data, raw[at : at + 32], raw[at + 32 :]


def _content(answer: httpx.Response) -> bytes:
    """An answer's body: sent whole with its signed digest, or framed."""
    if answer.headers["jembatan-body-framing"] == "whole":
        digest = base64.b64encode(hashlib.sha256(answer.content).digest()).decode()
        assert answer.headers["content-digest"] == f"sha-256=:{digest}:"
        return answer.content
    assert answer.headers["jembatan-body-framing"] == "jb-frames/1"
    return _content(answer)


@dataclass
class _Answer:
    """What the proxy reads of an answer from the other node."""

    status: int
    headers: dict[str, str]
    body: bytes

    async def pieces(self) -> AsyncIterator[bytes]:
        yield self.body

    async def read(self, limit: int | None = None) -> bytes:
        if limit is not None and len(self.body) > limit:
            raise hops.TooLarge(f"the body is larger than {limit} bytes")
        return self.body

    async def aclose(self) -> None:
        return None


def _signature_bytes(header: str) -> bytes:
    return base64.b64decode(header.split("=:", 1)[1].rstrip(":"))


def _request(
    setup: Setup,
    body: bytes,
    tamper: bool = False,
    request_id: str | None = None,
    whole: bool = False,
    digest_signed: bool = True,
) -> httpx.Request:
    """A signed call from MYS's node to IDN's, made without Jembatan's code: its body
    framed, or sent whole with a Content-Digest that the signature covers."""
    url = setup.url(setup.idn, "/fed/v1/r1/ASEAN/GOV/IDN/health/echo/v1/hello?q=1")
    request = httpx.Request(
        "POST",
        url,
        headers={
            "X-Road-Client": "ASEAN/GOV/MYS/portal",
            "X-Road-Id": "independent-1",
            "X-Road-Request-Id": request_id or str(uuid.uuid4()),
            "Jembatan-Body-Framing": "whole" if whole else "jb-frames/1",
            "Jembatan-Body-Length": str(len(body)),
            "Content-Type": "text/plain",
        },
    )
    if whole and not digest_signed:
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        request.headers["Content-Digest"] = f"sha-256=:{digest}:"
    signer = setup.mys.keys().signer()
    HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=_Keys(private=signer.signing_key()),
    ).sign(
        request,
        key_id=signer.kid,
        covered_component_ids=COMPONENTS,
        # With the body, the library adds Content-Digest and covers it, after the others.
        body=body if whole and digest_signed else None,
        use_existing_digest=whole and not digest_signed,  # present, not covered
        nonce=uuid.uuid4().hex,
        tag="jembatan",
        label="sig1",
        include_alg=True,
    )
    if whole:
        sent = body
    else:
        sent = _framed(body, _signature_bytes(request.headers["Signature"]), signer.signing_key())
    if tamper:
        at = 0 if whole else 5
        sent = sent[:at] + bytes([sent[at] ^ 1]) + sent[at + 1 :]
    headers = {k: v for k, v in request.headers.items() if k != "content-length"}
    return httpx.Request("POST", url, headers=headers, content=sent)


@pytest.mark.parametrize("whole", [False, True], ids=["framed", "whole"])
def test_an_independently_built_call_is_served_and_its_answer_verifies(
    setup: Setup, whole: bool
) -> None:
    body = b"hello across the border"
    request = _request(setup, body, whole=whole)
    answer = httpx.Client().send(request)
    assert answer.status_code == 200, answer.content
    assert answer.headers["jembatan-status"] == "200"

    idn_kid = answer.headers["signature-input"].split('keyid="')[1].split('"')[0]
    record = federation(setup.mys).key(idn_kid)
    assert record.member == "ASEAN/GOV/IDN"
    public = raw_public_ed25519(record.jwk)
    [result] = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519, key_resolver=_Keys(public=public)
    ).verify(
        answer,
        expect_tag="jembatan",
        expect_label="sig1",
        # A small answer is sent whole: its digest is signed, there is no trailer.
        require_components=("@status", "x-road-request-hash", "content-digest"),
        body=answer.content,  # the library checks the body against the signed digest
    )
    assert result.covered_components['"jembatan-status"'] == "200"
    assert answer.headers["jembatan-body-framing"] == "whole"
    assert _content(answer) == body  # the echo service answered with what it got

    # X-Road-Request-Hash: base64 SHA512(SHA512(signature base of the request) + SHA512(body)).
    params = request.headers["signature-input"].split("=", 1)[1]
    covered = [*COMPONENTS, "content-digest"] if whole else COMPONENTS
    lines = [f'"{c}": {_value(request, c)}' for c in covered]
    base = "\n".join([*lines, f'"@signature-params": {params}']).encode()
    inner = hashlib.sha512(base).digest()
    expected = hashlib.sha512(inner + hashlib.sha512(body).digest()).digest()
    assert answer.headers["x-road-request-hash"] == base64.b64encode(expected).decode()


def _value(request: httpx.Request, component: str) -> str:
    if component == "@method":
        return request.method
    if component == "@target-uri":
        return str(request.url)
    return request.headers[component]


@pytest.mark.parametrize("whole", [False, True], ids=["framed", "whole"])
def test_a_body_that_does_not_match_its_trailer_or_digest_is_refused(
    setup: Setup, whole: bool
) -> None:
    answer = httpx.Client().send(_request(setup, b"x" * 100, tamper=True, whole=whole))
    assert answer.headers["x-road-error"] == "Server.ServerProxy.InvalidSignatureValue"
    data = _content(answer)
    assert b"does not match its Content-Digest" in data if whole else b"trailer" in data
    [logged] = services.calls(setup.idn, role="provider")
    assert logged.error == "Server.ServerProxy.InvalidSignatureValue"


@pytest.mark.parametrize("whole", [False, True], ids=["framed", "whole"])
def test_a_body_of_another_length_than_declared_is_refused(setup: Setup, whole: bool) -> None:
    request = _request(setup, b"four", whole=whole)
    request.headers["Jembatan-Body-Length"] = "2"
    answer = httpx.Client().send(request)
    assert answer.headers["x-road-error"] == "Server.ServerProxy.InvalidRequest"
    assert b"not the 2 its header declares" in _content(answer)


def test_a_whole_body_needs_its_digest_signed(setup: Setup) -> None:
    """Sent whole, a body is authenticated only by its Content-Digest: a signature that
    does not cover it is refused, even with the right digest."""
    answer = httpx.Client().send(_request(setup, b"four", whole=True, digest_signed=False))
    assert answer.headers["x-road-error"] == "Server.ServerProxy.InvalidSignatureValue"
    assert b"does not cover content-digest" in _content(answer)
    assert services.calls(setup.idn, role="provider")[0].status == 500


def test_a_replayed_call_is_refused(setup: Setup) -> None:
    request = _request(setup, b"once")
    assert httpx.Client().send(request).status_code == 200
    again = httpx.Client().send(request)
    assert again.headers["x-road-error"] == "Server.ServerProxy.InvalidSignatureValue"
    assert b"replayed" in _content(again)


def test_a_request_id_is_served_once_even_signed_anew(setup: Setup) -> None:
    """Concurrent calls with one request id share a group commit: only one is served."""
    ident = str(uuid.uuid4())
    first = httpx.Client().send(_request(setup, b"once", request_id=ident))
    assert first.status_code == 200
    again = httpx.Client().send(_request(setup, b"twice", request_id=ident))
    assert again.headers["x-road-error"] == "Server.ServerProxy.InvalidRequest"
    assert b"was used before" in _content(again)

    async def together() -> list[httpx.Response]:
        shared = str(uuid.uuid4())
        async with httpx.AsyncClient() as client:
            return await asyncio.gather(
                *(client.send(_request(setup, b"x", request_id=shared)) for _ in range(6))
            )

    answers = asyncio.run(together())
    assert sorted(a.headers.get("x-road-error", "served") for a in answers) == [
        *["Server.ServerProxy.InvalidRequest"] * 5,
        "served",
    ]


REQUEST_BASE = b'"@method": GET\n"@signature-params": ("@method");created=1'


def _check_taken(
    setup: Setup,
    headers: dict[str, str],
    data: bytes,
    refused: str | None,
    tampered: bool = False,
) -> None:
    """The consumer's node takes the provider node's answer to its request of
    REQUEST_BASE (signed here with IDN's key): passed on with its data, or refused as
    InconsistentResponse with the given words."""
    values = {"@status": "200", **{k: headers[k] for k in proxy.RESPONSE_COMPONENTS[1:]}}
    signature, _, _ = proxy._sign(setup.idn, values, headers)
    body = data
    if headers["jembatan-body-framing"] == "jb-frames/1":
        body = _framed(data, signature, setup.idn.keys().signer().signing_key())
    if tampered:  # one byte of the data changed on its way
        at = body.index(data)
        body = body[:at] + bytes([body[at] ^ 1]) + body[at + 1 :]
    lowered = {k.lower(): v for k, v in headers.items()}  # as hops gives them
    answer = cast(hops.Answer, _Answer(200, lowered, body))
    record = services.CallRecord(
        "consumer",
        headers["x-road-request-id"],
        "x-1",
        "ASEAN/GOV/MYS/portal",
        "",
        "GET",
        "",
        utcnow(),
    )

    async def nothing() -> None:
        return None

    async def attempt() -> Any:
        return await proxy._answer(
            setup.mys,
            record,
            nothing,
            {},
            answer,
            xroad.ServiceId(SubsystemId.parse("ASEAN/GOV/IDN/health"), "echo"),
            REQUEST_BASE,
            FrameWriter(lambda digest: b""),
        )

    if refused:
        with pytest.raises(xroad.GatewayError) as caught:
            asyncio.run(attempt())
        assert caught.value.type == "Server.ClientProxy.InconsistentResponse"
        assert refused in caught.value.message
    else:
        assert asyncio.run(attempt()).body == data


def _digest(data: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"


def test_an_answer_bound_to_another_request_is_refused(setup: Setup) -> None:
    """The consumer's node recomputes X-Road-Request-Hash: a properly signed answer of the
    provider's node that was made for another request (replayed, or swapped in transit)
    does not reach the agency's system; nor does one whose body was changed."""
    cases = (
        (REQUEST_BASE, False, False, None),
        (b"another request", False, False, "bound to another request"),
        (REQUEST_BASE, False, True, "IDN's node was refused: the body does not match the digest"),
        (REQUEST_BASE, True, False, None),
        (REQUEST_BASE, True, True, "was refused: the body does not match its Content-Digest"),
    )
    for bound_to, whole, tampered, refused in cases:
        headers = {
            "jembatan-status": "200",
            "x-road-request-id": "req-1",
            "x-road-request-hash": proxy.request_hash(bound_to, None),
            "jembatan-body-framing": "whole" if whole else "jb-frames/1",
            "content-type": "application/json",
            "jembatan-body-length": "2",
        }
        if whole:
            headers["content-digest"] = _digest(b"{}")
        _check_taken(setup, headers, b"{}", refused, tampered)


@pytest.mark.parametrize(
    ("size", "declared", "refused"),
    [
        (300 * 1024, None, None),  # more than the reference sends whole, within the limit
        (10, "11", "is not the length it signed"),
        (1024 * 1024 + 1, None, "was refused: the body is larger than 1048576 bytes"),
    ],
    ids=["300 KiB", "other length", "over 1 MiB"],
)
def test_a_whole_answer_is_taken_up_to_its_limit(
    setup: Setup, size: int, declared: str | None, refused: str | None
) -> None:
    data = b"x" * size
    headers = {
        "jembatan-status": "200",
        "x-road-request-id": "req-2",
        "x-road-request-hash": proxy.request_hash(REQUEST_BASE, None),
        "jembatan-body-framing": "whole",
        "jembatan-body-length": declared or str(size),
        "content-digest": _digest(data),
    }
    _check_taken(setup, headers, data, refused)
