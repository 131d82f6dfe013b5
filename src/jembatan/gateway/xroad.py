"""X-Road's REST message protocol (pr-rest) as the agencies' systems speak it: the
`/r1/` address, the `X-Road-*` headers and the error documents. Plain functions."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from jembatan.errors import InvalidInput
from jembatan.identifiers import SubsystemId, service_code

VERSION = "r1"
CLIENT = "x-road-client"
SERVICE = "x-road-service"
ID = "x-road-id"
USER_ID = "x-road-userid"
ISSUE = "x-road-issue"
REQUEST_ID = "x-road-request-id"
REQUEST_HASH = "x-road-request-hash"
ERROR = "x-road-error"

# Metadata services every provider answers for each of its subsystems.
LIST_METHODS = "listMethods"
ALLOWED_METHODS = "allowedMethods"
GET_OPENAPI = "getOpenAPI"
METADATA = frozenset({LIST_METHODS, ALLOWED_METHODS, GET_OPENAPI})

# Headers that describe one hop, not the message (RFC 9110 §7.6.1), and ours.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",
        # They would tell the other side about our side's software (pr-rest §4.3).
        "user-agent",
        "server",
    }
)
# The consumer's own credentials never leave its node; our signature headers are ours.
PRIVATE = frozenset({"authorization", "cookie", "signature", "signature-input", "content-digest"})


@functools.lru_cache(maxsize=4096)  # header names repeat from call to call
def passes(name: str) -> bool:
    """Whether an end-to-end header travels on to the other side."""
    lower = name.lower()
    return not (lower in HOP_BY_HOP or lower in PRIVATE or lower.startswith("jembatan-"))


# Answers carry these as the gateway sets them; a service's own values are dropped.
GATEWAY_SET = frozenset({CLIENT, SERVICE, ID, REQUEST_ID, REQUEST_HASH, ERROR})


@functools.lru_cache(maxsize=4096)
def passes_back(name: str) -> bool:
    """Whether a header of an answer travels on (the gateway's own are set afresh)."""
    return passes(name) and name.lower() not in GATEWAY_SET


@dataclass(frozen=True)
class ServiceId:
    subsystem: SubsystemId
    code: str

    def __str__(self) -> str:
        return f"{self.subsystem}/{self.code}"

    @property
    def provider(self) -> str:
        return str(self.subsystem.member)


class GatewayError(Exception):
    """A refusal by one of the two nodes, sent as X-Road sends its own errors: the type
    in `X-Road-Error`, a JSON body; 500 for Server.* types and 400 for Client.* ones."""

    def __init__(self, type_: str, message: str, detail: str = "", status: int | None = None):
        super().__init__(message)
        self.type = type_
        self.message = message
        self.detail = detail
        self.status = status or (500 if type_.startswith("Server.") else 400)

    def document(self) -> dict[str, str]:
        return {"type": self.type, "message": self.message, "detail": self.detail}

    def body(self) -> bytes:
        return json.dumps(self.document()).encode()

    @classmethod
    def parse(cls, type_: str, status: int, body: bytes) -> GatewayError:
        try:
            doc = json.loads(body)
            return cls(type_, str(doc.get("message", "")), str(doc.get("detail", "")), status)
        except (ValueError, AttributeError):
            return cls(type_, body[:500].decode(errors="replace"), "", status)


# Error types as X-Road names them (ErrorCodes of X-Road 7.x). Client.* errors are the
# caller's; Server.ClientProxy.* are the consumer's node's, Server.ServerProxy.* the
# provider's. Client.Unauthorized is ours: X-Road knows its clients by TLS certificate,
# a Jembatan node by API token.
INVALID_REQUEST = "Client.BadRequest"
CLIENT_NOT_ALLOWED = "Client.Unauthorized"
INVALID_CLIENT = "Server.ClientProxy.InvalidClientIdentifier"
INVALID_SERVICE = "Server.ClientProxy.InvalidRequest"
UNKNOWN_MEMBER = "Server.ClientProxy.UnknownMember"
NETWORK_ERROR = "Server.ClientProxy.NetworkError"
INCONSISTENT = "Server.ClientProxy.InconsistentResponse"
BODY_TOO_LARGE = "Server.ClientProxy.InvalidRequest.TooLarge"
SERVER_INVALID_REQUEST = "Server.ServerProxy.InvalidRequest"
SERVER_CLIENT = "Server.ServerProxy.InvalidClientIdentifier"
SERVER_SIGNATURE = "Server.ServerProxy.InvalidSignatureValue"
ACCESS_DENIED = "Server.ServerProxy.AccessDenied"
UNKNOWN_SERVICE = "Server.ServerProxy.UnknownService"
SERVICE_DISABLED = "Server.ServerProxy.ServiceDisabled"
SERVICE_FAILED = "Server.ServerProxy.ServiceFailed"
SERVICE_TIMEOUT = "Server.ServerProxy.IOError"


def _part(raw: str, what: str) -> str:
    text = unquote(raw, errors="strict")
    if not text:
        raise InvalidInput("the {what} part of the address is empty", what=what)
    return text


_SPLIT = re.compile(r"/")


def parse_target(raw_path: str) -> tuple[ServiceId, str]:
    """`/r1/INSTANCE/CLASS/MEMBER/SUBSYSTEM/CODE[/path]` → the service and the rest of the
    path, still percent-encoded as the client sent it (identifier parts are decoded)."""
    parts = _SPLIT.split(raw_path, maxsplit=7)
    if len(parts) < 7 or parts[0] != "" or parts[1] != VERSION:
        raise InvalidInput(
            "the address must be /r1/INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICECODE/path"
        )
    names = ("instance", "member class", "member code", "subsystem code", "service code")
    decoded = [_part(p, n) for p, n in zip(parts[2:7], names, strict=True)]
    subsystem = SubsystemId.parse("/".join(decoded[:4]))
    code = service_code(decoded[4])
    rest = "/" + parts[7] if len(parts) > 7 else ""
    return ServiceId(subsystem, code), rest


def quote_part(text: str) -> str:
    return quote(text, safe="")


def parse_client(header: str | None) -> SubsystemId:
    """The `X-Road-Client` header: INSTANCE/CLASS/MEMBER/SUBSYSTEM, percent-encoded parts."""
    if not header:
        raise InvalidInput("the X-Road-Client header is missing")
    parts = header.strip().split("/")
    if len(parts) != 4:
        raise InvalidInput(
            "X-Road-Client {value!r} must have the form INSTANCE/CLASS/MEMBER/SUBSYSTEM",
            value=header,
        )
    return SubsystemId.parse("/".join(unquote(p, errors="strict") for p in parts))


@functools.lru_cache(maxsize=1024)
def encode_subsystem(subsystem: SubsystemId) -> str:
    m = subsystem.member
    parts = (m.instance, m.member_class, m.code, subsystem.subsystem)
    return "/".join(quote_part(p) for p in parts)


def encode_service(service: ServiceId) -> str:
    return encode_subsystem(service.subsystem) + "/" + quote_part(service.code)
