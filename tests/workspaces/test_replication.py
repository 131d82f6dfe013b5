"""Workspaces across live nodes: events replicate through the secure exchange under the
workspace's agreement, a node cut off catches up, and every node ends with the same state
hash and content; documents arrive byte for byte; outsiders and the uncleared see nothing."""

from __future__ import annotations

import io
import os
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from jembatan.accounts import services as accounts
from jembatan.errors import Forbidden, NotFound
from jembatan.exchange.models import Delivery, Message
from jembatan.ledger import services as ledger
from jembatan.node.context import Node
from jembatan.store.schema import utcnow
from jembatan.workspaces import events, files, fold, held, replication, retention
from jembatan.workspaces import services as ws
from jembatan.workspaces.models import WorkspaceEvent
from jembatan.workspaces.services import Person
from tests.fed import Federation, FederationFactory, agree, deliver_all

CODES = ("IDN", "MYS", "SGP")


def person(
    node: Node, username: str, role: str = "officer", clearance: str | None = None
) -> Person:
    user = accounts.create_user(node, username, "correct horse battery", role)
    if clearance:
        from jembatan.accounts.models import User

        with node.transaction() as s:
            s.execute(update(User).where(User.id == user.id).values(clearance=clearance))
        return Person(user.id, user.username, clearance)
    return Person.of(user)


def settle(nodes: list[Node]) -> None:
    """Deliver and take in until nothing moves (what the nodes' periodic chores do)."""
    for _ in range(10):
        deliver_all(nodes)
        if not sum(replication.ingest(n) for n in nodes):
            return
    raise AssertionError("workspace replication did not settle")


def hashes(nodes: list[Node], workspace: str) -> set[str]:
    return {ws.get(n, workspace, None).state_hash for n in nodes}


@pytest.fixture
def trio(federations: FederationFactory) -> Federation:
    fed = federations.build("ASEAN", (*CODES, "THA"), agreed=False)
    agree([fed.node(c) for c in CODES], kinds=("workspace",), ceiling="TLP:AMBER")
    return fed


def _nodes(fed: Federation) -> list[Node]:
    return [fed.node(c) for c in CODES]


def _shared(fed: Federation) -> tuple[str, dict[str, Person]]:
    idn, mys, sgp = _nodes(fed)
    people = {"IDN": person(idn, "ana"), "MYS": person(mys, "mei"), "SGP": person(sgp, "sam")}
    wid = ws.create(
        idn, people["IDN"], "ASEAN dengue response", "Joint response", "TLP:GREEN", "TLP:AMBER"
    )
    ws.invite(idn, wid, people["IDN"], mys.member_id)
    ws.invite(idn, wid, people["IDN"], sgp.member_id)
    settle(_nodes(fed))
    ws.join(mys, wid, people["MYS"])
    ws.join(sgp, wid, people["SGP"])
    settle(_nodes(fed))
    return wid, people


def test_three_nodes_reach_one_state(trio: Federation) -> None:
    _idn, mys, sgp = nodes = _nodes(trio)
    wid, people = _shared(trio)
    assert len(hashes(nodes, wid)) == 1
    view = ws.get(sgp, wid, people["SGP"])
    assert view.role == "owner"
    assert view.state["members"][mys.member_id]["status"] == "joined"

    task = ws.add_task(mys, wid, people["MYS"], "Fogging schedule", due="2026-12-15")
    settle(nodes)
    for node, who in zip(nodes, ("IDN", "MYS", "SGP"), strict=True):
        seen = ws.get(node, wid, people[who]).state["tasks"]
        assert seen[task.id]["title"] == "Fogging schedule"
    assert len(hashes(nodes, wid)) == 1
    # Every node's ledger holds the event, with the workspace's classification.
    for node in nodes:
        found = [e for e in ledger.entries_about(node, wid) if e.type == "workspace.event"]
        assert any(task.id.encode() in e.data and b"TLP:GREEN" in e.data for e in found)


