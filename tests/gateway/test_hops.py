"""The gateway's lean HTTP/1.1 client, against uvicorn and against raw asyncio servers that
misbehave on purpose, under both asyncio's own loop and uvloop."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import socket
import ssl
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from jembatan.gateway.hops import (
    ConnectFailed,
    ConnectionLost,
    HopError,
    Hops,
    HopTimeout,
    TooLarge,
)
from tests.conftest import LiveServer

T = TypeVar("T")
Scope = dict[str, Any]
Message = dict[str, Any]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

AGENT = "jembatan-test/1"
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
MiB = 1024 * 1024


class Run(Protocol):
    def __call__(self, coro: Coroutine[Any, Any, T]) -> T: ...


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Run:
    factory = uvloop.new_event_loop if request.param == "uvloop" else None

    def run_on_loop(coro: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coro)

    return run_on_loop


async def _echo_app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Echoes the body; says in x-echo what it saw: method, raw path, query, headers, peer."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    seen = {
        "method": scope["method"],
        "path": scope["raw_path"].decode(),
        "query": scope["query_string"].decode(),
        "headers": [[k.decode(), v.decode("latin-1")] for k, v in scope["headers"]],
        "peer": scope["client"][1],
    }
    headers = [(b"x-echo", json.dumps(seen).encode()), (b"content-length", b"%d" % len(body))]
    if scope["path"] == "/close":
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    with LiveServer(_echo_app) as server:
        yield server.url


async def _echo(hops: Hops, method: str, url: str, **kw: Any) -> tuple[dict[str, Any], bytes]:
    answer = await hops.request(method, url, kw.pop("headers", {}), timeout=5, **kw)
    body = await answer.read()
    assert answer.status == 200
    return json.loads(answer.headers["x-echo"]), body


async def _pieces(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


@asynccontextmanager
async def _serving(handler: Handler, context: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    async def quietly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Clients here drop connections on purpose, and the loop ends with handlers waiting.
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(quietly, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if context else 'http'}://127.0.0.1:{port}"
    finally:
        server.close()


class Counting:
    """Counts the connections a raw handler gets."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await self.handler(reader, writer)


