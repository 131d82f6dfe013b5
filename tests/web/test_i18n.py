"""Every visible string is in both languages; the language follows the user, then the browser."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from jembatan.node.context import Node
from jembatan.web import i18n
from tests.conftest import add_user, csrf_of, login

_FIELDS = re.compile(r"\{[^}]*\}|%\(\w+\)s")


def test_catalogue_translates_every_extracted_string() -> None:
    with (i18n.LOCALES / "id" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="id")
    extracted = {msgid for msgid, _ in i18n.extract()}
    assert extracted, "extraction found strings"
    missing = sorted(m for m in extracted if not getattr(catalog.get(m), "string", None))
    assert missing == [], "untranslated (run `make messages`, then translate)"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert fuzzy == []
    for message in catalog:
        if message.id:
            assert sorted(_FIELDS.findall(str(message.id))) == sorted(
                _FIELDS.findall(str(message.string))
            ), message.id


def test_negotiation() -> None:
    assert i18n.negotiate("id-ID,id;q=0.9,en;q=0.8") == "id"
    assert i18n.negotiate("en-GB,en;q=0.9,id;q=0.8") == "en"
    assert i18n.negotiate("fr-FR, id;q=0.5") == "id"
    assert i18n.negotiate("fr, de") is None
    assert i18n.negotiate("id;q=0, en;q=0.1") == "en"
    assert i18n.negotiate(None) is None


def test_login_page_follows_accept_language(client: TestClient) -> None:
    page = client.get("/login", headers={"Accept-Language": "id-ID,id;q=0.9"})
    assert '<html lang="id">' in page.text
    assert "<h1>Masuk</h1>" in page.text
    assert page.headers["content-language"] == "id"
    english = client.get("/login", headers={"Accept-Language": "en"})
    assert "<h1>Log in</h1>" in english.text


def test_chosen_language_beats_the_browser_and_sticks_to_the_user(
    node: Node, client: TestClient
) -> None:
    add_user(node)
    login(client)
    page = client.get("/", headers={"Accept-Language": "en"})
    client.post("/language", data={"csrf_token": csrf_of(page.text), "language": "id", "next": "/"})
    dashboard = client.get("/", headers={"Accept-Language": "en"})
    assert "<h1>Dasbor</h1>" in dashboard.text
    # A new browser (no language cookie) gets the user's own choice after logging in.
    with TestClient(client.app) as fresh:
        login(fresh)
        assert "<h1>Dasbor</h1>" in fresh.get("/", headers={"Accept-Language": "en"}).text


def test_dashboard_is_light(node: Node, client: TestClient) -> None:
    add_user(node)
    login(client)
    page = client.get("/")
    assert page.status_code == 200
    assert len(page.content) < 100 * 1024
    assert "<script" not in page.text
    css = client.get("/static/style.css")
    assert css.status_code == 200
    assert len(page.content) + len(css.content) < 100 * 1024
