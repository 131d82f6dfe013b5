"""Workspaces in a real headless Chromium with JavaScript off: a document uploaded in one
node's portal appears, byte for byte, in the partner node's portal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from jembatan.accounts.services import find_user
from jembatan.workspaces import services as ws
from jembatan.workspaces.services import Person
from tests.conftest import PASSWORD, add_user
from tests.e2e.test_browser import browser, page
from tests.fed import FederationFactory, agree
from tests.workspaces.test_replication import settle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.environ.get("JEMBATAN_CHROMIUM"), reason="JEMBATAN_CHROMIUM names no Chromium"
    ),
]
__all__ = ["browser", "page"]  # fixtures


def _log_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_document_uploaded_at_one_node_appears_at_the_other(
    federations: FederationFactory, page: Page, tmp_path: Path
) -> None:
    fed = federations.build("ASEAN", ("IDN", "MYS"), agreed=False)
    idn, mys = fed.node("IDN"), fed.node("MYS")
    agree([idn, mys], kinds=("workspace",), ceiling="TLP:AMBER")
    add_user(idn, "ana", "officer")
    add_user(mys, "mei", "officer")
    ana, mei = Person.of(find_user(idn, "ana")), Person.of(find_user(mys, "mei"))
    wid = ws.create(idn, ana, "ASEAN dengue response", classification="TLP:GREEN")
    ws.invite(idn, wid, ana, mys.member_id)
    settle([idn, mys])
    ws.join(mys, wid, mei)
    settle([idn, mys])
    upload = tmp_path / "larvicide-plan.txt"
    upload.write_bytes(b"Rencana larvasida: Bekasi, Bogor, Depok\n")

    _log_in(page, idn.settings.base_url, "ana")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workspaces").click()
    page.get_by_role("link", name="ASEAN dengue response").click()
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Documents").click()
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_label("Title").fill("Larvicide plan")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_role("heading", name="Larvicide plan")).to_be_visible()

    settle([idn, mys])  # the nodes' delivery workers, run here by the test
    _log_in(page, mys.settings.base_url, "mei")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workspaces").click()
    page.get_by_role("link", name="ASEAN dengue response").click()
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Documents").click()
    page.get_by_role("link", name="Larvicide plan").click()
    expect(page.get_by_role("cell", name=f"{idn.member_id}/user/ana")).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("link", name="larvicide-plan.txt").click()
    assert Path(info.value.path()).read_bytes() == upload.read_bytes()
    assert ws.get(idn, wid, None).state_hash == ws.get(mys, wid, None).state_hash
