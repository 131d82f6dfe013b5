"""A live federation for tests: a registry and member nodes, each served over HTTP."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

from jembatan.node.context import Node
from jembatan.registry import authority, membership
from jembatan.registry.directory import TrustAnchor
from tests.conftest import LiveServer, NodeFactory, free_port


@dataclass
class Federation:
    instance: str
    registry: Node
    anchor: TrustAnchor
    nodes: dict[str, Node] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    def node(self, code: str) -> Node:
        return self.nodes[f"{self.instance}/GOV/{code}"]

    def refresh_all(self) -> None:
        for node in [self.registry, *self.nodes.values()]:
            membership.refresh(node)


class FederationFactory:
    def __init__(self, make_node: NodeFactory, stack: ExitStack) -> None:
        self.make_node = make_node
        self.stack = stack

    def serve(self, member: str, **settings: object) -> Node:
        port = free_port()
        node = self.make_node(
            member=member,
            name=f"Node {member}",
            public_url=f"http://127.0.0.1:{port}",
            require_two_factor=False,
            **settings,
        )
        self.start(node)
        return node

    def start(self, node: Node) -> None:
        port = int(node.settings.base_url.rsplit(":", 1)[1])
        server = LiveServer(node, port)
        node.extras["test_server"] = server
        self.stack.enter_context(server)

    def stop(self, node: Node) -> None:
        server = node.extras.pop("test_server")
        assert isinstance(server, LiveServer)
        server.__exit__()

    def build(self, instance: str = "ASEAN", codes: tuple[str, ...] = ("IDN", "MYS")) -> Federation:
        registry = self.serve(f"{instance}/ORG/REGISTRY")
        anchor = authority.init_registry(registry, instance, "ID")
        membership.set_anchor(registry, anchor)
        fed = Federation(instance, registry, anchor)
        for code in codes:
            self.add_member(fed, code)
        fed.refresh_all()
        return fed

    def add_member(self, fed: Federation, code: str, approve: bool = True) -> Node:
        member = f"{fed.instance}/GOV/{code}"
        node = self.serve(member)
        answer = membership.join(node, fed.anchor, "MY")
        assert answer["status"] == "pending"
        if approve:
            authority.approve(fed.registry, answer["id"], "test")
        fed.nodes[member] = node
        return node
