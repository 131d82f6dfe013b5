"""The gateway test federation: a registry and IDN, MYS and SGP nodes; IDN provides the
echo service, MYS's portal may call it under an agreement, SGP's may not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from jembatan.accounts.services import create_user
from jembatan.accounts.tokens import create_token
from jembatan.gateway import services
from jembatan.node.context import Node
from jembatan.registry import authority
from tests.conftest import LiveServer
from tests.fed import Federation, FederationFactory, agree
from tests.gateway import echo

SERVICE = "/r1/ASEAN/GOV/IDN/health/echo"


@dataclass
class Setup:
    fed: Federation
    idn: Node
    mys: Node
    sgp: Node
    internal: str
    tokens: dict[str, str]

    def url(self, node: Node, path: str) -> str:
        return node.settings.base_url + path

    def call(
        self, code: str, method: str, path: str, client: str | None = None, **kw: object
    ) -> httpx.Response:
        node = self.fed.node(code)
        headers = {
            "Authorization": f"Bearer {self.tokens[code]}",
            "X-Road-Client": client or f"ASEAN/GOV/{code}/portal",
            **kw.pop("headers", {}),  # type: ignore[dict-item]
        }
        return httpx.request(method, self.url(node, path), headers=headers, timeout=60, **kw)  # type: ignore[arg-type]


@pytest.fixture
def setup(federations: FederationFactory) -> Iterator[Setup]:
    fed = federations.build(codes=("IDN", "MYS", "SGP"), agreed=False)
    idn, mys, sgp = fed.node("IDN"), fed.node("MYS"), fed.node("SGP")
    for sub in ("ASEAN/GOV/IDN/health", "ASEAN/GOV/MYS/portal", "ASEAN/GOV/SGP/portal"):
        authority.set_subsystem(fed.registry, sub)
    fed.refresh_all()
    agree([idn, mys], kinds=("message", "service:health/echo"))
    agree([idn, sgp], kinds=("message",))
    with ExitStack() as stack:
        internal = stack.enter_context(LiveServer(echo.app))
        services.add_service(idn, "health", "echo", internal.url, timeout_seconds=2)
        services.grant(idn, "health/echo", "ASEAN/GOV/MYS/portal", "test")
        tokens = {}
        for code, node in (("IDN", idn), ("MYS", mys), ("SGP", sgp)):
            user = create_user(node, "system", "a long enough password 1", "officer")
            tokens[code] = create_token(
                node, user.id, "gw", "services:call", timedelta(days=1)
            ).token
        yield Setup(fed, idn, mys, sgp, internal.url, tokens)
