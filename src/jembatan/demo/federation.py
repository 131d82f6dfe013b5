"""The demo federation as data, and the steps that set each node up on first start.

Later capabilities add their sample data by appending to SEED_STEPS (run once, when a
node's folder is created) or AFTER_START_STEPS (run every start, once all nodes answer).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from jembatan.accounts import services
from jembatan.accounts.tokens import create_token
from jembatan.agreements import services as agreements
from jembatan.config import CONFIG_FILE, load_settings
from jembatan.demo import collaboration, immunization, surveillance
from jembatan.errors import Conflict, NotFound, Unavailable
from jembatan.exchange import services as exchange
from jembatan.gateway import services as gateway
from jembatan.health import services as health
from jembatan.node.context import Node
from jembatan.node.services import init_node
from jembatan.registry import authority, membership
from jembatan.registry.directory import TrustAnchor
from jembatan.store import migrations
from jembatan.store.db import open_engine
from jembatan.workspaces import replication as workspace_replication
from jembatan.workspaces import services as workspaces

PASSWORD = "jembatan-demo"  # noqa: S105  (printed at start: a demo, not a secret)
HOST = "127.0.0.1"


@dataclass(frozen=True)
class DemoNode:
    member: str
    name: str
    country: str
    offset: int  # port = base port + offset; the base port itself is the registry's
    folder_name: str = ""

    @property
    def code(self) -> str:
        return self.member.rsplit("/", 1)[1]

    def port(self, base: int) -> int:
        return base + self.offset

    def url(self, base: int) -> str:
        return f"http://{HOST}:{self.port(base)}"

    def folder(self, root: Path) -> Path:
        return root / (self.folder_name or self.code)


INSTANCE = "ASEAN"
REGISTRY = DemoNode("ASEAN/ORG/REGISTRY", "ASEAN Jembatan Registry", "ID", 0, "registry")
NODES = [
    DemoNode("ASEAN/GOV/IDN-KEMENKES", "Kementerian Kesehatan Republik Indonesia", "ID", 1),
    DemoNode("ASEAN/GOV/MYS-MOH", "Ministry of Health Malaysia", "MY", 2),
    DemoNode("ASEAN/GOV/SGP-MOH", "Ministry of Health Singapore", "SG", 3),
]
ANCHOR_FILE = "anchor.json"

# (user name, role, display name) on every demo node; all share PASSWORD.
USERS = [
    ("admin", "admin", "Demo administrator"),
    ("officer", "officer", "Demo officer"),
    ("auditor", "auditor", "Demo auditor"),
]


def demo_env() -> dict[str, str]:
    """The environment for demo processes: always SQLite in the demo folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEMBATAN_")}
    env["JEMBATAN_LOG_FORMAT"] = "json"
    env["JEMBATAN_KEY_PASSPHRASE"] = PASSWORD
    return env


def seed_users(spec: DemoNode, node: Node) -> None:
    for username, role, display in USERS:
        services.create_user(node, username, PASSWORD, role, display)


def take_registry_role(spec: DemoNode, node: Node) -> None:
    if spec is not REGISTRY:
        return
    anchor = authority.init_registry(node, INSTANCE, spec.country)
    membership.set_anchor(node, anchor)
    (node.data_dir / ANCHOR_FILE).write_bytes(anchor.to_bytes() + b"\n")


def open_demo_node(root: Path, spec: DemoNode) -> Node:
    return Node.open(load_settings(spec.folder(root), key_passphrase=PASSWORD))


def join_federation(nodes: list[DemoNode], root: Path, base_port: int) -> None:
    """Each node that is not yet a member joins through the real join flow; the demo
    approves as the registry's administrator would; then every node refreshes."""
    anchor = TrustAnchor.parse((REGISTRY.folder(root) / ANCHOR_FILE).read_bytes())
    registry = open_demo_node(root, REGISTRY)
    opened = [open_demo_node(root, spec) for spec in nodes]
    try:
        for spec, node in zip(nodes, opened, strict=True):
            if membership.own_anchor(node) is None:
                answer = membership.join(node, anchor, spec.country)
                authority.approve(registry, int(answer["id"]), "demo")
        for node in [registry, *opened]:
            membership.refresh(node)
    finally:
        for node in [registry, *opened]:
            node.close()


