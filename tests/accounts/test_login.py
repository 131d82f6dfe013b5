"""Logging in over HTTP as a browser does: passwords, lockout, two-factor, CSRF, logout."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from jembatan.accounts.models import User
from jembatan.node.context import Node
from jembatan.store.schema import utcnow
from jembatan.web.app import create_app
from tests.conftest import NodeFactory, add_user, csrf_of, login, totp_now


def test_login_shows_the_dashboard(node: Node, client: TestClient) -> None:
    add_user(node)
    answer = login(client)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "Welcome, Alice." in page.text
    assert "ASEAN/GOV/IDN-KEMENKES" in page.text


def test_pages_need_login(client: TestClient) -> None:
    answer = client.get("/profile", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/profile"


def test_wrong_password_and_unknown_user_look_the_same(node: Node, client: TestClient) -> None:
    add_user(node)
    wrong = login(client, password="not-the-password")
    unknown = login(client, username="nobody")
    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert "wrong user name or password" in answer.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_lockout_after_repeated_failures(make_node: NodeFactory) -> None:
    node = make_node(require_two_factor=False, login_max_failures=3, lockout_minutes=5)
    add_user(node)
    with TestClient(create_app(node)) as client:
        for _ in range(2):
            assert login(client, password="wrong-password-x").status_code == 401
        third = login(client, password="wrong-password-x")
        assert third.status_code == 429
        assert "locked" in third.text
        # Even the right password is refused while locked.
        assert login(client).status_code == 429
        with node.transaction() as s:
            s.execute(update(User).values(locked_until=utcnow() - timedelta(seconds=1)))
        assert login(client).status_code == 303


def test_failures_per_address_are_throttled(make_node: NodeFactory) -> None:
    node = make_node(require_two_factor=False, login_ip_limit_per_minute=3)
    add_user(node)
    with TestClient(create_app(node)) as client:
        for name in ("a1", "b2", "c3"):
            assert login(client, username=name).status_code == 401
        assert login(client).status_code == 429


def test_csrf_is_required_on_forms(node: Node, client: TestClient) -> None:
    add_user(node)
    client.get("/login")
    missing = client.post(
        "/login", data={"username": "alice", "password": "x" * 20, "csrf_token": ""}
    )
    assert missing.status_code == 403
    forged = client.post(
        "/login", data={"username": "alice", "password": "x" * 20, "csrf_token": "0" * 64}
    )
    assert forged.status_code == 403
    # A token from another browser (another CSRF cookie) does not pass either.
    with TestClient(create_app(node)) as other:
        stolen = csrf_of(other.get("/login").text)
    assert (
        client.post(
            "/login", data={"username": "alice", "password": "x" * 20, "csrf_token": stolen}
        ).status_code
        == 403
    )
    # Logged in, a form token from the anonymous page no longer fits the session.
    anonymous_token = csrf_of(client.get("/login").text)
    assert login(client).status_code == 303
    assert client.post("/logout", data={"csrf_token": anonymous_token}).status_code == 403


def test_logout_ends_the_session(node: Node, client: TestClient) -> None:
    add_user(node)
    login(client)
    cookie = dict(client.cookies)
    token = csrf_of(client.get("/").text)
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/login?notice=logged-out"
    # Replaying the old cookie does not bring the session back.
    client.cookies.update(cookie)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_session_cookie_flags(node: Node) -> None:
    add_user(node)
    with TestClient(create_app(node), base_url="https://testserver") as client:
        answer = login(client)
    set_cookie = [v for k, v in answer.headers.multi_items() if k == "set-cookie"]
    session = next(c for c in set_cookie if c.startswith("jb_session_"))
    assert "HttpOnly" in session
    assert "SameSite=lax" in session
    assert "Secure" in session
    assert "max-age" in session.lower()


def test_disabled_user_cannot_log_in_and_is_logged_out(node: Node, client: TestClient) -> None:
    alice = add_user(node)
    add_user(node, "bob", "officer")
    with TestClient(create_app(node)) as bob:
        login(bob, "bob")
        assert bob.get("/").status_code == 200
        login(client)
        token = csrf_of(client.get("/users").text)
        bob_id = alice + 1
        client.post(f"/users/{bob_id}", data={"csrf_token": token, "action": "disable"})
        assert bob.get("/", follow_redirects=False).status_code == 303
        assert login(bob, "bob").status_code == 401


def _enrol(client: TestClient) -> tuple[str, list[str]]:
    page = client.get("/profile/two-factor")
    assert page.status_code == 200
    assert "<svg" in page.text
    secret = re.search(r'<p class="key mono"[^>]*>([A-Z2-7]+)</p>', page.text)
    assert secret, "manual key is shown"
    wrong = client.post(
        "/profile/two-factor", data={"csrf_token": csrf_of(page.text), "code": "000000"}
    )
    assert wrong.status_code == 422
    done = client.post(
        "/profile/two-factor",
        data={"csrf_token": csrf_of(page.text), "code": totp_now(secret.group(1))},
    )
    assert done.status_code == 200
    codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", done.text)
    assert len(codes) == 10
    return secret.group(1), codes


def test_two_factor_enrolment_and_login(make_node: NodeFactory) -> None:
    node = make_node(require_two_factor=True)
    add_user(node)
    with TestClient(create_app(node)) as client:
        login(client)
        # The node requires two-factor: an un-enrolled official is sent to enrol.
        forced = client.get("/", follow_redirects=False)
        assert forced.headers["location"] == "/profile/two-factor"
        secret, codes = _enrol(client)
        assert client.get("/").status_code == 200
        client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})

        first = login(client)
        assert first.headers["location"] == "/login/two-factor?next=/"
        assert client.get("/", follow_redirects=False).headers["location"] == "/login/two-factor"
        form = client.get("/login/two-factor")
        bad = client.post(
            "/login/two-factor", data={"csrf_token": csrf_of(form.text), "code": "123456"}
        )
        assert bad.status_code == 401
        # The code used at enrolment cannot be replayed; the next one works.
        code = totp_now(secret, 30)
        ok = client.post(
            "/login/two-factor",
            data={"csrf_token": csrf_of(form.text), "code": code},
            follow_redirects=False,
        )
        assert ok.status_code == 303
        assert client.get("/").status_code == 200
        client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})

        # A replayed code is refused.
        login(client)
        form = client.get("/login/two-factor")
        replay = client.post(
            "/login/two-factor", data={"csrf_token": csrf_of(form.text), "code": code}
        )
        assert replay.status_code == 401
        # A recovery code works once.
        rec = client.post(
            "/login/two-factor",
            data={"csrf_token": csrf_of(form.text), "code": codes[0].upper()},
            follow_redirects=False,
        )
        assert rec.status_code == 303
        assert rec.headers["location"] == "/profile/two-factor?recovery-used=1"
        assert "Recovery codes left: 9." in client.get(rec.headers["location"]).text
        client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})
        login(client)
        form = client.get("/login/two-factor")
        again = client.post(
            "/login/two-factor", data={"csrf_token": csrf_of(form.text), "code": codes[0]}
        )
        assert again.status_code == 401


def test_totp_secret_is_sealed_at_rest(make_node: NodeFactory) -> None:
    node = make_node(require_two_factor=True)
    add_user(node)
    with TestClient(create_app(node)) as client:
        login(client)
        secret, _ = _enrol(client)
    with node.db() as s:
        stored = s.query(User).one().totp_secret
    assert stored
    assert secret not in stored


def test_admin_unlocks_and_resets_password(make_node: NodeFactory) -> None:
    node = make_node(require_two_factor=False, login_max_failures=2)
    add_user(node, "root", "admin")
    bob = add_user(node, "bob", "officer")
    with TestClient(create_app(node)) as client:
        for _ in range(2):
            login(client, "bob", "wrong-password-x")
        assert login(client, "bob").status_code == 429
        login(client, "root")
        page = client.get("/users")
        assert 'value="unlock"' in page.text
        client.post(f"/users/{bob}", data={"csrf_token": csrf_of(page.text), "action": "unlock"})
    with TestClient(create_app(node)) as other:
        assert login(other, "bob").status_code == 303
    from jembatan.accounts import services

    services.reset_password(node, bob, "a-brand-new-password")
    with TestClient(create_app(node)) as other:
        assert login(other, "bob").status_code == 401
        assert login(other, "bob", "a-brand-new-password").status_code == 303
