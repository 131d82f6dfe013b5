"""Surveillance in a real headless Chromium with JavaScript off: log in, import a file
through the form, see the chart with its alarms, confirm the signal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from jembatan.health import services
from tests.conftest import PASSWORD, LiveServer, NodeFactory, add_user
from tests.e2e.test_browser import browser, page
from tests.health.test_surveillance import seasonal

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.environ.get("JEMBATAN_CHROMIUM"), reason="JEMBATAN_CHROMIUM names no Chromium"
    ),
]
__all__ = ["browser", "page"]  # fixtures


def test_officer_imports_and_confirms_a_signal(
    make_node: NodeFactory, page: Page, tmp_path: Path
) -> None:
    node = make_node(require_two_factor=False, health_method="ears-c2")
    add_user(node, "olga", "officer")
    upload = tmp_path / "west-java.csv"
    upload.write_bytes(seasonal("ID-JB", outbreak=60))
    with LiveServer(node) as server:
        page.goto(server.url + "/login")
        page.get_by_label("User name").fill("olga")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Surveillance").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Surveillance")
        expect(page.get_by_text("No counts yet.")).to_be_visible()

        page.get_by_role("link", name="Import counts").click()
        page.get_by_label("File").set_input_files(str(upload))
        page.get_by_label("Classification").select_option("TLP:AMBER")
        page.get_by_role("button", name="Import").click()
        expect(page.get_by_role("status")).to_have_text("Created.")
        expect(page.get_by_text("west-java.csv").first).to_be_visible()

        page.get_by_role("link", name="Surveillance").first.click()
        expect(page.get_by_role("heading", level=2)).to_have_text("Dengue fever (A90)")
        chart = page.get_by_role("img", name="Dengue fever, Jawa Barat (ID-JB)", exact=False)
        expect(chart).to_be_visible()
        expect(page.locator('svg[role="img"] circle.alarm').first).to_be_visible()

        page.get_by_role("link", name="Jawa Barat (ID-JB)").click()
        expect(
            page.get_by_role("img", name="Dengue fever, Jawa Barat (ID-JB)", exact=False)
        ).to_be_visible()
        expect(page.get_by_role("cell", name="Alarm").first).to_be_visible()

        page.get_by_role("link", name="← Surveillance").click()
        page.get_by_role("link", name="Signals", exact=True).click()
        page.get_by_role("button", name="Check our series now").click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        page.get_by_label("Note").first.fill("Confirmed by the province")
        page.get_by_role("button", name="Confirm and tell partners").first.click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        expect(page.get_by_role("link", name="Confirmed", exact=True)).to_have_attribute(
            "aria-current", "page"
        )
        expect(page.get_by_text("Confirmed by the province")).to_be_visible()
    assert len(services.signals(node, "confirmed")) == 1
