"""Bodies between the two nodes. A stream goes in length-prefixed frames closed by a
trailer that carries the body's SHA-256, signed together with the message's header
signature: neither node buffers or spools it, and nothing reaches the other side as
complete before its trailer verifies (the last piece is held back until then). A body
known whole when the message is signed goes as it is, its digest in the signed headers."""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import AsyncIterator, Callable

FRAMING = "jb-frames/1"
# A body known whole when the message is signed goes unframed instead, authenticated by a
# signed Content-Digest (RFC 9530): one signature per message, not two.
WHOLE = "whole"
WHOLE_LIMIT = 1024 * 1024  # the largest whole body a receiver takes
TRAILER_CONTEXT = b"jembatan-gateway-body/1\n"
MAX_FRAME = 16 * 1024 * 1024
TRAILER = 32 + 64  # SHA-256 of the data, Ed25519 signature
_LENGTH = struct.Struct(">I")


class BodyRefused(Exception):
    """The framed body is malformed, too large, or its trailer does not verify."""


class BodyTooLarge(BodyRefused):
    pass


def most_framed(length: int) -> int:
    """The most bytes a body of `length` bytes can take framed (a byte per frame)."""
    return 5 * length + 4 + TRAILER


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

    def plain(self, data: bytes) -> bytes:
        """A body sent whole (framing WHOLE): only its digests are taken."""
        if self.limit is not None and len(data) > self.limit:
            raise BodyTooLarge(f"the body is larger than {self.limit} bytes")
        self.size = len(data)
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.sha512 = hashlib.sha512(data).digest()
        return data

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
    """Unframes a body; `check(digest, signature)` raises BodyRefused when the trailer's
    signature is wrong. `feed` and `finish` do the work on bytes as they arrive; `data`
    streams a source through them, `whole` takes a body that arrived in one piece."""

    def __init__(self, check: Callable[[bytes, bytes], None], limit: int | None = None) -> None:
        self.check = check
        self.limit = limit
        self.size = 0
        self.sha256 = ""
        self.sha512 = b""
        self.complete = False
        self._buffer = bytearray()
        self._digest = hashlib.sha256()
        self._digest512 = hashlib.sha512()
        self._trailer: tuple[bytes, bytes] | None = None

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of the frames that the bytes so far complete."""
        buffer = self._buffer
        buffer += chunk
        if self._trailer is not None:
            if buffer:
                raise BodyRefused("bytes follow the body's trailer")
            return []
        pieces = []
        while len(buffer) >= 4:
            (length,) = _LENGTH.unpack_from(buffer)
            if length == 0:
                if len(buffer) < 4 + TRAILER:
                    break
                self._trailer = bytes(buffer[4:36]), bytes(buffer[36 : 4 + TRAILER])
                if len(buffer) > 4 + TRAILER:
                    raise BodyRefused("bytes follow the body's trailer")
                buffer.clear()
                break
            if length > MAX_FRAME:
                raise BodyRefused(f"a frame of {length} bytes is over the {MAX_FRAME} limit")
            if len(buffer) < 4 + length:
                break
            piece = bytes(buffer[4 : 4 + length])
            del buffer[: 4 + length]
            self.size += length
            if self.limit is not None and self.size > self.limit:
                raise BodyTooLarge(f"the body is larger than {self.limit} bytes")
            self._digest.update(piece)
            self._digest512.update(piece)
            pieces.append(piece)
        return pieces

    def finish(self) -> None:
        """The body ended: its trailer must be there and verify."""
        if self._trailer is None:
            raise BodyRefused("the body ended before its trailer")
        claimed, signature = self._trailer
        if claimed != self._digest.digest():
            raise BodyRefused("the body does not match the digest in its trailer")
        self.check(claimed, signature)
        self.sha256 = claimed.hex()
        self.sha512 = self._digest512.digest()
        self.complete = True

    def whole(self, body: bytes) -> bytes:
        pieces = self.feed(body)
        self.finish()
        return b"".join(pieces)

    def plain(self, body: bytes, claimed: bytes) -> bytes:
        """A body sent whole (framing WHOLE); `claimed` is the SHA-256 that the message's
        signed Content-Digest gives."""
        if self.limit is not None and len(body) > self.limit:
            raise BodyTooLarge(f"the body is larger than {self.limit} bytes")
        digest = hashlib.sha256(body).digest()
        if not hmac.compare_digest(digest, claimed):
            raise BodyRefused("the body does not match its Content-Digest")
        self.size = len(body)
        self.sha256, self.sha512 = digest.hex(), hashlib.sha512(body).digest()
        self.complete = True
        return body

    async def data(self, source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The body's data as it arrives, its last piece held back until the trailer
        verifies."""
        held: bytes | None = None
        async for chunk in source:
            for piece in self.feed(chunk):
                if held is not None:
                    yield held
                held = piece
        self.finish()
        if held is not None:
            yield held
