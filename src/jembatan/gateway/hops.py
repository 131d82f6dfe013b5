"""A lean HTTP/1.1 client for the gateway's two hops (node to node, node to service).

httpx costs about ten times the CPU per request of a bare asyncio exchange, and every
mediated call pays for two hops; this client is an asyncio protocol around llhttp (via
httptools) with a keep-alive pool, flow control both ways and nothing else.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import cast

import httptools

_PAUSE_AT = 512 * 1024  # body bytes held before we stop reading the socket
_RESUME_AT = 128 * 1024
_MAX_HEAD = 64 * 1024  # header bytes a response may carry
_COALESCE = 64 * 1024  # bodies up to this size go out in the same write as the head
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_WATCHED = frozenset({"host", "user-agent", "content-length", "transfer-encoding", "connection"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_CACHED_URL_PREFIXES = 1024


class HopError(Exception):
    """Transport failure; str() says what happened."""


class ConnectFailed(HopError):
    """Could not connect: refused, unresolvable, or the TLS handshake failed."""


class HopTimeout(HopError):
    """Connecting, sending or waiting for data took longer than allowed."""


class ConnectionLost(HopError):
    """The server closed or reset the connection, or sent a malformed response.

    fresh_attempt_safe: the connection was a reused keep-alive one and the server closed it
    before sending any byte of the response, so an idempotent request without a body may be
    retried once on a new connection (RFC 9110 §9.2.2).
    """

    def __init__(self, message: str, *, fresh_attempt_safe: bool = False) -> None:
        super().__init__(message)
        self.fresh_attempt_safe = fresh_attempt_safe


class TooLarge(HopError):
    """A body read whole is larger than the caller allows."""


class _Surplus(Exception):
    """Raised from a parser callback to stop llhttp: at bytes after the response's end, or
    at a head too large."""


class _Origin:
    """Where connections go, and the idle ones kept for it (most recently used last)."""

    __slots__ = ("host", "host_line", "idle", "name", "port", "tls")

    def __init__(self, scheme: str, host: str, port: int, authority: str) -> None:
        self.host = host
        self.port = port
        self.tls = scheme == "https"
        self.name = f"{scheme}://{authority}"
        self.host_line = f"Host: {authority}\r\n"
        self.idle: list[_Conn] = []


def _wake(waiter: asyncio.Future[bool] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(True)


class _Conn(asyncio.Protocol):
    """One connection: socket and llhttp callbacks, and the state of the exchange on it."""

    __slots__ = (
        "alarm",
        "alarm_at",
        "body",
        "buffered",
        "busy",
        "complete",
        "dead",
        "deadline",
        "error",
        "head_bytes",
        "head_done",
        "head_only",
        "idle_since",
        "keep_alive",
        "loop",
        "origin",
        "parser",
        "raw",
        "reading_paused",
        "received",
        "reused",
        "status",
        "transport",
        "waiter",
        "writing_paused",
    )
    transport: asyncio.Transport

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: _Origin) -> None:
        self.loop = loop
        self.origin = origin
        self.parser: httptools.HttpResponseParser | None = None
        self.busy = False  # an exchange is under way
        self.dead = False  # closed, closing, or got bytes nobody asked for
        self.reused = False
        self.received = False  # any byte of this exchange's response arrived
        self.head_only = False
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.status = 0
        self.raw: list[tuple[str, str]] = []
        self.head_bytes = 0
        self.body: deque[bytes] = deque()
        self.buffered = 0
        self.error: HopError | None = None
        self.reading_paused = False
        self.writing_paused = False
        # One task drives an exchange, so it waits for one thing at a time; whatever
        # happens wakes it, and it checks whether that was what it waited for.
        self.waiter: asyncio.Future[bool] | None = None
        self.deadline = 0.0  # of the wait under way
        # A timer per wait costs more than the rest of a small exchange's bookkeeping, so
        # one alarm outlives waits: on ringing it expires the current one or is set again.
        self.alarm: asyncio.TimerHandle | None = None
        self.alarm_at = math.inf
        self.idle_since = 0.0

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self.busy or self.complete:
            self.abort()  # bytes nobody asked for: the socket cannot be trusted again
            return
        self.received = True
        try:
            cast(httptools.HttpResponseParser, self.parser).feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if not self.complete and self.error is None:  # else surplus or a head too large
                self.error = ConnectionLost(f"malformed response from {self.origin.name}: {exc}")
            self.abort()
        _wake(self.waiter)

    def eof_received(self) -> bool:
        self._peer_gone("closed the connection")
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._peer_gone(f"reset the connection ({exc})" if exc else "closed the connection")
        _wake(self.waiter)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        _wake(self.waiter)

    # llhttp callbacks

    def on_message_begin(self) -> None:
        if self.complete:
            raise _Surplus

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value)
        if self.head_bytes > _MAX_HEAD:  # a head without end would fill the memory
            self.error = ConnectionLost(
                f"{self.origin.name} sent a response head over {_MAX_HEAD} bytes"
            )
            raise _Surplus
        self.raw.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        parser = cast(httptools.HttpResponseParser, self.parser)
        status = parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # interim (100 Continue): the final one follows
            self.raw.clear()
            return
        self.status = status
        self.head_done = True
        if self.head_only:  # llhttp cannot know a HEAD response has no body; a new parser will
            self._end()
            self.parser = None

    def on_body(self, body: bytes) -> None:
        if self.complete:
            raise _Surplus
        self.body.append(body)
        self.buffered += len(body)
        if self.buffered >= _PAUSE_AT and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self.head_done:  # not an interim response's end
            self._end()

    # the exchange

    def begin(self, head_only: bool, keep_alive: bool) -> None:
        self.busy = True
        self.head_only = head_only
        self.keep_alive = keep_alive  # llhttp's verdict joins ours at the response's end
        self.received = self.head_done = self.complete = False
        self.status = 0
        self.raw = []
        self.head_bytes = 0
        if self.parser is None:
            self.parser = httptools.HttpResponseParser(self)

    def write(self, data: bytes) -> None:
        if self.dead:
            raise self._broken()
        self.transport.write(data)

    async def drain(self, timeout: float) -> None:
        if self.writing_paused and not self.dead:
            deadline = self.loop.time() + timeout
            while self.writing_paused and not self.dead:
                await self._wait(deadline, "sending the request")
        if self.dead:
            raise self._broken()

    async def head(self, timeout: float) -> None:
        deadline = self.loop.time() + timeout
        while self.error is None and not self.head_done:
            await self._wait(deadline, "the response head")
        if self.error is not None:
            raise self.error

    async def next_piece(self, timeout: float) -> bytes | None:
        """The next piece of the body, or None at its end."""
        deadline = 0.0
        while not self.body:
            if self.error is not None:
                raise self.error
            if self.complete:
                return None
            deadline = deadline or self.loop.time() + timeout
            await self._wait(deadline, "the response body")
        piece = self.body.popleft()
        self.buffered -= len(piece)
        if self.reading_paused and self.buffered <= _RESUME_AT:
            self.reading_paused = False
            self.transport.resume_reading()
        return piece

    def take_body(self) -> bytes:
        """The whole body, once the response is complete."""
        body = b"".join(self.body)
        self.body.clear()
        self.buffered = 0
        if self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()
        return body

    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.dead and not self.body

    def rest(self) -> None:
        self.busy = False
        self.reused = True
        self.idle_since = self.loop.time()

    def close(self) -> None:
        self.dead = True
        self._disarm()
        self.transport.close()

    def abort(self) -> None:
        self.dead = True
        self._disarm()
        self.transport.abort()

    def _end(self) -> None:
        self.complete = True
        self.keep_alive = (
            self.keep_alive and cast(httptools.HttpResponseParser, self.parser).should_keep_alive()
        )

    def _peer_gone(self, what: str) -> None:
        self.dead = True
        if not self.busy or self.complete or self.error is not None:
            return
        if self.head_done and self._delimited_by_close():
            self.keep_alive = False
            self.complete = True
        else:
            when = "mid-response" if self.received else "before responding"
            self.error = ConnectionLost(
                f"{self.origin.name} {what} {when}",
                fresh_attempt_safe=self.reused and not self.received,
            )
        _wake(self.waiter)

    def _delimited_by_close(self) -> bool:
        return all(name not in ("content-length", "transfer-encoding") for name, _ in self.raw)

    def _broken(self) -> HopError:
        return self.error or ConnectionLost(
            f"{self.origin.name} closed the connection before the request was sent"
        )

    async def _wait(self, deadline: float, what: str) -> None:
        self.waiter = waiter = self.loop.create_future()
        self.deadline = deadline
        if self.alarm_at > deadline:
            self._arm(deadline)
        try:
            woken = await waiter
        finally:
            self.waiter = None
        if not woken:
            raise HopTimeout(f"{self.origin.name}: timed out waiting for {what}")

    def _arm(self, when: float) -> None:
        if self.alarm is not None:
            self.alarm.cancel()
        self.alarm = self.loop.call_at(when, self._ring)
        self.alarm_at = when

    def _ring(self) -> None:
        self.alarm, self.alarm_at = None, math.inf
        if self.waiter is None:
            return
        if self.loop.time() >= self.deadline:
            if not self.waiter.done():
                self.waiter.set_result(False)
        else:
            self._arm(self.deadline)

    def _disarm(self) -> None:
        if self.alarm is not None:
            self.alarm.cancel()
            self.alarm, self.alarm_at = None, math.inf


class Answer:
    """A response: status and head at once, the body as the caller reads it."""

    __slots__ = ("_conn", "_hops", "_rest", "_timeout", "headers", "raw_headers", "status")

    def __init__(self, hops: Hops, conn: _Conn, timeout: float) -> None:
        self.status = conn.status
        self.raw_headers = conn.raw  # lower-case names, in order, repeats kept
        self.headers = _fold(conn.raw)
        self._hops = hops
        self._timeout = timeout
        self._conn: _Conn | None = conn
        self._rest = b""
        if conn.complete:  # the whole response is here already: free the connection now
            self._rest = conn.take_body()
            self._release()

    async def pieces(self) -> AsyncIterator[bytes]:
        """The body as it arrives; the connection is pooled again at its end."""
        try:
            while (piece := await self._next()) is not None:
                yield piece
        finally:
            self._drop()  # a no-op unless the caller stopped early

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body; TooLarge past `limit` bytes (the connection is then dropped)."""
        if self._conn is None:  # the usual small answer, complete on arrival
            rest, self._rest = self._rest, b""
            parts = [rest]
        else:
            parts, size = [], 0
            while (piece := await self._next()) is not None:
                parts.append(piece)
                size += len(piece)
                if limit is not None and size > limit:
                    break
        body = b"".join(parts)
        if limit is not None and len(body) > limit:
            self._drop()
            raise TooLarge(f"the body is larger than {limit} bytes")
        return body

    async def aclose(self) -> None:
        self._drop()

    async def _next(self) -> bytes | None:
        conn = self._conn
        if conn is None:
            rest, self._rest = self._rest, b""
            return rest or None
        try:
            piece = await conn.next_piece(self._timeout)
        except BaseException:
            self._drop()
            raise
        if piece is None:
            self._release()
        return piece

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.abort()  # the rest of the body may still be on its way
            self._conn = None
        self._rest = b""

    def _release(self) -> None:
        conn = cast(_Conn, self._conn)
        self._conn = None
        self._hops._release(conn)