# (parties, title, kinds): there is deliberately none between MYS-MOH and SGP-MOH, so a
# user can watch such a message refused, and allowed once both sign one.
AGREEMENTS = [
    (
        ("ASEAN/GOV/IDN-KEMENKES", "ASEAN/GOV/MYS-MOH"),
        "Indonesia-Malaysia health cooperation",
        ["message", "health.surveillance", "service:immunization/vaccination-status"],
    ),
    (
        ("ASEAN/GOV/IDN-KEMENKES", "ASEAN/GOV/SGP-MOH"),
        "Indonesia-Singapore health cooperation",
        ["message", "health.surveillance"],
    ),
]


def _wait(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise Unavailable(f"demo: {what} did not happen within {timeout:.0f} s")
        time.sleep(0.3)


def make_agreements(nodes: list[DemoNode], root: Path, base_port: int) -> None:
    """The demo's agreements, made the real way: drafted and signed by one ministry,
    delivered, countersigned by the other; the nodes' workers carry every step."""
    by_member = {spec.member: spec for spec in nodes}
    for (first, second), title, kinds in AGREEMENTS:
        a, b = open_demo_node(root, by_member[first]), open_demo_node(root, by_member[second])
        try:
            if not any(h.terms.title == title for h in agreements.list_agreements(a)):
                _agree([a, b], title, kinds)
        finally:
            a.close()
            b.close()


def _agree(
    nodes: list[Node],
    title: str,
    kinds: list[str],
    purpose: str = "Sharing disease surveillance and coordinating outbreak response",
    legal: tuple[str, str] = (
        "International Health Regulations (2005), Article 44",
        "IHR (2005) art. 44",
    ),
) -> str:
    """An agreement made the real way: drafted and signed by the first node, delivered
    by the workers, countersigned by each other party in turn; waits until it is active."""
    first, others = nodes[0], nodes[1:]
    held = agreements.draft(
        first,
        title=title,
        parties=[n.member_id for n in others],
        kinds=kinds,
        purpose=purpose,
        legal_basis=legal[0],
        legal_reference=legal[1],
        ceiling="TLP:AMBER",
        valid_days=365,
        actor=f"{first.member_id}/user/admin",
    )
    ident = held.terms.id
    agreements.sign(first, ident, f"{first.member_id}/user/admin")
    for node in others:
        _wait(functools.partial(_holds, node, ident), f"the proposal reaching {node.member_id}")
        agreements.sign(node, ident, f"{node.member_id}/user/admin")
    _wait(lambda: agreements.get(first, ident).status == "active", f"{title} in force")
    return ident


def _holds(node: Node, ident: str) -> bool:
    try:
        agreements.get(node, ident)
    except NotFound:
        return False
    return True


SAMPLES = [
    (
        "ASEAN/GOV/IDN-KEMENKES",
        ["ASEAN/GOV/MYS-MOH"],
        "Dengue situation, epidemiological week 47",
        "Riau and West Kalimantan report dengue cases 30% above the seasonal baseline. "
        "Serotype DENV-2 dominates. We propose a joint review call on Thursday.",
        "TLP:AMBER",
    ),
    (
        "ASEAN/GOV/MYS-MOH",
        ["ASEAN/GOV/IDN-KEMENKES"],
        "Re: Dengue situation, epidemiological week 47",
        "Johor sees a similar rise. Thursday 10:00 (UTC+8) suits us; we will share "
        "district-level counts before the call.",
        "TLP:AMBER",
    ),
    (
        "ASEAN/GOV/SGP-MOH",
        ["ASEAN/GOV/IDN-KEMENKES"],
        "Vector control guidance update",
        "Our updated guidance on Aedes breeding-site inspections is attached to the "
        "regional workspace next week. Summary: weekly checks in construction sites.",
        "TLP:GREEN",
    ),
]


def send_samples(nodes: list[DemoNode], root: Path, base_port: int) -> None:
    """A few messages on first start; the nodes' own workers deliver them."""
    by_member = {spec.member: spec for spec in nodes}
    for sender, to, subject, text, label in SAMPLES:
        node = open_demo_node(root, by_member[sender])
        try:
            if not exchange.list_messages(node, "outbox", limit=1):
                exchange.send(node, to, subject, text.encode(), classification=label)
        finally:
            node.close()


# The service gateway: IDN-KEMENKES's immunization registry answers vaccination-status
# calls; MYS-MOH's portal may call it, SGP-MOH's may not (both outcomes can be seen).
SAMPLE_SERVICE_OFFSET = 9  # the internal API listens on base port + 9, loopback only
SUBSYSTEMS = [
    "ASEAN/GOV/IDN-KEMENKES/immunization",
    "ASEAN/GOV/MYS-MOH/portal",
    "ASEAN/GOV/SGP-MOH/portal",
]
GATEWAY_TOKEN_FILE = "gateway-token.txt"  # noqa: S105  (a file name)


def sample_service_url(base_port: int) -> str:
    return f"http://{HOST}:{base_port + SAMPLE_SERVICE_OFFSET}"


def set_up_services(nodes: list[DemoNode], root: Path, base_port: int) -> None:
    """Subsystems in the directory, the service with its access right, and for each
    ministry an API token its portal system calls the gateway with."""
    registry = open_demo_node(root, REGISTRY)
    opened = {spec.member: open_demo_node(root, spec) for spec in nodes}
    try:
        for subsystem in SUBSYSTEMS:
            with contextlib.suppress(Conflict):
                authority.set_subsystem(registry, subsystem)
        for node in [registry, *opened.values()]:
            membership.refresh(node)
        idn = opened["ASEAN/GOV/IDN-KEMENKES"]
        if gateway.find(idn, "immunization", "vaccination-status") is None:
            gateway.add_service(
                idn,
                "immunization",
                "vaccination-status",
                sample_service_url(base_port),
                title="Vaccination status of a person (sample registry)",
                openapi=immunization.OPENAPI,
            )
            gateway.grant(
                idn, "immunization/vaccination-status", "ASEAN/GOV/MYS-MOH/portal", "demo"
            )
        gateway.publish(idn)
        for spec in nodes:
            token_file = spec.folder(root) / GATEWAY_TOKEN_FILE
            if not token_file.exists():
                node = opened[spec.member]
                officer = services.find_user(node, "officer")
                issued = create_token(
                    node, officer.id, "portal gateway client", "services:call", timedelta(days=365)
                )
                token_file.write_text(issued.token + "\n")
    finally:
        for node in [registry, *opened.values()]:
            node.close()


# Surveillance: each ministry's weekly dengue counts since 2019, shared with the partners
# its agreements allow; West Java's outbreak is flagged, confirmed and sent to partners.
OUTBREAK_NOTE = (
    "Confirmed by the provincial health office; serotype DENV-2; vector control teams deployed."
)


def set_up_surveillance(nodes: list[DemoNode], root: Path, base_port: int) -> None:
    last = surveillance.last_complete_week(date.today())
    opened = {spec.member: open_demo_node(root, spec) for spec in nodes}
    try:
        for member, node in opened.items():
            if not health.reports_held(node, limit=1):
                health.import_report(
                    node,
                    surveillance.csv_for(member, last),
                    f"dengue-{surveillance.FIRST_WEEK}-{last}.csv",
                    actor=f"{member}/user/officer",
                )
                for partner in health.partners(node):
                    health.share(node, [partner], surveillance.DISEASE)
        idn = opened["ASEAN/GOV/IDN-KEMENKES"]
        health.run_detection(idn)
        if not health.signals(idn, "confirmed", limit=1):
            outbreak = [
                s
                for s in health.signals(idn, "open")
                if s.area == surveillance.OUTBREAK_AREA and s.period == last
            ]
            for signal in outbreak[:1]:
                health.review(
                    idn, signal.id, "confirm", OUTBREAK_NOTE, f"{idn.member_id}/user/officer"
                )
    finally:
        for node in opened.values():
            node.close()


# Collaboration: the three ministries share one workspace, bound to a three-party
# agreement that covers only that workspace.
def set_up_workspace(nodes: list[DemoNode], root: Path, base_port: int) -> None:
    opened = {spec.code: open_demo_node(root, spec) for spec in nodes}
    try:
        idn, mys, sgp = (opened[c] for c in ("IDN-KEMENKES", "MYS-MOH", "SGP-MOH"))
        if any(v.name == collaboration.NAME for v in workspaces.list_workspaces(idn, None)):
            return
        people = {code: _officer(node) for code, node in opened.items()}
        wid = workspaces.create(
            idn,
            people["IDN-KEMENKES"],
            collaboration.NAME,
            collaboration.PURPOSE,
            "TLP:GREEN",
            "TLP:AMBER",
        )
        ident = _agree(
            [idn, mys, sgp],
            collaboration.AGREEMENT_TITLE,
            [workspace_replication.kind_of(wid)],
            "Working together in the shared dengue response workspace",
            ("ASEAN Leaders' Declaration on Dengue (2011)", "ASEAN Dengue Day declaration"),
        )
        workspaces.update_settings(idn, wid, people["IDN-KEMENKES"], agreement=ident)
        for other in (mys, sgp):
            workspaces.invite(idn, wid, people["IDN-KEMENKES"], other.member_id)
        for code, node in opened.items():
            if node is not idn:
                _wait(functools.partial(_sees, node, wid), f"the invitation reaching {code}")
                workspaces.join(node, wid, people[code])
            workspaces.admit(node, wid, people[code], "admin", "owner")
        _wait(lambda: _all_joined(idn, wid), "every ministry joining the workspace")
        _fill_workspace(opened, people, wid)
    finally:
        for node in opened.values():
            node.close()


def _officer(node: Node) -> workspaces.Person:
    return workspaces.Person.of(services.find_user(node, "officer"))


def _sees(node: Node, wid: str) -> bool:
    return any(v.id == wid for v in workspaces.list_workspaces(node, None))


def _all_joined(node: Node, wid: str) -> bool:
    members = workspaces.get(node, wid, None).state["members"]
    return len(members) == 3 and all(m["status"] == "joined" for m in members.values())


def _fill_workspace(
    opened: dict[str, Node], people: dict[str, workspaces.Person], wid: str
) -> None:
    idn, mys = opened["IDN-KEMENKES"], opened["MYS-MOH"]
    guide = workspaces.upload(
        idn,
        wid,
        people["IDN-KEMENKES"],
        io.BytesIO(collaboration.GUIDELINE_V1.encode()),
        "vector-control-guideline.md",
        "text/markdown",
        title="Regional guideline: Aedes vector control",
        comment="First draft",
    )
    _wait(lambda: _has(mys, wid, "documents", guide.id), "the guideline reaching MYS-MOH")
    workspaces.upload(
        mys,
        wid,
        people["MYS-MOH"],
        io.BytesIO(collaboration.GUIDELINE_V2.encode()),
        "vector-control-guideline.md",
        "text/markdown",
        comment="Fogging rules and community checks added",
        document=guide.id,
    )
    title, days = collaboration.MILESTONE
    milestone = workspaces.add_milestone(
        idn, wid, people["IDN-KEMENKES"], title, (date.today() + timedelta(days)).isoformat()
    )
    for code, text in collaboration.DISCUSSION:
        _wait(
            functools.partial(_has, opened[code], wid, "milestones", milestone.id),
            f"the milestone reaching {code}",
        )
        workspaces.comment(opened[code], wid, people[code], text)
    for code, task_title, due, done in collaboration.TASKS:
        task = workspaces.add_task(
            idn,
            wid,
            people["IDN-KEMENKES"],
            task_title,
            assignee_member=opened[code].member_id,
            due=(date.today() + timedelta(due)).isoformat(),
            milestone=milestone.id,
        )
        if done:
            workspaces.complete_task(idn, wid, people["IDN-KEMENKES"], task.id)


def _has(node: Node, wid: str, part: str, item: str) -> bool:
    return item in workspaces.get(node, wid, None).state.get(part, {})


SEED_STEPS: list[Callable[[DemoNode, Node], None]] = [seed_users, take_registry_role]
AFTER_START_STEPS: list[Callable[[list[DemoNode], Path, int], None]] = [
    join_federation,
    make_agreements,
    send_samples,
    set_up_services,
    set_up_surveillance,
    set_up_workspace,
]


def prepare(root: Path, base_port: int) -> list[tuple[DemoNode, bool]]:
    """Create any node folder that is missing (the registry first); (node, created now)."""
    out = []
    for spec in [REGISTRY, *NODES]:
        folder = spec.folder(root)
        created = not (folder / CONFIG_FILE).exists()
        if created:
            settings = load_settings(
                folder, port=spec.port(base_port), host=HOST, database_url=None
            )
            init_node(
                settings,
                spec.member,
                spec.name,
                PASSWORD,
                {
                    "public_url": spec.url(base_port),
                    "require_two_factor": False,
                    "directory_refresh_seconds": 30,
                },
            )
            node = open_demo_node(root, spec)
            try:
                for step in SEED_STEPS:
                    step(spec, node)
            finally:
                node.close()
        else:  # a folder from an earlier version: bring its schema up to date
            engine = open_engine(load_settings(folder).db_url)
            try:
                migrations.upgrade(engine)
            finally:
                engine.dispose()
        out.append((spec, created))
    return out
