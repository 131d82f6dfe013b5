"""The app factory: one FastAPI app per node."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

import jembatan
from jembatan.accounts import api as accounts_api
from jembatan.accounts import pages as accounts_pages
from jembatan.agreements import api as agreements_api
from jembatan.agreements import pages as agreements_pages
from jembatan.exchange import api as exchange_api
from jembatan.exchange import pages as exchange_pages
from jembatan.gateway import api as gateway_api
from jembatan.gateway import pages as gateway_pages
from jembatan.health import api as health_api
from jembatan.health import pages as health_pages
from jembatan.ledger import api as ledger_api
from jembatan.ledger import pages as ledger_pages
from jembatan.node import pages as node_pages
from jembatan.node.context import Node
from jembatan.registry import api as registry_api
from jembatan.registry import pages as registry_pages
from jembatan.web import ops, problems
from jembatan.web.metrics import Metrics
from jembatan.web.middleware import RequestContext
from jembatan.web.pages import STATIC, Pages
from jembatan.web.security import CookieJar
from jembatan.workspaces import api as workspaces_api
from jembatan.workspaces import pages as workspaces_pages

# Capabilities with pages; each owns a templates/ folder.
CAPABILITIES = [
    "accounts",
    "node",
    "registry",
    "exchange",
    "ledger",
    "agreements",
    "gateway",
    "health",
    "workspaces",
]


class NodeApp(FastAPI):
    """The node's app. Gateway calls take their lane (gateway/api.Lane) inside their own
    request context, past the framework's middleware; everything else goes the usual way."""

    lane: gateway_api.Lane
    lane_stack: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lane.takes(scope):
            scope["app"] = self
            await self.lane_stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(node: Node) -> FastAPI:
    app = NodeApp(
        title="Jembatan node API",
        version=jembatan.__version__,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.node = node
    app.state.metrics = Metrics()
    app.state.cookies = CookieJar(node)
    app.state.pages = Pages(CAPABILITIES)
    problems.install(app)
    # First: every gateway call is matched against the routes before its own.
    app.include_router(gateway_api.xroad_router)
    app.include_router(gateway_api.fed_router)
    app.include_router(ops.router)
    app.include_router(accounts_api.router)
    app.include_router(accounts_pages.router)
    app.include_router(node_pages.router)
    app.include_router(registry_api.registry_router)
    app.include_router(registry_api.public_router)
    app.include_router(registry_api.fed_router)
    app.include_router(registry_api.api_router)
    app.include_router(registry_pages.router)
    app.include_router(exchange_api.fed_router)
    app.include_router(exchange_api.router)
    app.include_router(exchange_pages.router)
    app.include_router(ledger_api.router)
    app.include_router(ledger_api.fed_router)
    app.include_router(ledger_pages.router)
    app.include_router(agreements_api.router)
    app.include_router(agreements_pages.router)
    app.include_router(gateway_api.router)
    app.include_router(gateway_pages.router)
    app.include_router(health_api.router)
    app.include_router(health_pages.router)
    app.include_router(workspaces_api.router)
    app.include_router(workspaces_pages.router)
    app.include_router(registry_api.fed_fallback_router)  # last: catches other /fed/ paths
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    app.lane = gateway_api.Lane()
    app.lane_stack = RequestContext(app.lane, metrics=app.state.metrics)
    return app