def _fold(raw: list[tuple[str, str]]) -> dict[str, str]:
    """Repeated fields joined with ", ", except set-cookie (the last; all are in raw_headers)."""
    headers: dict[str, str] = {}
    for name, value in raw:
        if name in headers and name != "set-cookie":
            headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
    return headers


class Hops:
    """HTTP/1.1 requests over pooled keep-alive connections, one pool per origin."""

    def __init__(
        self,
        *,
        user_agent: str,
        max_idle_per_origin: int = 64,
        keepalive_expiry: float = 2.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._agent_line = f"User-Agent: {user_agent}\r\n"
        if any(c in user_agent for c in "\r\n\0"):
            raise ValueError("user_agent contains CR, LF or NUL")
        self._max_idle = max_idle_per_origin
        self._expiry = keepalive_expiry
        self._ssl_context = ssl_context
        self._closed = False
        self._by_prefix: dict[str, _Origin] = {}  # "scheme://authority" as callers write it
        self._origins: dict[tuple[str, str, int], _Origin] = {}

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | AsyncIterator[bytes] | None = None,
        *,
        timeout: float,
        connect_timeout: float = 10.0,
    ) -> Answer:
        origin, target = self._route(url)
        head, length, close = _request_head(method, target, origin, headers, body, self._agent_line)
        conn = self._idle(origin) or await self._connect(origin, connect_timeout)
        conn.begin(method == "HEAD", not close)
        try:
            await _send(conn, head, body, length, timeout)
            await conn.head(timeout)
        except BaseException:
            conn.abort()
            raise
        return Answer(self, conn, timeout)

    async def aclose(self) -> None:
        self._closed = True
        for origin in self._origins.values():
            for conn in origin.idle:
                conn.close()
            origin.idle.clear()

    def _release(self, conn: _Conn) -> None:
        idle = conn.origin.idle
        if self._closed or not conn.reusable() or len(idle) >= self._max_idle:
            conn.close()
            return
        conn.rest()
        idle.append(conn)

    def _idle(self, origin: _Origin) -> _Conn | None:
        idle = origin.idle
        now = asyncio.get_running_loop().time()
        while idle:
            conn = idle.pop()
            if now - conn.idle_since > self._expiry:  # and so are all older ones below it
                for stale in (conn, *idle):
                    stale.close()
                idle.clear()
            elif conn.dead:
                conn.close()
            else:
                return conn
        return None

    async def _connect(self, origin: _Origin, timeout: float) -> _Conn:
        loop = asyncio.get_running_loop()
        context = self._tls_context() if origin.tls else None
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: _Conn(loop, origin),
                    origin.host,
                    origin.port,
                    ssl=context,
                    server_hostname=origin.host if context else None,
                )
        except TimeoutError:
            raise HopTimeout(f"connecting to {origin.name} took over {timeout:g} s") from None
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {origin.name}: {exc}") from exc
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _route(self, url: str) -> tuple[_Origin, str]:
        """The origin and the request target, the latter exactly as the caller wrote it."""
        start = url.find("://") + 3
        if start < 3:
            raise ValueError(f"not an absolute URL: {url!r}")
        end = len(url)
        for mark in "/?#":
            at = url.find(mark, start)
            if 0 <= at < end:
                end = at
        prefix = url[:end]
        origin = self._by_prefix.get(prefix) or self._learn(prefix, start)
        target = url[end:].partition("#")[0]
        if not target.startswith("/"):
            target = "/" + target
        if " " in target or not target.isascii():
            raise ValueError(f"URL path or query has spaces or non-ASCII characters: {url!r}")
        return origin, target

    def _learn(self, prefix: str, start: int) -> _Origin:
        scheme, host, port, authority = _split_origin(prefix, start)
        origin = self._origins.get((scheme, host, port))
        if origin is None:
            origin = self._origins[scheme, host, port] = _Origin(scheme, host, port, authority)
        if len(self._by_prefix) >= _MAX_CACHED_URL_PREFIXES:
            self._by_prefix.clear()
        self._by_prefix[prefix] = origin
        return origin


