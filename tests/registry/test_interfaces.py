"""Trust through the CLI and the portal, as operators and administrators use it."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from jembatan.node.context import Node
from jembatan.registry import authority, membership
from jembatan.web.app import create_app
from tests.conftest import KEY_PASSPHRASE, add_user, csrf_of, login
from tests.fed import Federation, FederationFactory
from tests.node.test_cli import run


def _env(node: Node, passphrase: str | None = KEY_PASSPHRASE) -> dict[str, str]:
    env = {"JEMBATAN_DATABASE_URL": str(node.settings.database_url)}
    if passphrase:
        env["JEMBATAN_KEY_PASSPHRASE"] = passphrase
    return env


def test_join_and_approve_with_the_cli(
    asean: Federation, federations: FederationFactory, tmp_path: Path
) -> None:
    registry = asean.registry
    anchor_file = tmp_path / "anchor.json"
    wrote = run(
        "registry",
        "anchor",
        "-d",
        str(registry.data_dir),
        "-o",
        str(anchor_file),
        env=_env(registry),
    )
    assert wrote.returncode == 0, wrote.stderr
    assert json.loads(anchor_file.read_text())["instance"] == "ASEAN"

    newcomer = federations.serve("ASEAN/GOV/THA-MOPH")
    joined = run(
        "join",
        "-d",
        str(newcomer.data_dir),
        "--registry",
        registry.settings.base_url,
        "--anchor",
        str(anchor_file),
        "--country",
        "th",
        "--json",
        env=_env(newcomer),
    )
    assert joined.returncode == 0, joined.stderr
    request_id = json.loads(joined.stdout)["id"]
    pending = json.loads(
        run(
            "registry", "requests", "-d", str(registry.data_dir), "--json", env=_env(registry)
        ).stdout
    )
    assert [(r["id"], r["member"], r["country"]) for r in pending] == [
        (request_id, "ASEAN/GOV/THA-MOPH", "TH")
    ]
    approved = run(
        "registry", "approve", str(request_id), "-d", str(registry.data_dir), env=_env(registry)
    )
    assert approved.returncode == 0, approved.stderr
    again = run(
        "registry", "approve", str(request_id), "-d", str(registry.data_dir), env=_env(registry)
    )
    assert again.returncode == 4
    assert "already approved" in again.stderr

    refreshed = run(
        "directory", "refresh", "-d", str(newcomer.data_dir), "--json", env=_env(newcomer)
    )
    assert refreshed.returncode == 0, refreshed.stderr
    shown = json.loads(
        run("directory", "show", "-d", str(newcomer.data_dir), "--json", env=_env(newcomer)).stdout
    )
    members = {m["id"] for d in shown["directories"] for m in d["members"]}
    assert "ASEAN/GOV/THA-MOPH" in members
    assert shown["status"]["ok"] is True


def test_serve_without_or_with_a_wrong_passphrase_refuses(asean: Federation) -> None:
    node = asean.node("IDN")
    missing = run("serve", "-d", str(node.data_dir), env=_env(node, None))
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: setting JEMBATAN_KEY_PASSPHRASE is missing")
    wrong = run("serve", "-d", str(node.data_dir), env=_env(node, "not-the-passphrase"))
    assert wrong.returncode == 2
    assert "JEMBATAN_KEY_PASSPHRASE is wrong" in wrong.stderr


def test_keys_are_sealed_at_rest(asean: Federation) -> None:
    from jembatan.node.models import NodeKey

    node = asean.node("IDN")
    with node.db() as s:
        rows = list(s.query(NodeKey))
    assert rows
    assert all(r.private_pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----") for r in rows)


def test_directory_and_registry_pages(asean: Federation, federations: FederationFactory) -> None:
    node = asean.node("MYS")
    add_user(node, "siti", "officer")
    with TestClient(create_app(node)) as client:
        login(client, "siti")
        page = client.get("/directory")
        assert page.status_code == 200
        assert "ASEAN/GOV/IDN" in page.text
        assert "Members of ASEAN" in page.text
        assert client.get("/registry").status_code == 403

    federations.add_member(asean, "VNM", approve=False)
    registry = asean.registry
    add_user(registry, "root", "admin")
    with TestClient(create_app(registry)) as client:
        login(client, "root")
        page = client.get("/registry")
        assert page.status_code == 200
        assert "ASEAN/GOV/VNM" in page.text
        pending = authority.list_requests(registry)[0]
        refused = client.post(
            f"/registry/requests/{pending.id}/reject",
            data={"csrf_token": csrf_of(page.text), "reason": " "},
        )
        assert refused.status_code == 422
        assert "give a reason" in refused.text
        done = client.post(
            f"/registry/requests/{pending.id}/approve",
            data={"csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert done.status_code == 303
    membership.refresh(node)
    assert membership.federation(node).member("ASEAN/GOV/VNM") is not None
