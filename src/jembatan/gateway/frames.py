"""Bodies between the two nodes: streamed in length-prefixed frames and closed by a
trailer that carries the body's SHA-256, signed together with the message's header
signature. Neither node buffers or spools a body, and nothing reaches the other side
as complete before its trailer verifies (the last piece is held back until then)."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import AsyncIterator, Callable

FRAMING = "jb-frames/1"
TRAILER_CONTEXT = b"jembatan-gateway-body/1\n"
MAX_FRAME = 16 * 1024 * 1024
TRAILER = 32 + 64  # SHA-256 of the data, Ed25519 signature
_LENGTH = struct.Struct(">I")


class BodyRefused(Exception):
    """The framed body is malformed, too large, or its trailer does not verify."""


class BodyTooLarge(BodyRefused):
    pass


def trailer_message(header_signature: bytes, digest: bytes) -> bytes:
    return TRAILER_CONTEXT + header_signature + digest


class FrameWriter:
    """Frames a stream; `sign(digest)` returns the trailer's signature."""

    def __init__(self, sign: Callable[[bytes], bytes], limit: int | None = None) -> None:
        self.sign = sign
        self.limit = limit
        self.size = 0
        self.sha256 = ""
        self.sha512 = b""
        self._hash = hashlib.sha256()
        self._hash512 = hashlib.sha512()

    def whole(self, data: bytes) -> bytes:
        """A body known whole, framed at once: what `frames` yields, joined."""
        if self.limit is not None and len(data) > self.limit:
            raise BodyTooLarge(f"the body is larger than {self.limit} bytes")
        self.size = len(data)
        digest = hashlib.sha256(data).digest()
        self.sha256, self.sha512 = digest.hex(), hashlib.sha512(data).digest()
        framed = _LENGTH.pack(len(data)) + data if data else b""
        return framed + _LENGTH.pack(0) + digest + self.sign(digest)

    async def frames(self, source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in source:
            if not chunk:
                continue
            self.size += len(chunk)
            if self.limit is not None and self.size > self.limit:
                raise BodyTooLarge(f"the body is larger than {self.limit} bytes")
            self._hash.update(chunk)
            self._hash512.update(chunk)
            yield _LENGTH.pack(len(chunk))
            yield chunk
        digest = self._hash.digest()
        self.sha256 = digest.hex()
        self.sha512 = self._hash512.digest()
        yield _LENGTH.pack(0) + digest + self.sign(digest)


class FrameReader:
    """Unframes a stream; `check(digest, signature)` raises BodyRefused when the
    trailer's signature is wrong."""

    def __init__(
        self,
        source: AsyncIterator[bytes],
        check: Callable[[bytes, bytes], None],
        limit: int | None = None,
    ) -> None:
        self.source = source.__aiter__()
        self.check = check
        self.limit = limit
        self.size = 0
        self.sha256 = ""
        self.sha512 = b""
        self.complete = False
        self._buffer = bytearray()

    async def _need(self, count: int) -> None:
        while len(self._buffer) < count:
            try:
                chunk = await anext(self.source)
            except StopAsyncIteration:
                raise BodyRefused("the body ended before its trailer") from None
            self._buffer += chunk

    def _take(self, count: int) -> bytes:
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    async def data(self) -> AsyncIterator[bytes]:
        digest = hashlib.sha256()
        digest512 = hashlib.sha512()
        held: bytes | None = None
        while True:
            await self._need(4)
            (length,) = _LENGTH.unpack(self._take(4))
            if length == 0:
                break
            if length > MAX_FRAME:
                raise BodyRefused(f"a frame of {length} bytes is over the {MAX_FRAME} limit")
            await self._need(length)
            piece = self._take(length)
            self.size += length
            if self.limit is not None and self.size > self.limit:
                raise BodyTooLarge(f"the body is larger than {self.limit} bytes")
            digest.update(piece)
            digest512.update(piece)
            if held is not None:
                yield held
            held = piece
        await self._need(TRAILER)
        claimed, signature = self._take(32), self._take(64)
        async for extra in self.source:
            self._buffer += extra
        if self._buffer:
            raise BodyRefused("bytes follow the body's trailer")
        if claimed != digest.digest():
            raise BodyRefused("the body does not match the digest in its trailer")
        self.check(claimed, signature)
        self.sha256 = claimed.hex()
        self.sha512 = digest512.digest()
        self.complete = True
        if held is not None:
            yield held
