"""The exchange through the CLI and the portal, as officials and operators use it."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from jembatan.agreements.rules import active as active_agreements
from jembatan.exchange import delivery, services
from jembatan.node.context import Node
from jembatan.web.app import create_app
from tests.conftest import KEY_PASSPHRASE, add_user, csrf_of, login
from tests.fed import Federation
from tests.node.test_cli import run


def _env(node: Node) -> dict[str, str]:
    return {
        "JEMBATAN_DATABASE_URL": str(node.settings.database_url),
        "JEMBATAN_KEY_PASSPHRASE": KEY_PASSPHRASE,
    }


def test_cli_send_deliver_show_get_export(asean: Federation, tmp_path: Path) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    d_idn, d_mys = ["-d", str(idn.data_dir)], ["-d", str(mys.data_dir)]
    report = tmp_path / "week47.csv"
    report.write_bytes(b"province,cases\nRiau,412\n")
    sent = run(
        "send",
        *d_idn,
        "--to",
        "ASEAN/GOV/MYS",
        "--subject",
        "Week 47",
        "--file",
        str(report),
        "--classification",
        "TLP:GREEN",
        env=_env(idn),
    )
    assert sent.returncode == 0, sent.stderr
    mid = sent.stdout.strip()
    worked = run("worker", *d_idn, "--once", env=_env(idn))
    assert worked.returncode == 0, worked.stderr
    shown = json.loads(run("message", "show", mid, *d_idn, "--json", env=_env(idn)).stdout)
    assert shown["deliveries"][0]["status"] == "delivered"
    assert shown["deliveries"][0]["receipt"].count(".") == 2
    inbox = json.loads(run("inbox", *d_mys, "--json", env=_env(mys)).stdout)
    assert [(m["id"], m["filename"]) for m in inbox] == [(mid, "week47.csv")]
    out = tmp_path / "got.csv"
    got = run("message", "get", mid, *d_mys, "-o", str(out), env=_env(mys))
    assert got.returncode == 0, got.stderr
    assert out.read_bytes() == report.read_bytes()
    exported = run("message", "export", mid, *d_mys, env=_env(mys))
    assert json.loads(exported.stdout)["recipients"]
    bad = run(
        "send", *d_idn, "--to", "ASEAN/GOV/NOWHERE", "--subject", "x", "--text", "x", env=_env(idn)
    )
    assert bad.returncode == 2
    assert "not in the member directory" in bad.stderr
    both = run("send", *d_idn, "--to", "ASEAN/GOV/MYS", "--subject", "x", env=_env(idn))
    assert both.returncode == 2
    assert "exactly one of --text or --file" in both.stderr


def test_portal_compose_in_one_node_and_read_in_another(asean: Federation) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    add_user(idn, "siti", "officer")
    add_user(mys, "aminah", "officer")
    with TestClient(create_app(idn)) as portal:
        login(portal, "siti")
        form = portal.get("/messages/new")
        assert "ASEAN/GOV/MYS" in form.text
        [agreement] = [a.id for a in active_agreements(idn)]
        assert f'<option value="{agreement}"' in form.text  # the official may name it
        empty = portal.post(
            "/messages",
            data={"csrf_token": csrf_of(form.text), "subject": "No one", "text": "x"},
            files={"file": ("", b"", "application/octet-stream")},
        )
        assert empty.status_code == 422
        assert "name at least one recipient" in empty.text
        sent = portal.post(
            "/messages",
            data={
                "csrf_token": csrf_of(form.text),
                "to": ["ASEAN/GOV/MYS"],
                "subject": "Joint review call",
                "text": "Thursday 10:00?",
                "classification": "TLP:GREEN",
                "expires": "7d",
                "agreement": agreement,
            },
            files={"file": ("", b"", "application/octet-stream")},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        page = portal.get(sent.headers["location"])
        assert "Sealed and queued for delivery." in page.text
        assert "Queued" in page.text
        delivery.run_once(idn)
        assert "Delivered" in portal.get(sent.headers["location"]).text
        assert "Signed receipt" in portal.get(sent.headers["location"]).text
    with TestClient(create_app(mys)) as portal:
        login(portal, "aminah")
        inbox = portal.get("/messages")
        assert "Joint review call" in inbox.text
        [message] = services.list_messages(mys, "inbox")
        shown = portal.get(f"/messages/{message.id}")
        assert "Thursday 10:00?" in shown.text
        assert "ASEAN/GOV/IDN" in shown.text


def test_auditors_do_not_read_messages(asean: Federation) -> None:
    idn = asean.node("IDN")
    add_user(idn, "audit", "auditor")
    with TestClient(create_app(idn)) as portal:
        login(portal, "audit")
        assert portal.get("/messages").status_code == 403
        assert 'href="/messages"' not in portal.get("/").text
