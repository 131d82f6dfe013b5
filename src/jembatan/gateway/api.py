"""The gateway over HTTP: the pr-rest interface for agencies' systems (`/r1/...`,
`/listClients`), the node-to-node hop (`/fed/v1/r1/...`), and the management API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from jembatan.gateway import proxy, services
from jembatan.ledger.entries import user_actor
from jembatan.web.security import ApiCaller, node_of, require_scope

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]

# pr-rest: the agencies' systems call their own node; errors are X-Road's, not problems.
xroad_router = APIRouter(include_in_schema=False)
fed_router = APIRouter(prefix=proxy.FED_PREFIX, include_in_schema=False)
router = APIRouter(prefix="/api/v1", tags=["services"])
Reader = Annotated[ApiCaller, Depends(require_scope("services:read"))]
Writer = Annotated[ApiCaller, Depends(require_scope("services:write"))]


@xroad_router.api_route("/r1/{rest:path}", methods=METHODS)
async def call(request: Request) -> Response:
    return await proxy.consume(request)


class _Headers(Headers):
    """A call's headers, each looked up in a dict built once: Starlette's scan the raw
    list on every lookup, and a gateway call makes some twenty. The first of repeated
    headers is the one found, as with Starlette's."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope=scope)
        self._first = {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(self._list)}

    def __getitem__(self, key: str) -> str:
        return self._first[key.lower()]

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower() in self._first

    def get(self, key: str, default: Any = None) -> Any:
        return self._first.get(key.lower(), default)


class _Call(Request):
    @property
    def headers(self) -> Headers:
        if not hasattr(self, "_headers"):
            self._headers = _Headers(self.scope)
        return self._headers