def _split_origin(prefix: str, start: int) -> tuple[str, str, int, str]:
    """Scheme, host, port and Host header value of "scheme://authority"."""
    scheme = prefix[: start - 3].lower()
    default = _DEFAULT_PORTS.get(scheme)
    authority = prefix[start:].lower()
    if default is None or not authority or "@" in authority:
        raise ValueError(f"unsupported URL: {prefix!r}")
    if authority.startswith("["):  # IPv6 literal
        bracketed, _, port_text = authority.partition("]")
        host = bracketed[1:]
        port_text = port_text.removeprefix(":")
    else:
        host, _, port_text = authority.partition(":")
    if port_text and not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"bad port in {prefix!r}")
    port = int(port_text) if port_text else default
    if not 0 < port < 65536 or not host:
        raise ValueError(f"bad host or port in {prefix!r}")
    shown = f"[{host}]" if ":" in host else host
    return scheme, host, port, shown if port == default else f"{shown}:{port}"


def _request_head(
    method: str,
    target: str,
    origin: _Origin,
    headers: Mapping[str, str],
    body: bytes | AsyncIterator[bytes] | None,
    agent_line: str,
) -> tuple[bytes, int | None, bool]:
    """The request head as one bytes object, the caller's content-length, and whether the
    caller asked to close the connection."""
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    length: int | None = None
    close = own_host = own_agent = False
    for name, value in headers.items():
        lines.append(f"{name}: {value}\r\n")
        key = name.lower()
        if key not in _WATCHED:
            continue
        if key == "content-length":
            length = _content_length(value)
        elif key == "transfer-encoding":
            raise ValueError("transfer-encoding is set here: pass the body as an async iterator")
        elif key == "connection":
            close = "close" in value.lower()
        elif key == "host":
            own_host = True  # the caller's Host wins
        else:
            own_agent = True
    if not own_host:
        lines.insert(1, origin.host_line)
    if not own_agent:
        lines.append(agent_line)
    framing = _framing(method, body, length)
    if framing:
        lines.append(framing)
    lines.append("\r\n")
    text = "".join(lines)
    # Every element is one line, so any CR or LF beyond that count came from the caller.
    if text.count("\r") != len(lines) or text.count("\n") != len(lines) or "\0" in text:
        raise _bad_head(headers)
    if lines[0].count(" ") != 2:
        raise ValueError(f"bad method {method!r}")
    return text.encode("latin-1"), length, close


