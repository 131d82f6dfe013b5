"""The services this node provides: registering, describing, enabling endpoints,
granting and revoking access, deciding a call, and keeping the call log with its
ledger entries. Transactions live here."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, delete, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jembatan.agreements import rules as agreement_rules
from jembatan.agreements.terms import Terms, refusal
from jembatan.errors import Conflict, InvalidInput, JembatanError, NotFound, Unavailable
from jembatan.gateway import endpoints as patterns
from jembatan.gateway import xroad
from jembatan.gateway.models import AccessRight, Call, Endpoint, Service
from jembatan.identifiers import SubsystemId, service_code
from jembatan.ledger.entries import Event, record_many
from jembatan.logs import get_logger
from jembatan.node.context import Node
from jembatan.registry.membership import federation, own_anchor
from jembatan.registry.models import SeenNonce
from jembatan.registry.peers import send_json
from jembatan.store.driver import Writes, insert_new
from jembatan.store.schema import utcnow

log = get_logger("jembatan.gateway")
SERVICE_CALLED = "service.called"  # our client's call came back through our node
SERVICE_SERVED = "service.served"  # another member's call to our service was answered
ANY_SERVICE_KIND = "service"
AGREEMENT_PREFIX = "agreement:"


def service_kind(subsystem: str, code: str) -> str:
    """The flow kind that names one service in an agreement."""
    return f"service:{subsystem}/{code}"


# Registering and describing ---------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def _invalidates(func: F) -> F:
    """After a change, calls read the service's settings afresh (see find_for_call)."""

    @functools.wraps(func)
    def wrapper(node: Node, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(node, *args, **kwargs)
        finally:
            node.extras.pop("gateway_views", None)

    return wrapper  # type: ignore[return-value]


def own_subsystems(node: Node) -> tuple[str, ...]:
    member = federation(node).member(node.member_id)
    return tuple(member.subsystems) if member is not None else ()


def _openapi_endpoints(text: str) -> list[tuple[str, str]]:
    try:
        doc = json.loads(text)
        version = str(doc["openapi"])
        paths = doc["paths"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("the OpenAPI description must be OpenAPI 3 JSON with paths") from None
    if not version.startswith("3."):
        raise InvalidInput("the OpenAPI description is version {v}; 3.x is needed", v=version)
    found = []
    for path, item in paths.items():
        for method in item:
            if method.upper() in patterns.METHODS:
                found.append((method.upper(), patterns.check_path(path)))
    return found


@_invalidates
def add_service(
    node: Node,
    subsystem: str,
    code: str,
    base_url: str,
    *,
    title: str = "",
    openapi: str | None = None,
    endpoints: list[tuple[str, str]] | None = None,
    timeout_seconds: int = 60,
) -> Service:
    """Register one of our subsystem's REST services. Without endpoints, those of the
    OpenAPI description; without either, one endpoint for every method and path."""
    code = service_code(code)
    if subsystem not in own_subsystems(node):
        raise InvalidInput(
            "subsystem {sub!r} of {member} is not in the directory; the registry adds it "
            "with `jembatan registry add-subsystem {member}/{sub}`",
            sub=subsystem,
            member=node.member_id,
        )
    if code in xroad.METADATA:
        raise InvalidInput("service code {code!r} is reserved for metadata", code=code)
    if not base_url.startswith(("http://", "https://")):
        raise InvalidInput("the service's base URL must start with http:// or https://")
    if not 1 <= timeout_seconds <= 3600:
        raise InvalidInput("the timeout must be 1 to 3600 seconds")
    wanted = endpoints if endpoints else (_openapi_endpoints(openapi) if openapi else [])
    if openapi and endpoints:
        _openapi_endpoints(openapi)  # still checked
    checked = sorted(
        {(patterns.check_method(m), patterns.check_path(p)) for m, p in wanted}
        or {(patterns.ANY_METHOD, patterns.ANY_PATH)}
    )
    try:
        with node.transaction() as s:
            service = Service(
                subsystem=subsystem,
                code=code,
                title=title.strip()[:200],
                base_url=base_url.rstrip("/"),
                openapi=openapi,
                timeout_seconds=timeout_seconds,
            )
            s.add(service)
            s.flush()
            for method, path in checked:
                s.add(Endpoint(service_id=service.id, method=method, path=path))
    except IntegrityError:
        raise Conflict(
            "service {sub}/{code} is already registered", sub=subsystem, code=code
        ) from None
    return service


@dataclass
class ServiceView:
    service: Service
    endpoints: list[Endpoint] = field(default_factory=list)
    rights: list[AccessRight] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.service.subsystem}/{self.service.code}"

    @property
    def by_agreement(self) -> bool:
        """Whether a right names an agreement instead of a subsystem."""
        return any(r.client.startswith(AGREEMENT_PREFIX) for r in self.rights)

    def patterns(self) -> list[patterns.Pattern]:
        return [patterns.Pattern(e.id, e.method, e.path, e.enabled) for e in self.endpoints]

    def endpoint(self, endpoint_id: int | None) -> Endpoint | None:
        return next((e for e in self.endpoints if e.id == endpoint_id), None)


def _ref(name: str) -> tuple[str, str]:
    parts = name.split("/")
    if len(parts) != 2 or not all(parts):
        raise InvalidInput("name a service as SUBSYSTEM/CODE, e.g. immunization/lookup")
    return parts[0], parts[1]


def _load(s: Session, service: Service) -> ServiceView:
    eps = list(
        s.scalars(
            select(Endpoint)
            .where(Endpoint.service_id == service.id)
            .order_by(Endpoint.path, Endpoint.method)
        )
    )
    rights = list(
        s.scalars(
            select(AccessRight)
            .where(AccessRight.service_id == service.id)
            .order_by(AccessRight.client, AccessRight.id)
        )
    )
    s.expunge_all()
    return ServiceView(service, eps, rights)


def find(node: Node, subsystem: str, code: str) -> ServiceView | None:
    with node.db() as s:
        row = s.scalar(select(Service).where(Service.subsystem == subsystem, Service.code == code))
        return _load(s, row) if row is not None else None


# How long a call may go by a service's settings as read, when another process (a CLI
# command) changed them; this process's own changes apply at once.
VIEW_SECONDS = 1.0


def find_for_call(node: Node, subsystem: str, code: str) -> ServiceView | None:
    """`find`, remembered for VIEW_SECONDS: every call needs the service, its endpoints and
    its access rights."""
    now = time.monotonic()
    views = node.extras.setdefault("gateway_views", {})
    assert isinstance(views, dict)
    found = views.get((subsystem, code))
    if found is not None and now - found[0] < VIEW_SECONDS:
        view: ServiceView | None = found[1]
        return view
    view = find(node, subsystem, code)
    views[(subsystem, code)] = (now, view)
    return view


def get(node: Node, name: str) -> ServiceView:
    view = find(node, *_ref(name))
    if view is None:
        raise NotFound("no service {name} on this node", name=name)
    return view


def list_services(node: Node, subsystem: str | None = None) -> list[ServiceView]:
    with node.db() as s:
        query = select(Service).order_by(Service.subsystem, Service.code)
        if subsystem is not None:
            query = query.where(Service.subsystem == subsystem)
        return [_load(s, row) for row in list(s.scalars(query))]


@_invalidates
def change_service(
    node: Node,
    name: str,
    *,
    enabled: bool | None = None,
    base_url: str | None = None,
    title: str | None = None,
    openapi: str | None = None,
    timeout_seconds: int | None = None,
) -> ServiceView:
    subsystem, code = _ref(name)
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise InvalidInput("the service's base URL must start with http:// or https://")
    if openapi:
        _openapi_endpoints(openapi)
    if timeout_seconds is not None and not 1 <= timeout_seconds <= 3600:
        raise InvalidInput("the timeout must be 1 to 3600 seconds")
    with node.transaction() as s:
        row = _service_row(s, subsystem, code)
        if enabled is not None:
            row.enabled = enabled
        if base_url is not None:
            row.base_url = base_url.rstrip("/")
        if title is not None:
            row.title = title.strip()[:200]
        if openapi is not None:
            row.openapi = openapi or None
        if timeout_seconds is not None:
            row.timeout_seconds = timeout_seconds
    return get(node, name)


def _service_row(s: Session, subsystem: str, code: str) -> Service:
    row = s.scalar(select(Service).where(Service.subsystem == subsystem, Service.code == code))
    if row is None:
        raise NotFound("no service {name} on this node", name=f"{subsystem}/{code}")
    return row


@_invalidates
def remove_service(node: Node, name: str) -> None:
    with node.transaction() as s:
        row = _service_row(s, *_ref(name))
        s.execute(delete(AccessRight).where(AccessRight.service_id == row.id))
        s.execute(delete(Endpoint).where(Endpoint.service_id == row.id))
        s.delete(row)


@_invalidates
def set_endpoint(node: Node, name: str, method: str, path: str, enabled: bool) -> ServiceView:
    """Add an endpoint, or enable or disable one that exists."""
    method, path = patterns.check_method(method), patterns.check_path(path)
    with node.transaction() as s:
        row = _service_row(s, *_ref(name))
        found = s.scalar(
            select(Endpoint).where(
                Endpoint.service_id == row.id, Endpoint.method == method, Endpoint.path == path
            )
        )
        if found is None:
            s.add(Endpoint(service_id=row.id, method=method, path=path, enabled=enabled))
        else:
            found.enabled = enabled
    return get(node, name)


def _client(text: str) -> str:
    text = text.strip()
    if text.startswith(AGREEMENT_PREFIX):
        if not text[len(AGREEMENT_PREFIX) :]:
            raise InvalidInput("name the agreement: agreement:ID")
        return text
    return str(SubsystemId.parse(text))


def _endpoint_id(s: Session, service: Service, endpoint: str | None) -> int | None:
    if not endpoint:
        return None
    method, _, path = endpoint.strip().partition(" ")
    method, path = patterns.check_method(method), patterns.check_path(path.strip())
    found = s.scalar(
        select(Endpoint.id).where(
            Endpoint.service_id == service.id, Endpoint.method == method, Endpoint.path == path
        )
    )
    if found is None:
        raise NotFound("the service has no endpoint {ep}", ep=f"{method} {path}")
    return found


@_invalidates
def grant(node: Node, name: str, client: str, actor: str, endpoint: str | None = None) -> None:
    """Let a client subsystem (or every other party of an agreement) call the service, or
    one endpoint of it ("METHOD PATH")."""
    client = _client(client)
    try:
        with node.transaction() as s:
            row = _service_row(s, *_ref(name))
            endpoint_id = _endpoint_id(s, row, endpoint)
            if _right(s, row, client, endpoint_id) is not None:
                raise IntegrityError("", None, Exception("duplicate"))
            s.add(
                AccessRight(
                    service_id=row.id, endpoint_id=endpoint_id, client=client, granted_by=actor
                )
            )
    except IntegrityError:
        raise Conflict("{client} already has that access", client=client) from None


def _right(s: Session, row: Service, client: str, endpoint_id: int | None) -> AccessRight | None:
    return s.scalar(
        select(AccessRight).where(
            AccessRight.service_id == row.id,
            AccessRight.client == client,
            AccessRight.endpoint_id.is_(None)
            if endpoint_id is None
            else AccessRight.endpoint_id == endpoint_id,
        )
    )


@_invalidates
def revoke(node: Node, name: str, client: str, endpoint: str | None = None) -> None:
    client = _client(client)
    with node.transaction() as s:
        row = _service_row(s, *_ref(name))
        found = _right(s, row, client, _endpoint_id(s, row, endpoint))
        if found is None:
            raise NotFound("{client} has no such access", client=client)
        s.delete(found)


def published(node: Node) -> list[dict[str, str]]:
    """What the directory lists for us: each enabled service's subsystem and code."""
    with node.db() as s:
        rows = s.execute(
            select(Service.subsystem, Service.code)
            .where(Service.enabled.is_(True))
            .order_by(Service.subsystem, Service.code)
        )
        return [{"subsystem": sub, "code": code} for sub, code in rows]


# Deciding a call --------------------------------------------------------------------------


def _active_terms(node: Node) -> list[Terms]:
    """The active agreements, read at most once a second for calls (at once after a change
    in this process, see steps.record_step)."""
    generation = node.extras.get("agreements_generation", 0)
    cached = node.extras.get("gateway_agreements")
    now = time.monotonic()
    if isinstance(cached, tuple) and cached[0] == generation and now - cached[1] < VIEW_SECONDS:
        found: list[Terms] = cached[2]
        return found
    found = agreement_rules.active(node)
    node.extras["gateway_agreements"] = (generation, now, found)
    return found


def covering_agreement(node: Node, view: ServiceView, client: SubsystemId) -> str | None:
    """The active agreement that lets this service's data flow to the client's member."""
    consumer = str(client.member)
    kind = service_kind(view.service.subsystem, view.service.code)
    now = utcnow()
    for terms in _active_terms(node):
        for wanted in (kind, ANY_SERVICE_KIND):
            if refusal(terms, node.member_id, [consumer], wanted, "TLP:CLEAR", now) is None:
                return terms.id
    return None


def _right_applies(node: Node, right: AccessRight, client: SubsystemId) -> bool:
    if right.client == str(client):
        return True
    if right.client.startswith(AGREEMENT_PREFIX):
        terms = agreement_rules.terms_of(node, right.client[len(AGREEMENT_PREFIX) :])
        status = agreement_rules.status_of(node, right.client[len(AGREEMENT_PREFIX) :])
        return (
            terms is not None
            and status == "active"
            and str(client.member) in terms.parties
            and str(client.member) != node.member_id
        )
    return False


def may_call(node: Node, view: ServiceView, client: SubsystemId, ep: patterns.Pattern) -> bool:
    return any(
        r.endpoint_id in (None, ep.id) and _right_applies(node, r, client) for r in view.rights
    )


def decide(
    node: Node, view: ServiceView, client: SubsystemId, method: str, path: str
) -> tuple[patterns.Pattern, str | None]:
    """The endpoint a call falls under and the agreement it goes under; raises GatewayError
    with X-Road's type naming the rule that refused it."""
    if not view.service.enabled:
        raise xroad.GatewayError(xroad.SERVICE_DISABLED, f"service {view.name} is disabled")
    ep = patterns.match(view.patterns(), method, path)
    if ep is None or not ep.enabled:
        raise xroad.GatewayError(
            xroad.ACCESS_DENIED,
            f"Request is not allowed: {method} {path or '/'} is not an enabled endpoint of "
            f"{view.name}",
        )
    if not may_call(node, view, client, ep):
        raise xroad.GatewayError(
            xroad.ACCESS_DENIED,
            f"Request is not allowed: {client} has no access right to {view.name}",
        )
    if str(client.member) == node.member_id:
        return ep, None  # our own subsystems need no agreement with ourselves
    agreement = covering_agreement(node, view, client)
    kind = service_kind(view.service.subsystem, view.service.code)
    if agreement is None:
        raise xroad.GatewayError(
            xroad.ACCESS_DENIED,
            f"Request is not allowed: no active agreement lets {view.name} flow from "
            f"{node.member_id} to {client.member}",
            detail=f"an agreement with the kind {kind!r} or 'service' would allow it",
        )
    return ep, agreement


# Documents for the API and the CLI ---------------------------------------------------------


def describe(view: ServiceView, node_member: str) -> dict[str, Any]:
    s = view.service
    return {
        "id": f"{node_member}/{s.subsystem}/{s.code}",
        "subsystem": s.subsystem,
        "code": s.code,
        "title": s.title,
        "base_url": s.base_url,
        "enabled": s.enabled,
        "timeout_seconds": s.timeout_seconds,
        "has_openapi": bool(s.openapi),
        "endpoints": [
            {"method": e.method, "path": e.path, "enabled": e.enabled} for e in view.endpoints
        ],
        "access": [
            {
                "client": r.client,
                "endpoint": _endpoint_text(view, r.endpoint_id),
                "granted_by": r.granted_by,
                "granted_at": r.granted_at.isoformat(),
            }
            for r in view.rights
        ],
    }


def _endpoint_text(view: ServiceView, endpoint_id: int | None) -> str | None:
    ep = view.endpoint(endpoint_id)
    return f"{ep.method} {ep.path}" if ep is not None else None


def call_document(c: Call) -> dict[str, Any]:
    return {
        "request_id": c.request_id,
        "role": c.role,
        "x_road_id": c.xroad_id,
        "client": c.client,
        "service": c.service,
        "method": c.method,
        "path": c.path,
        "status": c.status,
        "error": c.error,
        "message": c.message,
        "agreement": c.agreement_id,
        "user_id": c.user_id,
        "issue": c.issue,
        "request_hash": c.request_hash,
        "response_sha256": c.response_hash,
        "request_bytes": c.request_bytes,
        "response_bytes": c.response_bytes,
        "started_at": c.started_at.isoformat(),
        "duration_ms": c.duration_ms,
        "ledger_index": c.ledger_index,
    }


# Metadata ---------------------------------------------------------------------------------


def _service_doc(node: Node, view: ServiceView, eps: list[Endpoint]) -> dict[str, Any]:
    member = node.member_id.split("/")
    return {
        "object_type": "SERVICE",
        "xroad_instance": member[0],
        "member_class": member[1],
        "member_code": member[2],
        "subsystem_code": view.service.subsystem,
        "service_code": view.service.code,
        "service_type": "OPENAPI" if view.service.openapi else "REST",
        "endpoint_list": [{"method": e.method, "path": e.path} for e in eps],
    }


def list_methods(node: Node, subsystem: str, client: SubsystemId | None = None) -> dict[str, Any]:
    """listMethods (every enabled service), or allowedMethods when a client is given."""
    found = []
    for view in list_services(node, subsystem):
        if not view.service.enabled:
            continue
        eps = [e for e in view.endpoints if e.enabled]
        if client is not None:
            eps = [
                e
                for e in eps
                if may_call(node, view, client, patterns.Pattern(e.id, e.method, e.path))
            ]
            if not eps:
                continue
        found.append(_service_doc(node, view, eps))
    return {"service": found}


def openapi_of(node: Node, subsystem: str, code: str) -> str:
    view = find(node, subsystem, code)
    if view is None or not view.service.enabled:
        raise xroad.GatewayError(xroad.UNKNOWN_SERVICE, f"Unknown service: {subsystem}/{code}")
    if not view.service.openapi:
        raise xroad.GatewayError(
            xroad.UNKNOWN_SERVICE, f"Service {subsystem}/{code} has no OpenAPI description"
        )
    return view.service.openapi


def list_clients(node: Node) -> dict[str, Any]:
    """listClients: every member and subsystem in the directories this node trusts."""
    found = []
    for directory in federation(node).directories():
        for member in sorted(directory.members.values(), key=lambda m: m.id):
            instance, member_class, code = member.id.split("/")
            base = {
                "xroad_instance": instance,
                "member_class": member_class,
                "member_code": code,
            }
            found.append({"id": {"object_type": "MEMBER", **base}, "name": member.name})
            for sub in member.subsystems:
                found.append(
                    {
                        "id": {"object_type": "SUBSYSTEM", **base, "subsystem_code": sub},
                        "name": member.name,
                    }
                )
    return {"member": found}


# The call log -----------------------------------------------------------------------------


@dataclass
class CallRecord:
    role: str  # consumer | provider
    request_id: str
    xroad_id: str
    client: str
    service: str
    method: str
    path: str
    started_at: datetime
    status: int = 0
    error: str | None = None
    message: str | None = None
    agreement_id: str | None = None
    user_id: str | None = None
    issue: str | None = None
    request_hash: str | None = None
    request_sha256: str | None = None
    response_sha256: str | None = None
    request_bytes: int = 0
    response_bytes: int = 0
    duration_ms: int = 0
    actor: str = ""


def _event(call: CallRecord) -> Event:
    details: dict[str, Any] = {
        "client": call.client,
        "service": call.service,
        "method": call.method,
        "path": call.path,
        "status": call.status,
        "x_road_id": call.xroad_id,
        "request_bytes": call.request_bytes,
        "response_bytes": call.response_bytes,
    }
    for key, value in (
        ("error", call.error),
        ("agreement", call.agreement_id),
        ("request_hash", call.request_hash),
        ("user_id", call.user_id),
        ("issue", call.issue),
    ):
        if value:
            details[key] = value
    hashes = {
        k: v
        for k, v in (("request_body", call.request_sha256), ("response_body", call.response_sha256))
        if v
    }
    return Event(
        SERVICE_CALLED if call.role == "consumer" else SERVICE_SERVED,
        call.actor or call.client,
        call.request_id,
        details,
        hashes,
    )


def _row(call: CallRecord, index: int) -> dict[str, Any]:
    return {
        "request_id": call.request_id,
        "role": call.role,
        "xroad_id": call.xroad_id[:255],
        "client": call.client,
        "service": call.service,
        "method": call.method,
        "path": call.path,
        "status": call.status,
        "error": call.error,
        "message": (call.message or "")[:500] or None,
        "agreement_id": call.agreement_id,
        "user_id": call.user_id,
        "issue": call.issue,
        "request_hash": call.request_hash,
        "response_hash": call.response_sha256,
        "request_bytes": call.request_bytes,
        "response_bytes": call.response_bytes,
        "started_at": call.started_at,
        "duration_ms": call.duration_ms,
        "ledger_index": index,
    }


_ADD_CALL = insert(cast(Table, Call.__table__))


def write_calls(w: Writes, records: list[CallRecord]) -> list[int]:
    """Calls' rows and ledger entries in the batch's transaction (see store.batch)."""
    indexes = record_many(w, [_event(c) for c in records])
    w.executemany(_ADD_CALL, [_row(c, i) for c, i in zip(records, indexes, strict=True)])
    return indexes


@dataclass(frozen=True)
class Admission:
    """Another member's call, before its service is called."""

    nonce: dict[str, Any]  # its signature's replay nonce (peers.nonce_row)
    request_id: str


REPLAYED = "replayed"
USED_BEFORE = "used before"


# Request ids are held beside the nonces while calls are in flight: the call log holds
# them only once the call is done.
REQUEST_IDS = "x-road-request-id"


_SERVED = select(literal(1)).where(
    Call.request_id == bindparam("request_id"), Call.role == "provider"
)


def admit(w: Writes, asks: list[Admission]) -> list[str | None]:
    """Record each call's signature nonce and its request id, in the batch's transaction:
    None, or REPLAYED (the nonce was seen) or USED_BEFORE (the request id is in flight or
    was served) for each."""
    ids = [{**a.nonce, "keyid": REQUEST_IDS, "nonce": a.request_id[:128]} for a in asks]
    added = insert_new(w, SeenNonce, [a.nonce for a in asks] + ids)
    fresh, unused = added[: len(asks)], added[len(asks) :]
    verdicts: list[str | None] = []
    for ask, is_fresh, is_unused in zip(asks, fresh, unused, strict=True):
        if not is_fresh:
            verdicts.append(REPLAYED)
        elif not is_unused or w.execute(_SERVED, {"request_id": ask.request_id}).fetchall():
            verdicts.append(USED_BEFORE)
        else:
            verdicts.append(None)
    return verdicts


def calls(
    node: Node,
    *,
    role: str | None = None,
    service: str | None = None,
    client: str | None = None,
    errors_only: bool = False,
    limit: int = 100,
) -> list[Call]:
    with node.db() as s:
        query = select(Call).order_by(Call.started_at.desc()).limit(min(max(limit, 1), 1000))
        if role:
            query = query.where(Call.role == role)
        if service:
            query = query.where(Call.service == service)
        if client:
            query = query.where(Call.client == client)
        if errors_only:
            query = query.where(Call.error.is_not(None))
        return list(s.scalars(query))


def call(node: Node, request_id: str, role: str) -> Call:
    with node.db() as s:
        found = s.get(Call, (request_id, role))
    if found is None:
        raise NotFound("no call {id} in the {role} log", id=request_id, role=role)
    return found


# Publication ------------------------------------------------------------------------------


def announce(node: Node) -> bool:
    """Tell the registry which services we provide, when the directory lists otherwise.
    True when an announcement was sent."""
    anchor = own_anchor(node)
    if anchor is None:
        return False
    listed = published(node)
    me = federation(node).member(node.member_id)
    if me is None or [dict(x) for x in me.services] == listed:
        return False
    answer = send_json(
        node, "POST", anchor.registry_url + "/registry/v1/services", {"services": listed}
    )
    if answer.status_code >= 400:
        raise Unavailable(
            "the registry refused our services ({status}): {text}",
            status=answer.status_code,
            text=answer.text[:200],
        )
    return True


def publish(node: Node) -> None:
    """Announce now if we can; the periodic task retries when the registry is away."""
    try:
        announce(node)
    except JembatanError as exc:
        log.warning("services not announced", reason=exc.detail)