class Lane:
    """Gateway calls skip the framework: `/r1/...` and `/fed/v1/r1/...` go from the
    request context (request id, access log, metrics) straight to the proxy, whose own work
    is smaller than the framework's routing and middleware. The routes above describe them
    and would serve them in an app without the lane. See web/app.NodeApp."""

    def __init__(self) -> None:
        self.lanes: list[tuple[str, Callable[[Request], Awaitable[Response]], BaseRoute]] = [
            ("/r1/", proxy.consume, _route(xroad_router, "/r1/{rest:path}")),
            (f"{proxy.FED_PREFIX}/r1/", proxy.provide, _route(fed_router, "/r1/{rest:path}")),
        ]

    def takes(self, scope: Scope) -> bool:
        return (
            scope["type"] == "http"
            and scope["method"] in METHODS
            and any(scope["path"].startswith(prefix) for prefix, _, _ in self.lanes)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        for prefix, handler, route in self.lanes:
            if scope["path"].startswith(prefix):
                scope["route"] = route  # named in the metrics as the route would be
                response = await handler(_Call(scope, receive))
                await response(scope, receive, send)
                return
        raise AssertionError("Lane called for a path it does not take")


def _route(router: APIRouter, path: str) -> BaseRoute:
    return next(r for r in router.routes if getattr(r, "path", "").endswith(path))


@xroad_router.get("/listClients")
async def list_clients(request: Request) -> Response:
    doc = await run_in_threadpool(services.list_clients, node_of(request))
    return JSONResponse(doc)


@fed_router.api_route("/r1/{rest:path}", methods=METHODS)
async def serve(request: Request) -> Response:
    return await proxy.provide(request)


class EndpointIn(BaseModel):
    method: str = Field(default="*", max_length=10)
    path: str = Field(default="**", max_length=500)
    enabled: bool = True


class NewService(BaseModel):
    subsystem: str = Field(min_length=1, max_length=255)
    code: str = Field(min_length=1, max_length=255)
    base_url: str = Field(min_length=1, max_length=500, description="The internal service")
    title: str = Field(default="", max_length=200)
    openapi: str | None = Field(default=None, description="OpenAPI 3 description as JSON text")
    endpoints: list[EndpointIn] = Field(default=[], max_length=500)
    timeout_seconds: int = Field(default=60, ge=1, le=3600)


class ServiceChange(BaseModel):
    enabled: bool | None = None
    base_url: str | None = Field(default=None, max_length=500)
    title: str | None = Field(default=None, max_length=200)
    openapi: str | None = None
    timeout_seconds: int | None = Field(default=None, ge=1, le=3600)


class AccessIn(BaseModel):
    client: str = Field(description="INSTANCE/CLASS/CODE/SUBSYSTEM, or agreement:ID")
    endpoint: str | None = Field(default=None, description="'METHOD PATH'; none: all")


@router.get("/services", summary="The services this node provides")
def list_services(request: Request, caller: Reader) -> list[dict[str, Any]]:
    node = node_of(request)
    return [services.describe(v, node.member_id) for v in services.list_services(node)]


@router.post("/services", status_code=201, summary="Register a service of one of our subsystems")
def add_service(request: Request, body: NewService, caller: Writer) -> dict[str, Any]:
    node = node_of(request)
    services.add_service(
        node,
        body.subsystem,
        body.code,
        body.base_url,
        title=body.title,
        openapi=body.openapi,
        endpoints=[(e.method, e.path) for e in body.endpoints],
        timeout_seconds=body.timeout_seconds,
    )
    for e in body.endpoints:
        if not e.enabled:
            services.set_endpoint(node, f"{body.subsystem}/{body.code}", e.method, e.path, False)
    return services.describe(services.get(node, f"{body.subsystem}/{body.code}"), node.member_id)


@router.get("/services/{subsystem}/{code}", summary="One service")
def get_service(request: Request, subsystem: str, code: str, caller: Reader) -> dict[str, Any]:
    node = node_of(request)
    return services.describe(services.get(node, f"{subsystem}/{code}"), node.member_id)


@router.patch("/services/{subsystem}/{code}", summary="Change or disable a service")
def change_service(
    request: Request, subsystem: str, code: str, body: ServiceChange, caller: Writer
) -> dict[str, Any]:
    node = node_of(request)
    view = services.change_service(
        node, f"{subsystem}/{code}", **body.model_dump(exclude_unset=True)
    )
    return services.describe(view, node.member_id)


@router.delete("/services/{subsystem}/{code}", status_code=204, summary="Remove a service")
def remove_service(request: Request, subsystem: str, code: str, caller: Writer) -> Response:
    services.remove_service(node_of(request), f"{subsystem}/{code}")
    return Response(status_code=204)


@router.put("/services/{subsystem}/{code}/endpoints", summary="Add, enable or disable an endpoint")
def set_endpoint(
    request: Request, subsystem: str, code: str, body: EndpointIn, caller: Writer
) -> dict[str, Any]:
    node = node_of(request)
    view = services.set_endpoint(node, f"{subsystem}/{code}", body.method, body.path, body.enabled)
    return services.describe(view, node.member_id)


@router.post("/services/{subsystem}/{code}/access", status_code=201, summary="Grant access")
def grant(
    request: Request, subsystem: str, code: str, body: AccessIn, caller: Writer
) -> dict[str, Any]:
    node = node_of(request)
    name = f"{subsystem}/{code}"
    actor = user_actor(node.member_id, caller.user.username)
    services.grant(node, name, body.client, actor, body.endpoint)
    return services.describe(services.get(node, name), node.member_id)


@router.delete("/services/{subsystem}/{code}/access", summary="Revoke access")
def revoke(
    request: Request, subsystem: str, code: str, body: AccessIn, caller: Writer
) -> dict[str, Any]:
    node = node_of(request)
    name = f"{subsystem}/{code}"
    services.revoke(node, name, body.client, body.endpoint)
    return services.describe(services.get(node, name), node.member_id)


@router.get("/service-calls", summary="The gateway's call log, newest first")
def list_calls(
    request: Request,
    caller: Reader,
    role: Annotated[str | None, Query(pattern="^(consumer|provider)$")] = None,
    service: str | None = None,
    client: str | None = None,
    errors: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    found = services.calls(
        node_of(request), role=role, service=service, client=client, errors_only=errors, limit=limit
    )
    return [services.call_document(c) for c in found]


@router.get("/service-calls/{role}/{request_id}", summary="One call")
def get_call(request: Request, role: str, request_id: str, caller: Reader) -> dict[str, Any]:
    return services.call_document(services.call(node_of(request), request_id, role))
