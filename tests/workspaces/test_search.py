"""Search finds documents by their text, and comments, tasks and decisions, only in
workspaces the person is admitted to and only up to their clearance."""

from __future__ import annotations

import io

from jembatan.accounts.services import find_user, update_user
from jembatan.node.context import Node
from jembatan.workspaces import services as ws
from jembatan.workspaces.services import Person
from tests.conftest import add_user


def _person(node: Node, name: str, clearance: str | None = None) -> Person:
    add_user(node, name, "officer")
    if clearance:
        update_user(node, find_user(node, name).id, clearance=clearance)
    return Person.of(find_user(node, name))


def test_search_respects_membership_and_clearance(node: Node) -> None:
    ana, gus, olga = (
        _person(node, "ana"),
        _person(node, "gus", "TLP:GREEN"),
        _person(node, "olga"),
    )
    wid = ws.create(node, ana, "Dengue response", classification="TLP:GREEN", ceiling="TLP:AMBER")
    ws.admit(node, wid, ana, "gus", "viewer")
    ws.upload(
        node,
        wid,
        ana,
        io.BytesIO(b"Pelepasan nyamuk Wolbachia di Yogyakarta menurunkan kasus."),
        "wolbachia.txt",
        "text/plain",
        title="Field report",
        classification="TLP:AMBER",
    )
    ws.comment(node, wid, ana, "Larvicide stocks are low in Bekasi")
    ws.add_task(node, wid, ana, "Order larvicide", description="temephos for Bekasi")
    ws.record_decision(node, wid, ana, "Fogging policy", "Only around clustered cases")
    other = ws.create(node, olga, "Flood relief", classification="TLP:GREEN")
    ws.comment(node, other, olga, "Larvicide is not needed here")

    def kinds(person: Person, query: str) -> set[tuple[str, str]]:
        return {(h.kind, h.workspace) for h in ws.find_text(node, person, query)}

    # The extracted text of the document, accents and case aside, and a prefix.
    assert kinds(ana, "wolbachia") == {("document", wid)}
    assert kinds(ana, "YOGYA") == {("document", wid)}
    assert kinds(ana, "larvicide") == {("comment", wid), ("task", wid)}
    assert kinds(ana, "clustered") == {("decision", wid)}
    # Olga is admitted only to her own workspace; Gus's clearance stops at GREEN.
    assert kinds(olga, "larvicide") == {("comment", other)}
    assert kinds(gus, "wolbachia") == set()
    assert kinds(gus, "larvicide") == {("comment", wid), ("task", wid)}
    # What people type never breaks the query.
    for odd in ('"', "AND OR NOT", "(", "*", "larv* OR", "'; DROP TABLE x; --", ""):
        ws.find_text(node, ana, odd)
    [hit] = ws.find_text(node, ana, "Bekasi low")
    assert "Bekasi" in hit.snippet


def test_search_page_and_api(node: Node) -> None:
    from datetime import timedelta

    from fastapi.testclient import TestClient

    from jembatan.accounts.tokens import create_token
    from jembatan.web.app import create_app
    from tests.conftest import login

    ana = _person(node, "ana")
    wid = ws.create(node, ana, "Climate programme", classification="TLP:GREEN")
    ws.add_task(node, wid, ana, "Mangrove restoration baseline")
    token = create_token(node, ana.user_id, "t", "workspaces:read", timedelta(days=1)).token
    with TestClient(create_app(node)) as client:
        found = client.get(
            "/api/v1/workspaces/search",
            params={"q": "mangrove"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert found.status_code == 200
        assert [(h["kind"], h["workspace"]) for h in found.json()] == [("task", wid)]
        login(client, "ana")
        page = client.get("/workspaces/search", params={"q": "mangrove"})
        assert page.status_code == 200
        assert f"/workspaces/{wid}/tasks/" in page.text
        assert "Nothing found" in client.get("/workspaces/search", params={"q": "zebra"}).text
