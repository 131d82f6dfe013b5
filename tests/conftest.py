"""Shared fixtures. The suite runs on SQLite, or on PostgreSQL when JEMBATAN_TEST_POSTGRES
names a server URL: then every node gets its own fresh database, all dropped at the end."""

from __future__ import annotations

import itertools
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyotp
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from jembatan.accounts import services
from jembatan.config import load_settings
from jembatan.node.context import Node
from jembatan.node.services import init_node
from jembatan.web.app import create_app

if TYPE_CHECKING:
    from tests.fed import Federation, FederationFactory

POSTGRES = os.environ.get("JEMBATAN_TEST_POSTGRES")
PASSWORD = "correct-horse-battery"
KEY_PASSPHRASE = "test-key-passphrase"
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def pytest_report_header() -> str:
    return f"jembatan database backend: {'postgresql' if POSTGRES else 'sqlite'}"


@pytest.fixture(scope="session")
def new_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty databases on the backend under test."""
    counter = itertools.count()
    created: list[str] = []
    if not POSTGRES:
        root = tmp_path_factory.mktemp("sqlite")
        yield lambda: f"sqlite:///{root}/db{next(counter)}.sqlite"
        return
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    prefix = f"jembatan_test_{os.getpid()}"

    def make() -> str:
        name = f"{prefix}_{next(counter)}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


NodeFactory = Callable[..., Node]


@pytest.fixture
def make_node(tmp_path: Path, new_database_url: Callable[[], str]) -> Iterator[NodeFactory]:
    """Initialise a node in a fresh folder and database, as `jembatan init` does."""
    opened: list[Node] = []
    counter = itertools.count()

    def make(
        member: str = "ASEAN/GOV/IDN-KEMENKES", name: str = "Kementerian Kesehatan", **settings: Any
    ) -> Node:
        folder = tmp_path / f"node{next(counter)}"
        values = {"database_url": new_database_url(), "key_passphrase": KEY_PASSPHRASE, **settings}
        init_node(load_settings(folder, **values), member, name, KEY_PASSPHRASE)
        node = Node.open(load_settings(folder, **values))
        opened.append(node)
        return node

    yield make
    for node in opened:
        node.close()


@pytest.fixture
def node(make_node: NodeFactory) -> Node:
    return make_node(require_two_factor=False)


@pytest.fixture
def client(node: Node) -> Iterator[TestClient]:
    with TestClient(create_app(node)) as c:
        yield c


def add_user(node: Node, username: str = "alice", role: str = "admin") -> int:
    return services.create_user(node, username, PASSWORD, role, username.title()).id


@contextmanager
def portal(
    node: Node, username: str, role: str = "officer", clearance: str | None = None
) -> Iterator[TestClient]:
    """A logged-in official of this node (created here), optionally with a clearance."""
    add_user(node, username, role)
    if clearance:
        services.update_user(node, services.find_user(node, username).id, clearance=clearance)
    with TestClient(create_app(node)) as client:
        login(client, username)
        yield client


def page_text(html: str) -> str:
    """What a reader sees: the page without its tags, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def csrf_of(html: str) -> str:
    """The page's CSRF token; every form on the page must carry the same one."""
    found = set(_CSRF.findall(html))
    assert found, "page has no CSRF field"
    assert len(found) == 1, f"forms disagree on the CSRF token: {found}"
    return str(found.pop())


def login(client: TestClient, username: str = "alice", password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


def totp_now(secret: str, offset: int = 0) -> str:
    return str(pyotp.TOTP(secret).at(time.time() + offset))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A node (or any ASGI app) served by uvicorn in a thread."""

    def __init__(self, node: Node | Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(node) if isinstance(node, Node) else node
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def federations(make_node: NodeFactory) -> Iterator[FederationFactory]:
    from contextlib import ExitStack

    from tests.fed import FederationFactory

    with ExitStack() as stack:
        yield FederationFactory(make_node, stack)


@pytest.fixture
def asean(federations: FederationFactory) -> Federation:
    return federations.build()