def _answering(*responses: bytes) -> Handler:
    """Reads a body-less request head and writes the next response, on one connection."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for response in responses:
            try:
                await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            writer.write(response)
            await writer.drain()
        await reader.read()  # keep the connection until the client drops it

    return handler


# --- against uvicorn


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_method_raw_target_headers_and_body_arrive_exactly(
    run: Run, echo_url: str, method: str
) -> None:
    body = bytes(range(256)) * 3 if method in ("POST", "PUT") else None
    target = "/a%2Fb/c%20d/%E2%9C%93?x=%2F&y=a+b&z=%20"

    async def main() -> tuple[dict[str, Any], bytes]:
        hops = Hops(user_agent=AGENT)
        try:
            headers = {"X-Custom": "Some Value", "Authorization": "Bearer t"}
            return await _echo(hops, method, echo_url + target, headers=headers, body=body)
        finally:
            await hops.aclose()

    seen, echoed = run(main())
    headers = dict(seen["headers"])
    assert seen["method"] == method
    assert seen["path"] == "/a%2Fb/c%20d/%E2%9C%93"
    assert seen["query"] == "x=%2F&y=a+b&z=%20"
    assert headers["x-custom"] == "Some Value"
    assert headers["authorization"] == "Bearer t"
    assert headers["user-agent"] == AGENT
    assert headers["host"] == echo_url.removeprefix("http://")
    assert echoed == (body or b"")
    assert headers.get("content-length") == (str(len(body)) if body else None)


def test_post_without_body_says_length_zero_and_caller_host_and_agent_win(
    run: Run, echo_url: str
) -> None:
    async def main() -> dict[str, Any]:
        hops = Hops(user_agent=AGENT)
        headers = {"user-agent": "mine", "Host": "svc.example"}
        seen, _ = await _echo(hops, "POST", echo_url + "/", headers=headers)
        await hops.aclose()
        return seen

    seen = run(main())
    headers = seen["headers"]
    assert seen["method"] == "POST"
    assert ["content-length", "0"] in headers
    assert ["user-agent", "mine"] in headers
    assert ["host", "svc.example"] in headers
    assert [name for name, _ in headers].count("user-agent") == 1
    assert [name for name, _ in headers].count("host") == 1


def test_streamed_bodies_sized_and_chunked(run: Run, echo_url: str) -> None:
    pieces = (b"\x00\x01binary", b"", b"\xff" * 70_000, b"end")
    whole = b"".join(pieces)

    async def main() -> list[tuple[dict[str, Any], bytes]]:
        hops = Hops(user_agent=AGENT)
        sized = await _echo(
            hops,
            "PUT",
            echo_url + "/sized",
            headers={"Content-Length": str(len(whole))},
            body=_pieces(*pieces),
        )
        chunked = await _echo(hops, "POST", echo_url + "/chunked", body=_pieces(*pieces))
        await hops.aclose()
        return [sized, chunked]

    (sized, sized_body), (chunked, chunked_body) = run(main())
    assert sized_body == whole
    assert ["content-length", str(len(whole))] in sized["headers"]
    assert chunked_body == whole
    assert ["transfer-encoding", "chunked"] in chunked["headers"]


def test_keep_alive_reuses_one_connection_until_expiry_or_close(run: Run, echo_url: str) -> None:
    async def main() -> list[int]:
        hops = Hops(user_agent=AGENT, keepalive_expiry=0.3)
        peers = []
        for path, pause in (("/a", 0), ("/b", 0), ("/c", 0.5), ("/close", 0), ("/d", 0)):
            await asyncio.sleep(pause)
            seen, _ = await _echo(hops, "GET", echo_url + path)
            peers.append(seen["peer"])
        await hops.aclose()
        return peers

    a, b, c, close, d = run(main())
    assert a == b  # reused
    assert c != b  # expired while idle
    assert close == c
    assert d != close  # the server said connection: close


# --- against raw asyncio servers


@pytest.mark.parametrize(("max_idle", "connections"), [(1, 3), (2, 2)])
def test_idle_connections_beyond_the_limit_are_closed(
    run: Run, max_idle: int, connections: int
) -> None:
    async def keep_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(OK)

    counting = Counting(keep_answering)

    async def main() -> None:
        hops = Hops(user_agent=AGENT, max_idle_per_origin=max_idle)
        async with _serving(counting) as url:
            for _ in range(2):  # two at once, twice
                answers = await asyncio.gather(
                    *(hops.request("GET", url + "/", {}, timeout=2) for _ in range(2))
                )
                assert [await answer.read() for answer in answers] == [b"ok", b"ok"]
        await hops.aclose()

    run(main())
    assert counting.connections == connections


def test_chunked_response_arrives_piece_by_piece(run: Run) -> None:
    chunks = [b"one", b"two" * 1000, b"three"]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for chunk in chunks:
            writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
        await reader.read()

    async def main() -> list[bytes]:
        hops = Hops(user_agent=AGENT)
        async with _serving(handler) as url:
            answer = await hops.request("GET", url + "/", {}, timeout=2)
            got = [piece async for piece in answer.pieces()]
        await hops.aclose()
        return got

    assert run(main()) == chunks


def test_close_delimited_response_ends_at_eof(run: Run) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nhello ")
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.write(b"world")
        writer.close()

    async def main() -> bytes:
        hops = Hops(user_agent=AGENT)
        async with _serving(handler) as url:
            body = await (await hops.request("GET", url + "/", {}, timeout=2)).read()
        await hops.aclose()
        return body

    assert run(main()) == b"hello world"


def test_interim_100_continue_is_skipped(run: Run) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 100 Continue\r\nx-interim: yes\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\nx-final: yes\r\n\r\nok")
        await reader.read()

    async def main() -> tuple[int, list[tuple[str, str]], bytes]:
        hops = Hops(user_agent=AGENT)
        async with _serving(handler) as url:
            answer = await hops.request("POST", url + "/", {}, b"", timeout=2)
            body = await answer.read()
        await hops.aclose()
        return answer.status, answer.raw_headers, body

    assert run(main()) == (201, [("content-length", "2"), ("x-final", "yes")], b"ok")


def test_head_and_204_have_no_body_and_keep_the_connection(run: Run) -> None:
    counting = Counting(
        _answering(
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            OK,
        )
    )

    async def main() -> list[tuple[int, bytes]]:
        hops = Hops(user_agent=AGENT)
        got = []
        async with _serving(counting) as url:
            for method in ("HEAD", "DELETE", "GET"):
                answer = await hops.request(method, url + "/", {}, timeout=2)
                got.append((answer.status, await answer.read()))
        await hops.aclose()
        return got

    assert run(main()) == [(200, b""), (204, b""), (200, b"ok")]
    assert counting.connections == 1


def test_repeated_fields_folded_and_kept_raw(run: Run) -> None:
    response = (
        b"HTTP/1.1 200 OK\r\nVary: a\r\nSet-Cookie: x=1\r\nVary: b\r\n"
        b"Set-Cookie: y=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT\r\ncontent-length: 0\r\n\r\n"
    )

    async def main() -> tuple[dict[str, str], list[tuple[str, str]]]:
        hops = Hops(user_agent=AGENT)
        async with _serving(_answering(response)) as url:
            answer = await hops.request("GET", url + "/", {}, timeout=2)
            await answer.aclose()
        await hops.aclose()
        return answer.headers, answer.raw_headers

    headers, raw = run(main())
    assert headers["vary"] == "a, b"
    assert headers["set-cookie"].startswith("y=2")
    assert next(v for k, v in raw if k == "set-cookie") == "x=1"


def test_idle_connection_closed_by_server_is_replaced(run: Run) -> None:
    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        writer.close()  # keep-alive as far as the client knows

    counting = Counting(answer_once)

    async def main() -> list[bytes]:
        hops = Hops(user_agent=AGENT)
        async with _serving(counting) as url:
            first = await (await hops.request("GET", url + "/", {}, timeout=2)).read()
            await asyncio.sleep(0.05)
            second = await (await hops.request("GET", url + "/", {}, timeout=2)).read()
        await hops.aclose()
        return [first, second]

    assert run(main()) == [b"ok", b"ok"]
    assert counting.connections == 2


def test_reused_connection_closed_before_any_answer_byte_is_safe_to_retry(run: Run) -> None:
    async def close_at_second(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    async def main() -> ConnectionLost:
        hops = Hops(user_agent=AGENT)
        async with _serving(close_at_second) as url:
            await (await hops.request("GET", url + "/", {}, timeout=2)).read()
            with pytest.raises(ConnectionLost) as caught:
                await hops.request("GET", url + "/", {}, timeout=2)
        await hops.aclose()
        return caught.value

    assert run(main()).fresh_attempt_safe


@pytest.mark.parametrize(
    "sent",
    [b"", b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc", b"HTTP/1.1 2"],
    ids=["nothing", "part-of-body", "part-of-head"],
)
def test_connection_closed_mid_exchange_is_lost_and_not_safe(run: Run, sent: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(sent)
        writer.close()

    async def main() -> ConnectionLost:
        hops = Hops(user_agent=AGENT)
        async with _serving(handler) as url:
            with pytest.raises(ConnectionLost) as caught:
                await (await hops.request("GET", url + "/", {}, timeout=2)).read()
        await hops.aclose()
        return caught.value

    assert not run(main()).fresh_attempt_safe


def test_malformed_response_is_connection_lost(run: Run) -> None:
    async def main() -> str:
        hops = Hops(user_agent=AGENT)
        async with _serving(_answering(b"HTTP/1.1 200 OK\r\nbroken header\r\n\r\n")) as url:
            with pytest.raises(ConnectionLost, match="malformed") as caught:
                await hops.request("GET", url + "/", {}, timeout=2)
        await hops.aclose()
        return str(caught.value)

    assert run(main()).startswith("malformed response from http://127.0.0.1:")


def test_a_response_head_without_end_is_refused(run: Run) -> None:
    head = b"HTTP/1.1 200 OK\r\n" + (b"x-filler: " + b"y" * 1000 + b"\r\n") * 100

    async def main() -> str:
        hops = Hops(user_agent=AGENT)
        async with _serving(_answering(head + b"\r\n")) as url:
            with pytest.raises(ConnectionLost) as caught:
                await hops.request("GET", url + "/", {}, timeout=2)
        await hops.aclose()
        return str(caught.value)

    assert "response head over 65536 bytes" in run(main())


@pytest.mark.parametrize("stall", ["head", "body"])
def test_silent_server_times_out(run: Run, stall: str) -> None:
    sent = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n" if stall == "body" else b""

    async def main() -> float:
        hops = Hops(user_agent=AGENT)
        async with _serving(_answering(OK, sent)) as url:
            # First a generous timeout on the same connection: the shorter one still counts.
            await (await hops.request("GET", url + "/", {}, timeout=30)).read()
            started = time.monotonic()
            with pytest.raises(HopTimeout):
                await (await hops.request("GET", url + "/", {}, timeout=0.2)).read()
        await hops.aclose()
        return time.monotonic() - started

    # uvloop's timers have millisecond resolution and may ring a little early.
    assert 0.19 <= run(main()) < 1


def test_closed_port_is_connect_failed(run: Run) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> None:
        hops = Hops(user_agent=AGENT)
        with pytest.raises(ConnectFailed):
            await hops.request("GET", f"http://127.0.0.1:{port}/", {}, timeout=2)
        await hops.aclose()

    run(main())


def test_unread_body_is_not_pooled(run: Run) -> None:
    big = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%b" % (4 * MiB, b"x" * 4 * MiB)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(big if head.startswith(b"GET /big ") else OK)
            await writer.drain()

    counting = Counting(handler)

    async def main() -> bytes:
        hops = Hops(user_agent=AGENT)
        async with _serving(counting) as url:
            answer = await hops.request("GET", url + "/big", {}, timeout=2)
            async for _ in answer.pieces():
                break
            await answer.aclose()
            await answer.aclose()
            body = await (await hops.request("GET", url + "/", {}, timeout=2)).read()
        await hops.aclose()
        return body

    assert run(main()) == b"ok"
    assert counting.connections == 2


# --- what the caller gives


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"x-bad": "a\r\nInjected: 1"}, None),
        ({"x-bad\n": "a"}, None),
        ({"x-bad": "a\x00"}, None),
        ({"content-length": "3"}, b"four"),
        ({"content-length": "3"}, None),
        ({"transfer-encoding": "chunked"}, b"x"),
    ],
)
def test_bad_request_heads_are_refused_before_connecting(
    run: Run, headers: dict[str, str], body: bytes | None
) -> None:
    counting = Counting(_answering(OK))

    async def main() -> None:
        hops = Hops(user_agent=AGENT)
        async with _serving(counting) as url:
            with pytest.raises(ValueError):  # noqa: PT011 - which one matters less than when
                await hops.request("POST", url + "/", headers, body, timeout=2)
        await hops.aclose()

    run(main())
    assert counting.connections == 0


@pytest.mark.parametrize("pieces", [(b"12345",), (b"12345", b"678901")], ids=["short", "long"])
def test_streamed_body_not_matching_its_length_fails(run: Run, pieces: tuple[bytes, ...]) -> None:
    async def main() -> None:
        hops = Hops(user_agent=AGENT)
        async with _serving(_answering(OK)) as url:
            with pytest.raises(HopError, match="content-length"):
                await hops.request(
                    "PUT", url + "/", {"content-length": "10"}, _pieces(*pieces), timeout=2
                )
        await hops.aclose()

    run(main())


class Boom(Exception):
    pass


def test_caller_iterator_exception_propagates_unchanged(run: Run) -> None:
    boom = Boom("from the caller")

    async def failing() -> AsyncIterator[bytes]:
        yield b"first"
        raise boom

    async def main() -> bytes:
        hops = Hops(user_agent=AGENT)
        counting = Counting(_answering(OK))
        async with _serving(counting) as url:
            with pytest.raises(Boom) as caught:
                await hops.request("POST", url + "/", {}, failing(), timeout=2)
            assert caught.value is boom
            body = await (await hops.request("GET", url + "/", {}, timeout=2)).read()
        await hops.aclose()
        assert counting.connections == 2  # the half-sent one was not pooled
        return body

    assert run(main()) == b"ok"


# --- flow control


def _peak_during(run: Run, coro: Coroutine[Any, Any, T]) -> tuple[T, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = run(coro)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_large_request_body_streams_in_bounded_memory(run: Run) -> None:
    size, block = 64 * MiB, b"\x5a" * (64 * 1024)

    async def discard(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        left = size
        while left:
            left -= len(await reader.read(min(left, 256 * 1024)))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        await reader.read()

    async def blocks() -> AsyncIterator[bytes]:
        for _ in range(size // len(block)):
            yield block

    async def main() -> int:
        hops = Hops(user_agent=AGENT)
        async with _serving(discard) as url:
            answer = await hops.request(
                "POST", url + "/", {"content-length": str(size)}, blocks(), timeout=5
            )
            await answer.read()
        await hops.aclose()
        return answer.status

    status, peak = _peak_during(run, main())
    assert status == 200
    assert peak < 8 * MiB


def test_large_response_read_slowly_in_bounded_memory(run: Run) -> None:
    size, block = 64 * MiB, b"\xa5" * (64 * 1024)

    async def produce(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
        for _ in range(size // len(block)):
            writer.write(block)
            await writer.drain()
        await reader.read()

    async def main() -> tuple[int, int]:
        hops = Hops(user_agent=AGENT)
        total = largest = 0
        async with _serving(produce) as url:
            answer = await hops.request("GET", url + "/", {}, timeout=5)
            async for piece in answer.pieces():
                if not total:
                    await asyncio.sleep(0.3)  # time enough to buffer it all, were it let
                total += len(piece)
                largest = max(largest, len(piece))
        await hops.aclose()
        return total, largest

    (total, largest), peak = _peak_during(run, main())
    assert total == size
    assert largest <= MiB
    assert peak < 8 * MiB


# --- TLS


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_get(run: Run, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))

    async def main() -> tuple[int, bytes]:
        hops = Hops(user_agent=AGENT, ssl_context=client_context)
        async with _serving(_answering(OK), server_context) as url:
            answer = await hops.request("GET", url + "/", {}, timeout=5)
            body = await answer.read()
        await hops.aclose()
        return answer.status, body

    assert run(main()) == (200, b"ok")


def test_https_with_untrusted_certificate_is_connect_failed(run: Run, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)

    async def main() -> None:
        hops = Hops(user_agent=AGENT)
        async with _serving(_answering(OK), server_context) as url:
            with pytest.raises(ConnectFailed):
                await hops.request("GET", url + "/", {}, timeout=5)
        await hops.aclose()

    run(main())


def test_a_body_read_whole_stops_at_the_callers_limit(run: Run) -> None:
    """A chunked body has no length up front: reading it whole stops past the limit."""

    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for _ in range(10):
                writer.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
                await writer.drain()
            writer.write(b"0\r\n\r\n")

    async def scenario() -> tuple[bytes, str, bytes]:
        hops = Hops(user_agent=AGENT)
        async with _serving(chunked) as url:
            whole = await (await hops.request("GET", url + "/", {}, timeout=2)).read(10 * 1024)
            answer = await hops.request("GET", url + "/", {}, timeout=2)
            with pytest.raises(TooLarge) as refused:
                await answer.read(4000)
            # The dropped connection is not reused: the next request gets a fresh one.
            again = await (await hops.request("GET", url + "/", {}, timeout=2)).read()
        await hops.aclose()
        return whole, str(refused.value), again

    whole, refused, again = run(scenario())
    assert whole == b"x" * 10 * 1024
    assert refused == "the body is larger than 4000 bytes"
    assert again == whole
