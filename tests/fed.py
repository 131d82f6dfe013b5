"""A live federation for tests: a registry and member nodes, each served over HTTP."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

from jembatan.agreements import services as agreements
from jembatan.exchange import delivery
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

    def build(
        self, instance: str = "ASEAN", codes: tuple[str, ...] = ("IDN", "MYS"), agreed: bool = True
    ) -> Federation:
        registry = self.serve(f"{instance}/ORG/REGISTRY")
        anchor = authority.init_registry(registry, instance, "ID")
        membership.set_anchor(registry, anchor)
        fed = Federation(instance, registry, anchor)
        for code in codes:
            self.add_member(fed, code)
        fed.refresh_all()
        if agreed and len(codes) > 1:
            agree(list(fed.nodes.values()))
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


def deliver_all(nodes: list[Node]) -> None:
    """Run every node's delivery worker until nothing is due (what `serve` does)."""
    while sum(delivery.run_once(n) for n in nodes):
        pass


def agree(
    nodes: list[Node], kinds: tuple[str, ...] = ("message",), ceiling: str = "TLP:RED"
) -> str:
    """An agreement among these nodes, made the real way: drafted by the first, signed by
    each in turn, every step delivered as an envelope. Returns its id."""
    first, others = nodes[0], nodes[1:]
    held = agreements.draft(
        first,
        title="Test exchange",
        parties=[n.member_id for n in others],
        kinds=list(kinds),
        purpose="testing",
        legal_basis="test fixture",
        ceiling=ceiling,
        valid_days=30,
        actor="test",
    )
    agreements.sign(first, held.terms.id, "test")
    deliver_all(nodes)
    for node in others:
        agreements.sign(node, held.terms.id, "test")
        deliver_all(nodes)
    for node in nodes:
        assert agreements.get(node, held.terms.id).status == "active", node.member_id
    return held.terms.id
