"""API tokens (create in the portal, use on the API, revoke) and user administration."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from jembatan.accounts import tokens
from jembatan.accounts.models import ApiToken
from jembatan.node.context import Node
from jembatan.store.schema import utcnow
from tests.conftest import add_user, csrf_of, login


def _create_in_portal(client: TestClient, *scopes: str) -> str:
    page = client.get("/profile")
    made = client.post(
        "/profile/tokens",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "case register",
            "expires": "30d",
            "scope": list(scopes),
        },
    )
    assert made.status_code == 200
    found = re.search(r'id="new-token">(jbt_[^<]+)<', made.text)
    assert found, "the new token is shown once"
    return found.group(1)


def test_token_create_use_revoke(node: Node, client: TestClient) -> None:
    add_user(node, "alice", "officer")
    login(client)
    token = _create_in_portal(client, "profile:read")
    # Shown once: the profile page never shows it again.
    assert token not in client.get("/profile").text
    with node.db() as s:
        stored = s.query(ApiToken).one()
    secret = token.split("_", 2)[2]
    assert secret not in stored.secret_hash
    assert len(secret) == 43

    api = TestClient(client.app)
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    assert me.json()["via"] == "token:" + stored.token_id

    page = client.get("/profile")
    revoked = client.post(
        f"/profile/tokens/{stored.token_id}/revoke", data={"csrf_token": csrf_of(page.text)}
    )
    assert revoked.status_code == 200
    refused = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"] == "this API token has been revoked"


def test_token_scope_expiry_and_owner(node: Node, client: TestClient) -> None:
    user = add_user(node, "alice", "admin")
    issued = tokens.create_token(node, user, "t", ["profile:read"], timedelta(days=1))
    auth = {"Authorization": f"Bearer {issued.token}"}
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    denied = client.get("/api/v1/users", headers=auth)
    assert denied.status_code == 403
    assert "users:read" in denied.json()["detail"]
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer jbt_nope"}).status_code == 401
    assert client.get("/api/v1/me").status_code == 401
    with node.transaction() as s:
        s.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = client.get("/api/v1/me", headers=auth)
    assert expired.status_code == 401
    assert expired.json()["detail"] == "this API token has expired"


def test_token_stops_when_role_no_longer_allows_scope(node: Node, client: TestClient) -> None:
    admin = add_user(node, "root", "admin")
    target = add_user(node, "alice", "admin")
    root_token = tokens.create_token(
        node, admin, "admin", ["users:read", "users:write"], timedelta(days=1)
    )
    alice = tokens.create_token(node, target, "t", ["users:read"], timedelta(days=1))
    headers = {"Authorization": f"Bearer {alice.token}"}
    assert client.get("/api/v1/users", headers=headers).status_code == 200
    changed = client.patch(
        "/api/v1/users/alice",
        json={"role": "analyst"},
        headers={"Authorization": f"Bearer {root_token.token}"},
    )
    assert changed.status_code == 200
    assert changed.json()["role"] == "analyst"
    assert client.get("/api/v1/users", headers=headers).status_code == 403


def test_user_api_create_and_validation(node: Node, client: TestClient) -> None:
    admin = add_user(node, "root", "admin")
    issued = tokens.create_token(node, admin, "admin", ["users:write"], timedelta(days=1))
    auth = {"Authorization": f"Bearer {issued.token}"}
    made = client.post(
        "/api/v1/users",
        json={"username": "siti", "password": "a-long-password-1", "role": "officer"},
        headers=auth,
    )
    assert made.status_code == 201
    again = client.post(
        "/api/v1/users",
        json={"username": "siti", "password": "a-long-password-1", "role": "officer"},
        headers=auth,
    )
    assert again.status_code == 409
    short = client.post(
        "/api/v1/users",
        json={"username": "budi", "password": "short", "role": "officer"},
        headers=auth,
    )
    assert short.status_code == 422
    assert short.json()["detail"] == "password must be at least 12 characters"
    missing = client.post("/api/v1/users", json={"username": "x"}, headers=auth)
    assert missing.status_code == 422
    assert missing.headers["content-type"] == "application/problem+json"
    assert {e["location"] for e in missing.json()["errors"]} >= {"body.password", "body.role"}


def test_admin_pages_are_for_admins(node: Node, client: TestClient) -> None:
    add_user(node, "alice", "admin")
    add_user(node, "bob", "officer")
    login(client)
    page = client.get("/users")
    assert page.status_code == 200
    added = client.post(
        "/users",
        data={
            "csrf_token": csrf_of(page.text),
            "username": "siti",
            "role": "analyst",
            "password": "another-long-password",
            "display_name": "Siti",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert "siti" in client.get("/users").text
    dup = client.post(
        "/users",
        data={
            "csrf_token": csrf_of(page.text),
            "username": "siti",
            "role": "analyst",
            "password": "another-long-password",
        },
    )
    assert dup.status_code == 409
    assert "already exists" in dup.text

    with TestClient(client.app) as bob:
        login(bob, "bob")
        assert bob.get("/users").status_code == 403
        assert 'href="/users"' not in bob.get("/").text


def test_change_password(node: Node, client: TestClient) -> None:
    add_user(node)
    login(client)
    page = client.get("/profile")
    bad = client.post(
        "/profile/password",
        data={
            "csrf_token": csrf_of(page.text),
            "current": "wrong-one-here",
            "new": "brand-new-password",
            "confirm": "brand-new-password",
        },
    )
    assert bad.status_code == 422
    good = client.post(
        "/profile/password",
        data={
            "csrf_token": csrf_of(page.text),
            "current": "correct-horse-battery",
            "new": "brand-new-password",
            "confirm": "brand-new-password",
        },
        follow_redirects=False,
    )
    assert good.status_code == 303
    with TestClient(client.app) as other:
        assert login(other).status_code == 401
        assert login(other, password="brand-new-password").status_code == 303
