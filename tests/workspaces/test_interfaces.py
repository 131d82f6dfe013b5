"""Workspaces as officials and agencies' systems use them: the portal (create, invite,
accept, tasks, documents, discussion with mentions, refused forms kept), the API with
scoped tokens, and the CLI with --json."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from jembatan.accounts.services import find_user, update_user
from jembatan.accounts.tokens import create_token
from jembatan.cli import app as cli
from jembatan.node.context import Node
from jembatan.web.app import create_app
from jembatan.workspaces import services as ws
from tests.conftest import add_user, csrf_of, page_text, portal
from tests.fed import Federation, FederationFactory, agree
from tests.workspaces.test_replication import settle


@pytest.fixture
def duo(federations: FederationFactory) -> Federation:
    fed = federations.build("ASEAN", ("IDN", "MYS"), agreed=False)
    agree([fed.node("IDN"), fed.node("MYS")], kinds=("workspace",), ceiling="TLP:AMBER")
    return fed


def test_officials_work_together_in_the_portal(duo: Federation) -> None:
    idn, mys = duo.node("IDN"), duo.node("MYS")
    with portal(idn, "ana") as a, portal(mys, "mei") as m:
        page = a.get("/workspaces")
        assert page.status_code == 200
        # A refused form keeps what was typed and says why.
        refused = a.post(
            "/workspaces",
            data={
                "name": "Flood relief",
                "purpose": "keep me",
                "classification": "TLP:RED",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert refused.status_code == 422
        assert "keep me" in refused.text
        assert "TLP:RED" in page_text(refused.text)
        made = a.post(
            "/workspaces",
            data={
                "name": "Flood relief",
                "purpose": "Joint flood response",
                "classification": "TLP:GREEN",
                "csrf_token": csrf_of(page.text),
            },
            follow_redirects=False,
        )
        assert made.status_code == 303
        wid = made.headers["location"].split("/")[2].split("?")[0]
        members = a.get(f"/workspaces/{wid}/members")
        invited = a.post(
            f"/workspaces/{wid}/invite",
            data={"member": mys.member_id, "csrf_token": csrf_of(members.text)},
            follow_redirects=False,
        )
        assert invited.status_code == 303
        settle([idn, mys])
        mine = m.get("/workspaces")
        assert "Flood relief" in mine.text
        assert "Invitations" in mine.text
        invitation = m.get(f"/workspaces/{wid}")
        assert "Joint flood response" in invitation.text
        assert (
            m.post(
                f"/workspaces/{wid}/join", data={"csrf_token": csrf_of(invitation.text)}
            ).status_code
            == 200
        )
        settle([idn, mys])

        tasks = a.get(f"/workspaces/{wid}/tasks")
        a.post(
            f"/workspaces/{wid}/tasks",
            data={
                "title": "Sandbag stock count",
                "assignee_member": mys.member_id,
                "assignee_user": "mei",
                "due": "2026-12-05",
                "csrf_token": csrf_of(tasks.text),
            },
        )
        docs = a.get(f"/workspaces/{wid}/documents")
        uploaded = a.post(
            f"/workspaces/{wid}/documents",
            data={"title": "Evacuation map", "csrf_token": csrf_of(docs.text)},
            files={"file": ("map.txt", b"Shelters: Kuantan, Pekan\n", "text/plain")},
        )
        assert uploaded.status_code == 200
        assert "Evacuation map" in uploaded.text
        talk = a.get(f"/workspaces/{wid}/discussion")
        a.post(
            f"/workspaces/{wid}/comment",
            data={
                "text": f"@{mys.member_id}/user/mei please confirm the stock",
                "csrf_token": csrf_of(talk.text),
            },
        )
        settle([idn, mys])
        seen = page_text(m.get(f"/workspaces/{wid}/tasks").text)
        assert "Sandbag stock count" in seen
        doc_page = m.get(f"/workspaces/{wid}/documents")
        link = re.search(rf'href="(/workspaces/{wid}/documents/[0-9a-f]+)"', doc_page.text)
        assert link is not None
        detail = m.get(link.group(1))
        download = re.search(r'href="([^"]+/versions/1)"', detail.text)
        assert download is not None
        assert m.get(download.group(1)).content == b"Shelters: Kuantan, Pekan\n"
        notes = page_text(m.get("/workspaces/notifications").text)
        assert "mentioned you" in notes
        assert "gave you a task" in notes
        assert m.get(f"/workspaces/{wid}").text.count(ws.get(mys, wid, None).state_hash) == 1
        assert ws.get(idn, wid, None).state_hash == ws.get(mys, wid, None).state_hash


def test_the_api_and_the_cli(duo: Federation, tmp_path: Path) -> None:
    idn, _mys = duo.node("IDN"), duo.node("MYS")
    user_id = add_user(idn, "api", "officer")
    writer = create_token(idn, user_id, "t", "workspaces:read workspaces:write", timedelta(days=1))
    reader = create_token(idn, user_id, "r", "workspaces:read", timedelta(days=1))
    with TestClient(create_app(idn)) as client:
        auth = {"Authorization": f"Bearer {writer.token}"}
        made = client.post(
            "/api/v1/workspaces",
            json={"name": "Climate MRV", "classification": "TLP:GREEN"},
            headers=auth,
        )
        assert made.status_code == 201, made.text
        wid = made.json()["id"]
        assert made.json()["state_hash"]
        bad = client.post(
            f"/api/v1/workspaces/{wid}/tasks", json={"title": "x", "due": "soon"}, headers=auth
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert "due" in bad.json()["detail"]
        task = client.post(
            f"/api/v1/workspaces/{wid}/tasks", json={"title": "Inventory"}, headers=auth
        )
        assert task.status_code == 201
        denied = client.post(
            f"/api/v1/workspaces/{wid}/tasks",
            json={"title": "y"},
            headers={"Authorization": f"Bearer {reader.token}"},
        )
        assert denied.status_code == 403
        doc = client.post(
            f"/api/v1/workspaces/{wid}/documents",
            headers=auth,
            files={"file": ("inventory.csv", b"sector,tCO2e\nenergy,120\n", "text/csv")},
            data={"title": "GHG inventory"},
        )
        assert doc.status_code == 201, doc.text
        got = client.get(
            f"/api/v1/workspaces/{wid}/documents/{doc.json()['document']}/versions/1", headers=auth
        )
        assert got.content == b"sector,tCO2e\nenergy,120\n"
        shown = client.get(f"/api/v1/workspaces/{wid}", headers=auth).json()
        assert [t["title"] for t in shown["tasks"]] == ["Inventory"]
        assert client.get("/api/v1/workspaces/ffffffff", headers=auth).status_code == 404

    runner = CliRunner()
    assert idn.keyring is not None
    env = {
        "JEMBATAN_DATA_DIR": str(idn.data_dir),
        "JEMBATAN_KEY_PASSPHRASE": idn.keyring.passphrase,
    }
    listed = runner.invoke(cli, ["workspace", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    [entry] = json.loads(listed.output)
    assert entry["id"] == wid
    assert entry["name"] == "Climate MRV"
    assert len(entry["state_hash"]) == 64
    added = runner.invoke(
        cli,
        ["workspace", "task", "add", wid[:8], "--title", "Check factors", "--as", "api", "--json"],
        env=env,
    )
    assert added.exit_code == 0, added.output
    task_id = json.loads(added.output)["event"]
    done = runner.invoke(
        cli, ["workspace", "task", "done", wid, task_id[:8], "--as", "api"], env=env
    )
    assert done.exit_code == 0, done.output
    tasks = json.loads(
        runner.invoke(
            cli, ["workspace", "task", "list", wid, "--as", "api", "--json"], env=env
        ).output
    )
    assert {t["title"]: t["status"] for t in tasks} == {
        "Inventory": "open",
        "Check factors": "done",
    }
    missing = runner.invoke(cli, ["workspace", "show", "0000aaaa", "--as", "api"], env=env)
    assert missing.exit_code == 3
    assert "no workspace" in missing.output
    nobody = runner.invoke(
        cli, ["workspace", "task", "add", wid, "--title", "x", "--as", "ghost"], env=env
    )
    assert nobody.exit_code == 2
    assert "no enabled user ghost" in nobody.output
    source = tmp_path / "note.txt"
    source.write_bytes(b"v1")
    up = runner.invoke(
        cli, ["workspace", "upload", wid, str(source), "--as", "api", "--json"], env=env
    )
    assert up.exit_code == 0, up.output
    out = tmp_path / "back.txt"
    got = runner.invoke(
        cli,
        [
            "workspace",
            "download",
            wid,
            json.loads(up.output)["event"][:10],
            "-o",
            str(out),
            "--as",
            "api",
        ],
        env=env,
    )
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == b"v1"


def test_export_holds_everything_with_checkable_hashes_and_signatures(duo: Federation) -> None:
    import hashlib
    import io
    import zipfile

    from jwcrypto import jwk, jws

    from jembatan.workspaces import export
    from jembatan.workspaces.services import Person

    idn, mys = duo.node("IDN"), duo.node("MYS")
    add_user(idn, "ana", "officer")
    add_user(idn, "gus", "officer")
    update_user(idn, find_user(idn, "gus").id, clearance="TLP:GREEN")
    ana, gus = Person.of(find_user(idn, "ana")), Person.of(find_user(idn, "gus"))
    wid = ws.create(idn, ana, "Tax exchange pilot", classification="TLP:GREEN", ceiling="TLP:AMBER")
    ws.admit(idn, wid, ana, "gus", "owner")
    ws.upload(idn, wid, ana, io.BytesIO(b"CRS schema notes"), "notes.txt", title="Notes")
    ws.upload(
        idn, wid, ana, io.BytesIO(b"amber"), "a.txt", title="Amber", classification="TLP:AMBER"
    )
    ws.comment(idn, wid, ana, "first draft shared")
    buffer = io.BytesIO()
    manifest = export.export(idn, wid, ana, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        names = set(archive.namelist())
        listed = {f["path"]: f for f in json.loads(archive.read("manifest.json"))["files"]}
        assert names == {*listed, "manifest.json"}
        for path, entry in listed.items():
            assert hashlib.sha256(archive.read(path)).hexdigest() == entry["sha256"], path
        state = json.loads(archive.read("state.json"))
        assert state["comments"][0]["text"] == "first draft shared"
        docs = sorted(p for p in names if p.startswith("documents/"))
        assert [archive.read(p) for p in docs] == [b"amber", b"CRS schema notes"]
        # Every event checks with the author's published key, by another JOSE library.
        key = jwk.JWK(**idn.keys().signer().public_jwk())
        for line in archive.read("events.jsonl").decode().splitlines():
            token = json.loads(line)["token"]
            checked = jws.JWS()
            checked.deserialize(token)
            checked.verify(key, alg="EdDSA")
            assert hashlib.sha256(checked.payload).hexdigest() == json.loads(line)["id"]
    assert manifest["state_hash"] == ws.get(idn, wid, None).state_hash
    # Clearance still holds: Gus's export leaves the AMBER document out.
    again = io.BytesIO()
    assert export.export(idn, wid, gus, again)["documents_left_out"] == 1
    with zipfile.ZipFile(io.BytesIO(again.getvalue())) as archive:
        assert b"amber" not in [
            archive.read(p) for p in archive.namelist() if p.startswith("documents/")
        ]
    entries = [e for e in ledger_entries(idn, wid) if e.type == "workspace.exported"]
    assert len(entries) == 2
    assert mys.member_id  # the partner plays no part here


def ledger_entries(node: Node, subject: str) -> list[Any]:
    from jembatan.ledger import services as ledger

    return ledger.entries_about(node, subject)
