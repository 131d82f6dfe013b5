"""Clearance: a person sees a message only up to the classification they are cleared for,
in the API and the portal; TLP:RED needs an explicit grant."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from jembatan.accounts.tokens import create_token
from jembatan.errors import InvalidInput
from jembatan.exchange import services
from jembatan.ledger import services as ledger
from jembatan.node.context import Node
from jembatan.web.app import create_app
from tests.conftest import add_user, csrf_of, login
from tests.exchange.test_interfaces import _env
from tests.fed import Federation, deliver_all
from tests.node.test_cli import run


def test_clearance_hides_content_in_api_and_portal(asean: Federation) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    amber = services.send(idn, ["ASEAN/GOV/MYS"], "Amber case", b"a", classification="TLP:AMBER")
    red = services.send(
        idn,
        ["ASEAN/GOV/MYS"],
        "Red case",
        b"r",
        classification="TLP:RED",
        readers=["ASEAN/GOV/MYS/user/rina"],
    )
    deliver_all([idn, mys])
    reader = add_user(mys, "rina", "analyst")
    admin = add_user(mys, "adi", "admin")
    token = create_token(mys, reader, "t", "messages:read", timedelta(days=1)).token
    auth = {"Authorization": f"Bearer {token}"}
    admin_token = create_token(mys, admin, "t", "users:write", timedelta(days=1)).token
    with TestClient(create_app(mys)) as client:
        listed = client.get("/api/v1/messages", headers=auth).json()
        assert [m["subject"] for m in listed] == ["Amber case"]  # RED needs a grant
        refused = client.get(f"/api/v1/messages/{red.id}/content", headers=auth)
        assert refused.status_code == 403
        assert "clearance (TLP:AMBER+STRICT)" in refused.json()["detail"]
        lowered = client.patch(
            "/api/v1/users/rina",
            headers={"Authorization": f"Bearer {admin_token}"},
            json={"clearance": "TLP:GREEN"},
        )
        assert lowered.json()["clearance"] == "TLP:GREEN"
        own = client.patch(
            "/api/v1/users/adi",
            headers={"Authorization": f"Bearer {admin_token}"},
            json={"clearance": "TLP:RED"},
        )
        assert own.status_code == 409  # nobody raises their own clearance
        assert client.get("/api/v1/messages", headers=auth).json() == []
        assert client.get(f"/api/v1/messages/{amber.id}", headers=auth).status_code == 403
        login(client, "rina")
        assert "Amber case" not in client.get("/messages").text
        assert client.get(f"/messages/{amber.id}").status_code == 403
    granted = run("user", "clearance", "rina", "TLP:RED", "-d", str(mys.data_dir), env=_env(mys))
    assert granted.returncode == 0, granted.stderr
    with TestClient(create_app(mys)) as client:
        login(client, "rina")
        page = client.get(f"/messages/{red.id}")
        assert page.status_code == 200
        assert "Red case" in page.text
    changes = ledger.search(mys, ledger.Filters(type="user.changed"))
    assert {"from": "TLP:GREEN", "to": "TLP:RED"} in [
        json.loads(e.data)["details"].get("clearance") for e in changes
    ]


def test_red_reaches_only_its_named_readers(asean: Federation) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    to = ["ASEAN/GOV/MYS"]
    for readers, problem in (
        ([], "must name its readers"),
        (["ASEAN/GOV/SGP/user/x"], "of the sender or a recipient"),
        (["rina"], "MEMBER/user/NAME"),
    ):
        with pytest.raises(InvalidInput, match=problem):
            services.send(idn, to, "Red", b"r", classification="TLP:RED", readers=readers)
    with pytest.raises(InvalidInput, match="only TLP:RED"):
        services.send(idn, to, "Amber", b"a", readers=["ASEAN/GOV/MYS/user/rina"])
    sender = add_user(idn, "ina", "officer")
    red = services.send(
        idn,
        to,
        "Index case",
        b"name and address",
        classification="TLP:RED",
        user_id=sender,
        readers=["ASEAN/GOV/MYS/user/rina"],
    )
    deliver_all([idn, mys])
    named, other = add_user(mys, "rina", "officer"), add_user(mys, "budi", "officer")
    for user in (named, other):
        run("user", "clearance", "rina" if user == named else "budi", "TLP:RED",
            "-d", str(mys.data_dir), env=_env(mys))  # fmt: skip
    with TestClient(create_app(mys)) as client:
        for name, token_owner, sees in (("rina", named, True), ("budi", other, False)):
            token = create_token(mys, token_owner, "t", "messages:read", timedelta(days=1)).token
            auth = {"Authorization": f"Bearer {token}"}
            listed = client.get("/api/v1/messages", headers=auth).json()
            assert (red.id in {m["id"] for m in listed}) is sees, name
            got = client.get(f"/api/v1/messages/{red.id}", headers=auth)
            assert got.status_code == (200 if sees else 403), name
        assert got.json()["detail"] == "this TLP:RED message is for its named readers only"
        login(client, "rina")
        page = client.get(f"/messages/{red.id}")
        assert "ASEAN/GOV/MYS/user/rina" in page.text
        refused = client.post(
            f"/messages/{red.id}/forward",
            data={"to": "ASEAN/GOV/IDN", "csrf_token": csrf_of(page.text)},
        )
        assert refused.status_code == 403
    # The sender's own officer sees the sent message; another officer at IDN does not.
    assert [m.id for m in services.list_messages(idn, "outbox", viewer=_viewer(idn, "ina"))] == [
        red.id
    ]
    add_user(idn, "eko", "officer")
    assert services.list_messages(idn, "outbox", viewer=_viewer(idn, "eko")) == []


def _viewer(node: Node, name: str) -> services.Viewer:
    from jembatan.accounts.services import find_user, update_user

    user = find_user(node, name)
    update_user(node, user.id, clearance="TLP:RED", actor="test")
    return services.Viewer.of(node, find_user(node, name))
