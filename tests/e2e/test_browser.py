"""The main path in a real headless Chromium, with JavaScript switched off."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from jembatan.node.context import Node
from tests.conftest import PASSWORD, LiveServer, NodeFactory, add_user, totp_now
from tests.fed import Federation

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("JEMBATAN_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    yield context.new_page()
    context.close()


@pytest.fixture
def secure_node(make_node: NodeFactory) -> Node:
    node = make_node(require_two_factor=True)
    add_user(node)
    return node


def _log_in(page: Page, url: str) -> None:
    page.goto(url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_login_enrol_logout_code_login_and_switch_language(secure_node: Node, page: Page) -> None:
    with LiveServer(secure_node) as server:
        _log_in(page, server.url)
        # The node requires two-factor login: enrolment comes first.
        expect(page).to_have_url(server.url + "/profile/two-factor")
        expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
        secret = page.locator("p.key").inner_text().strip()
        page.get_by_label("Code").fill(totp_now(secret))
        page.get_by_role("button", name="Turn on two-factor login").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor login is on")
        expect(page.locator("#recovery-codes li")).to_have_count(10)
        page.get_by_role("link", name="I have saved them, continue").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")

        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("status")).to_have_text("You have logged out.")

        _log_in(page, server.url)
        expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor login")
        page.get_by_label("Code").fill(totp_now(secret, 30))  # the enrolment code is spent
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
        expect(page.get_by_text("Welcome, Alice.")).to_be_visible()

        page.get_by_role("button", name="Bahasa Indonesia").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Dasbor")
        expect(page.locator("html")).to_have_attribute("lang", "id")
        expect(page.get_by_role("button", name="Keluar")).to_be_visible()
        expect(page.get_by_role("navigation")).to_contain_text("Profil")


def test_keyboard_user_can_skip_to_content(secure_node: Node, page: Page) -> None:
    with LiveServer(secure_node) as server:
        page.goto(server.url + "/login")
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to main content")
        expect(skip).to_be_focused()
        expect(skip).to_be_visible()
        # Every form field has a label the browser can name it by.
        expect(page.get_by_label("User name")).to_be_editable()
        expect(page.get_by_label("Password")).to_be_editable()


def test_login_page_in_bahasa_indonesia(browser: Browser, secure_node: Node) -> None:
    context = browser.new_context(locale="id-ID", extra_http_headers={"Accept-Language": "id"})
    try:
        page = context.new_page()
        with LiveServer(secure_node) as server:
            page.goto(server.url + "/login")
            expect(page.get_by_role("heading", level=1)).to_have_text("Masuk")
            page.get_by_label("Nama pengguna").fill("alice")
            page.get_by_label("Kata sandi").fill("wrong-password-here")
            page.get_by_role("button", name="Masuk").click()
            expect(page.get_by_role("alert")).to_contain_text("Terjadi masalah")
    finally:
        context.close()


def test_compose_in_one_portal_read_in_another(asean: Federation, page: Page) -> None:
    from jembatan.exchange import delivery

    idn, mys = asean.node("IDN"), asean.node("MYS")
    add_user(idn, "siti", "officer")
    add_user(mys, "aminah", "officer")
    page.goto(idn.settings.base_url + "/login")
    page.get_by_label("User name").fill("siti")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Messages").click()
    page.get_by_role("link", name="New message").click()
    page.get_by_label("ASEAN/GOV/MYS").check()
    page.get_by_label("Subject").fill("Dengue week 47")
    page.get_by_label("Message").fill("Cases up in Riau; call on Thursday?")
    page.get_by_label("Classification (TLP 2.0)").select_option("TLP:GREEN")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Sealed and queued for delivery.")
    delivery.run_once(idn)  # what the node's worker does within a second
    page.reload()
    expect(page.get_by_role("table")).to_contain_text("Delivered")

    page.goto(mys.settings.base_url + "/login")
    page.get_by_label("User name").fill("aminah")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Messages").click()
    page.get_by_role("link", name="Dengue week 47").click()
    expect(page.get_by_text("Cases up in Riau; call on Thursday?")).to_be_visible()
    expect(page.locator("dl")).to_contain_text("ASEAN/GOV/IDN")


def test_auditor_filters_the_ledger_and_checks_a_proof(asean: Federation, page: Page) -> None:
    from jembatan.exchange import delivery, services
    from jembatan.ledger import services as ledger

    idn = asean.node("IDN")
    sent = services.send(idn, ["ASEAN/GOV/MYS"], "Flood relief", b"Boats needed")
    delivery.run_once(idn)
    ledger.issue_checkpoint(idn, force=True)  # what the node's ledger thread does
    add_user(idn, "audra", "auditor")
    page.goto(idn.settings.base_url + "/login")
    page.get_by_label("User name").fill("audra")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Ledger").click()
    page.get_by_label("Type").select_option("message.delivered")
    page.get_by_label("Subject").fill(sent.id)
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(sent.id)
    rows.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ledger entry")
    expect(page.get_by_text("Verified")).to_be_visible()
    page.get_by_role("link", name="Ledger").first.click()
    page.get_by_role("link", name="Checkpoints and witnesses").click()
    expect(page.get_by_role("heading", name="Checkpoints", exact=True)).to_be_visible()


def test_admin_drafts_and_signs_an_agreement(federations: object, page: Page) -> None:
    from tests.fed import FederationFactory

    assert isinstance(federations, FederationFactory)
    fed = federations.build("ASEAN", ("IDN", "MYS"), agreed=False)
    idn = fed.node("IDN")
    add_user(idn, "ana", "admin")
    page.goto(idn.settings.base_url + "/login")
    page.get_by_label("User name").fill("ana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Agreements").click()
    page.get_by_role("link", name="New agreement").click()
    page.get_by_label("Title").fill("Dengue data sharing")
    page.get_by_label("ASEAN/GOV/MYS").check()
    page.get_by_label("Kinds of message allowed").fill("message health.surveillance")
    page.get_by_label("Purpose").fill("Early warning")
    page.get_by_label("Legal basis", exact=True).fill("IHR (2005)")
    page.get_by_label("Replace these fields by pseudonyms").fill("patient.nik")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dengue data sharing")
    expect(page.locator("dl")).to_contain_text("Draft")
    expect(page.locator("dl")).to_contain_text("patient.nik")
    page.get_by_role("button", name="Sign for this node").click()
    expect(page.get_by_role("status")).to_contain_text("Signed")
    expect(page.locator("dl")).to_contain_text("Awaiting signatures")


def test_admin_registers_a_service_and_grants_access(federations: object, page: Page) -> None:
    from jembatan.gateway import services
    from jembatan.registry import authority
    from tests.fed import FederationFactory

    assert isinstance(federations, FederationFactory)
    fed = federations.build("ASEAN", ("IDN", "MYS"), agreed=False)
    authority.set_subsystem(fed.registry, "ASEAN/GOV/IDN/health")
    fed.refresh_all()
    idn = fed.node("IDN")
    add_user(idn, "ana", "admin")
    page.goto(idn.settings.base_url + "/login")
    page.get_by_label("User name").fill("ana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Services").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Services")
    page.get_by_role("link", name="Register a service").click()
    page.get_by_label("Subsystem").select_option("health")
    page.get_by_label("Service code").fill("lookup")
    page.get_by_label("Title").fill("Vaccination lookup")
    page.get_by_label("Internal base URL").fill("http://10.0.0.5:8080/api")
    page.get_by_label("Endpoints (optional)").fill("GET /v1/status/{id}\nPOST /v1/records")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("status")).to_have_text("Created.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("health/lookup")
    expect(page.get_by_role("table").first).to_contain_text("/v1/status/{id}")

    page.get_by_label("Client", exact=True).fill("ASEAN/GOV/MYS/portal")
    page.get_by_label("Endpoint", exact=True).select_option("GET /v1/status/{id}")
    page.get_by_role("button", name="Grant access").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    rights = page.get_by_role("table", name="Access rights to health/lookup")
    expect(rights).to_contain_text("ASEAN/GOV/MYS/portal")
    expect(rights).to_contain_text("GET /v1/status/{id}")
    [right] = services.get(idn, "health/lookup").rights
    assert right.client == "ASEAN/GOV/MYS/portal"