def _content_length(value: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise ValueError(f"bad content-length {value!r}")
    return int(value)


def _framing(method: str, body: bytes | AsyncIterator[bytes] | None, length: int | None) -> str:
    """The framing header we add, if any; ValueError if the caller's contradicts the body."""
    if body is None:
        if length:
            raise ValueError(f"content-length {length} but no body")
        return "Content-Length: 0\r\n" if length is None and method in _BODY_METHODS else ""
    if isinstance(body, bytes):
        if length is None:
            return f"Content-Length: {len(body)}\r\n"
        if length != len(body):
            raise ValueError(f"content-length {length} but the body has {len(body)} bytes")
        return ""
    return "" if length is not None else "Transfer-Encoding: chunked\r\n"


def _bad_head(headers: Mapping[str, str]) -> ValueError:
    for name, value in headers.items():
        if any(c in name or c in value for c in "\r\n\0"):
            return ValueError(f"header {name!r} contains CR, LF or NUL")
    return ValueError("the method contains CR, LF or NUL")


async def _send(
    conn: _Conn,
    head: bytes,
    body: bytes | AsyncIterator[bytes] | None,
    length: int | None,
    timeout: float,
) -> None:
    if body is None:
        conn.write(head)
    elif isinstance(body, bytes):
        if len(body) <= _COALESCE:
            conn.write(head + body)
        else:  # not worth copying
            conn.write(head)
            conn.write(body)
    else:
        conn.write(head)
        if length is None:
            await _send_chunked(conn, body, timeout)
        else:
            await _send_sized(conn, body, length, timeout)
    await conn.drain(timeout)


async def _send_sized(
    conn: _Conn, pieces: AsyncIterator[bytes], length: int, timeout: float
) -> None:
    left = length
    async for piece in pieces:
        left -= len(piece)
        if left < 0:
            raise HopError(f"request body longer than its content-length {length}")
        conn.write(piece)
        await conn.drain(timeout)
    if left:
        raise HopError(f"request body {length - left} bytes, its content-length says {length}")


async def _send_chunked(conn: _Conn, pieces: AsyncIterator[bytes], timeout: float) -> None:
    async for piece in pieces:
        if piece:  # an empty chunk would end the body
            conn.write(b"%x\r\n%b\r\n" % (len(piece), piece))
            await conn.drain(timeout)
    conn.write(b"0\r\n\r\n")
