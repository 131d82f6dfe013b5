"""Managing services through the CLI and the API, as an operator and an agency's system
would: clear errors, exit codes and problem documents, nothing half-written."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from jembatan.accounts.tokens import create_token
from jembatan.gateway import services
from jembatan.web.app import create_app
from tests.conftest import add_user
from tests.exchange.test_interfaces import _env
from tests.gateway.conftest import SERVICE, Setup
from tests.node.test_cli import run


def test_cli_registers_grants_and_shows_calls(setup: Setup, tmp_path: Path) -> None:
    idn = setup.idn
    d = ["-d", str(idn.data_dir)]
    env = _env(idn)
    spec = tmp_path / "openapi.json"
    spec.write_text(
        json.dumps(
            {
                "openapi": "3.0.3",
                "info": {"title": "t", "version": "1"},
                "paths": {"/v1/things/{id}": {"get": {}, "delete": {}}},
            }
        )
    )
    added = run(
        "service", "add", "health", "things", "--url", setup.internal, "--openapi", str(spec),
        *d, "--json", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    doc = json.loads(added.stdout)
    assert doc["id"] == "ASEAN/GOV/IDN/health/things"
    assert {(e["method"], e["path"]) for e in doc["endpoints"]} == {
        ("GET", "/v1/things/{id}"),
        ("DELETE", "/v1/things/{id}"),
    }
    again = run("service", "add", "health", "things", "--url", setup.internal, *d, env=env)
    assert again.returncode == 4
    assert "already registered" in again.stderr
    unknown_sub = run("service", "add", "nope", "x", "--url", setup.internal, *d, env=env)
    assert unknown_sub.returncode == 2
    assert "not in the directory" in unknown_sub.stderr

    granted = run(
        "service", "grant", "health/things", "ASEAN/GOV/MYS/portal",
        "--endpoint", "GET /v1/things/{id}", *d, "--json", env=env,
    )  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    assert json.loads(granted.stdout)["access"][0]["endpoint"] == "GET /v1/things/{id}"
    bad_client = run("service", "grant", "health/things", "not-an-id", *d, env=env)
    assert bad_client.returncode == 2
    changed = run(
        "service", "set", "health/things", "--title", "Things", "--timeout", "5", *d, "--json",
        env=env,
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert (json.loads(changed.stdout)["title"], json.loads(changed.stdout)["timeout_seconds"]) == (
        "Things",
        5,
    )
    assert run("service", "set", "health/things", "--url", "ftp://x", *d, env=env).returncode == 2
    disabled = run(
        "service", "endpoint", "health/things", "DELETE", "/v1/things/{id}", "--disable", *d,
        env=env,
    )  # fmt: skip
    assert disabled.returncode == 0, disabled.stderr
    assert "(disabled)" in disabled.stdout

    # A call, then the log on both sides.
    answer = setup.call("MYS", "GET", f"{SERVICE}/v1/x")
    assert answer.status_code == 200
    logged = run("service", "calls", *d, "--json", env=env)
    [call] = json.loads(logged.stdout)
    assert call["role"] == "provider"
    assert call["request_id"] == answer.headers["x-road-request-id"]
    assert call["ledger_index"] is not None
    listed = run("service", "list", *d, env=env)
    assert "health/echo" in listed.stdout
    assert "health/things" in listed.stdout
    revoked = run("service", "revoke", "health/echo", "ASEAN/GOV/MYS/portal", *d, env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert setup.call("MYS", "GET", f"{SERVICE}/v1/x").headers["x-road-error"] == (
        "Server.ServerProxy.AccessDenied"
    )
    assert (
        run("service", "revoke", "health/echo", "ASEAN/GOV/MYS/portal", *d, env=env).returncode == 3
    )
    assert run("service", "disable", "health/echo", *d, env=env).returncode == 0
    assert setup.call("MYS", "GET", f"{SERVICE}/v1/x").headers["x-road-error"] == (
        "Server.ServerProxy.ServiceDisabled"
    )
    assert run("service", "remove", "health/things", *d, env=env).returncode == 0
    assert run("service", "show", "health/things", *d, env=env).returncode == 3


def test_api_manages_services_with_scopes_and_problems(setup: Setup) -> None:
    idn = setup.idn
    admin = add_user(idn, "ada", "admin")
    auditor = add_user(idn, "aud", "auditor")
    write = create_token(idn, admin, "t", "services:write services:read", timedelta(days=1)).token
    read = create_token(idn, auditor, "t", "services:read", timedelta(days=1)).token
    with TestClient(create_app(idn)) as client:
        w = {"Authorization": f"Bearer {write}"}
        r = {"Authorization": f"Bearer {read}"}
        made = client.post(
            "/api/v1/services",
            headers=w,
            json={
                "subsystem": "health",
                "code": "lookup",
                "base_url": setup.internal,
                "endpoints": [{"method": "GET", "path": "/v1/**"}],
            },
        )
        assert made.status_code == 201, made.text
        bad = client.post(
            "/api/v1/services",
            headers=w,
            json={"subsystem": "health", "code": "x", "base_url": "ftp://nope"},
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert "http://" in bad.json()["detail"]
        assert client.get("/api/v1/services", headers=r).status_code == 200
        denied = client.post(
            "/api/v1/services/health/lookup/access", headers=r, json={"client": "A/B/C/D"}
        )
        assert denied.status_code == 403
        granted = client.post(
            "/api/v1/services/health/lookup/access",
            headers=w,
            json={"client": "agreement:nonexistent"},
        )
        assert granted.status_code == 201
        assert granted.json()["access"][0]["client"] == "agreement:nonexistent"
        wrong_endpoint = client.post(
            "/api/v1/services/health/lookup/access",
            headers=w,
            json={"client": "ASEAN/GOV/SGP/portal", "endpoint": "PUT /v1/**"},
        )
        assert wrong_endpoint.status_code == 404
        # The failed grant left nothing behind.
        assert len(services.get(idn, "health/lookup").rights) == 1
        changed = client.patch("/api/v1/services/health/lookup", headers=w, json={"enabled": False})
        assert changed.json()["enabled"] is False
        assert client.get("/api/v1/service-calls", headers=r).json() == []
        assert client.delete("/api/v1/services/health/lookup", headers=w).status_code == 204
        assert client.get("/api/v1/services/health/lookup", headers=r).status_code == 404