def test_a_node_cut_off_catches_up(trio: Federation, federations: FederationFactory) -> None:
    idn, mys, sgp = nodes = _nodes(trio)
    wid, people = _shared(trio)
    task = ws.add_task(idn, wid, people["IDN"], "Draft joint advisory")
    settle(nodes)

    federations.stop(sgp)  # SGP is cut off: it edits alone, the others edit together
    ws.update_task(idn, wid, people["IDN"], task.id, title="Advisory (IDN)")
    ws.comment(mys, wid, people["MYS"], "Malaysia will review by Friday")
    ws.update_task(sgp, wid, people["SGP"], task.id, title="Advisory (SGP)", status="in-progress")
    ws.add_milestone(sgp, wid, people["SGP"], "Advisory published", due="2026-12-20")
    deliver_all([idn, mys])
    deliver_all([idn, mys])
    for node in (idn, mys):
        replication.ingest(node)
    assert len(hashes([idn, mys], wid)) == 1
    assert hashes([idn, mys], wid) != hashes([sgp], wid)

    federations.start(sgp)
    for node in nodes:  # retry now rather than after the back-off
        with node.transaction() as s:
            s.execute(
                update(Delivery)
                .where(Delivery.status == "queued")
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
    settle(nodes)
    assert len(hashes(nodes, wid)) == 1
    states = [ws.get(n, wid, None).state for n in nodes]
    assert states[0] == states[1] == states[2]
    final = states[0]["tasks"][task.id]
    # Concurrent title edits: same clock, SGP sorts after IDN, so SGP's title stands.
    assert final["title"] == "Advisory (SGP)"
    assert final["status"] == "in-progress"
    assert [c["text"] for c in states[0]["comments"]] == ["Malaysia will review by Friday"]
    assert len(states[0]["milestones"]) == 1


def test_documents_arrive_byte_for_byte(trio: Federation) -> None:
    idn, mys, _sgp = nodes = _nodes(trio)
    wid, people = _shared(trio)
    first = os.urandom(300_000)
    second = b"Pedoman penanggulangan demam berdarah, versi 2\n" * 2000
    doc = ws.upload(
        idn, wid, people["IDN"], io.BytesIO(first), "guide.bin", title="Vector control guide"
    )
    settle(nodes)
    ws.upload(
        mys,
        wid,
        people["MYS"],
        io.BytesIO(second),
        "guide-v2.txt",
        "text/plain",
        comment="Malaysian edits",
        document=doc.id[:10],
    )
    settle(nodes)
    for node, who in zip(nodes, ("IDN", "MYS", "SGP"), strict=True):
        versions = ws.get(node, wid, people[who]).state["documents"][doc.id]["versions"]
        assert [v["by"] for v in versions] == [
            f"{idn.member_id}/user/ana",
            f"{mys.member_id}/user/mei",
        ]
        for n, expected in ((1, first), (2, second)):
            out = io.BytesIO()
            ws.download(node, wid, people[who], doc.id, n, out)
            assert out.getvalue() == expected, (node.member_id, n)
    assert len(hashes(nodes, wid)) == 1


def test_outsiders_and_the_uncleared_see_nothing(trio: Federation) -> None:
    idn, _mys, _sgp = _nodes(trio)
    tha = trio.node("THA")
    wid, people = _shared(trio)
    green = person(idn, "gus", clearance="TLP:CLEAR")
    ws.admit(idn, wid, people["IDN"], "gus", "editor")
    assert wid not in [v.id for v in ws.list_workspaces(idn, green)]
    with pytest.raises(NotFound):
        ws.get(idn, wid, green)
    with pytest.raises(NotFound):
        ws.add_task(idn, wid, green, "not cleared")
    outsider = person(idn, "olga")  # a user of a member organisation not admitted
    assert ws.list_workspaces(idn, outsider) == []
    with pytest.raises(NotFound):
        ws.get(idn, wid, outsider)
    # The non-member node holds nothing, and an agreement keeps it from being invited.
    assert ws.list_workspaces(tha, None) == []
    with pytest.raises(Forbidden, match="agreement"):
        ws.invite(idn, wid, people["IDN"], tha.member_id)


def test_events_beyond_a_role_are_rejected_on_every_node(trio: Federation) -> None:
    idn, mys, sgp = nodes = _nodes(trio)
    wid, people = _shared(trio)
    viewer = person(mys, "vic")
    ws.admit(mys, wid, people["MYS"], "vic", "viewer")
    settle(nodes)
    with pytest.raises(Forbidden, match="viewer"):
        ws.add_task(mys, wid, viewer, "from a viewer")
    # A node that skips its own checks: MYS signs the viewer's event and sends it anyway.
    with mys.db() as s:
        heads = fold.fold(wid, held.events_in(s, wid)).heads
    forged = events.make(
        mys.keys().signer(),
        mys.member_id,
        "vic",
        wid,
        "task.created",
        {"title": "forged"},
        heads,
        utcnow(),
    )
    replication.send_events(
        mys, ws.get(mys, wid, None).state, [idn.member_id, sgp.member_id], [forged.token], "events"
    )
    settle(nodes)
    for node in (idn, sgp):
        with node.db() as s:
            row = s.get(WorkspaceEvent, forged.id)
        assert row is not None
        assert row.status == "rejected"
        assert "viewer" in (row.reason or "")
        assert all(t["title"] != "forged" for t in ws.get(node, wid, None).state["tasks"].values())
    # A non-member's signed event relayed by a member is rejected too.
    tha = trio.node("THA")
    stray = events.make(
        tha.keys().signer(),
        tha.member_id,
        "tom",
        wid,
        "task.created",
        {"title": "stray"},
        heads,
        utcnow(),
    )
    replication.send_events(
        mys, ws.get(mys, wid, None).state, [idn.member_id], [stray.token], "events"
    )
    settle(nodes)
    with idn.db() as s:
        row = s.get(WorkspaceEvent, stray.id)
    assert row is not None
    assert row.status == "rejected"
    assert "not a member" in (row.reason or "")


def test_retention_purges_on_every_node_and_a_late_member_catches_up(trio: Federation) -> None:
    idn, mys, sgp = nodes = _nodes(trio)
    people = {"IDN": person(idn, "ana"), "MYS": person(mys, "mei"), "SGP": person(sgp, "sam")}
    wid = ws.create(idn, people["IDN"], "Haze watch", classification="TLP:GREEN", retention_days=30)
    ws.invite(idn, wid, people["IDN"], mys.member_id)
    settle(nodes)
    ws.join(mys, wid, people["MYS"])
    settle(nodes)
    comment = ws.comment(mys, wid, people["MYS"], "hotspot count is confidential")
    doc = ws.upload(idn, wid, people["IDN"], io.BytesIO(b"old satellite data"), "hotspots.csv")
    task = ws.add_task(idn, wid, people["IDN"], "Review burn permits")
    settle(nodes)
    sha = ws.get(mys, wid, None).state["documents"][doc.id]["versions"][0]["sha256"]
    assert files.held(mys, wid, sha)

    # Forty days on, IDN's chores sign the purge; every node folds it the same way.
    assert retention.purge_due(idn, now=utcnow() + timedelta(days=40)) > 0
    settle(nodes)
    for node in (idn, mys):  # what their chores do next (the cut-off is after every message)
        retention.forget_purged(node, wid)
    for node in (idn, mys):
        state = ws.get(node, wid, None).state
        assert state["comments"] == []
        assert state["documents"][doc.id]["versions"][0]["purged"] is True
        assert task.id in state["tasks"]
        assert not files.held(node, wid, sha)
        with node.db() as s:
            stored = s.get(WorkspaceEvent, comment.id)
            assert stored is not None
            assert "confidential" not in stored.token
            messages = s.scalars(select(Message).where(Message.kind == f"workspace:{wid}")).all()
        assert messages == [], node.member_id
        assert any(e.type == "workspace.purged" for e in ledger.entries_about(node, wid))
    assert len(hashes([idn, mys], wid)) == 1

    # A member invited after the purge gets the log with the purged events redacted,
    # and reaches the same state.
    ws.invite(idn, wid, people["IDN"], sgp.member_id)
    settle(nodes)
    ws.join(sgp, wid, people["SGP"])
    settle(nodes)
    assert len(hashes(nodes, wid)) == 1
    with sgp.db() as s:
        assert s.get(WorkspaceEvent, comment.id) is not None
