"""What operators rely on: health, readiness, metrics, problem details, request ids, logs."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from jembatan import logs
from jembatan.accounts import tokens
from jembatan.node.context import Node
from tests.conftest import PASSWORD, add_user, login


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "alive"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["migrations"]["ok"] is True


def test_readyz_fails_when_schema_is_behind(node: Node, client: TestClient) -> None:
    with node.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "failing checks: migrations"


def test_metrics_count_requests(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/healthz")
    text_body = client.get("/metrics").text
    assert (
        'jembatan_http_requests_total{method="GET",route="/healthz",status="200"} 2.0' in text_body
    )
    assert "jembatan_build_info" in text_body


def test_errors_are_problem_json(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    body = missing.json()
    assert body["type"].endswith("/not-found")
    assert body["status"] == 404
    assert body["instance"] == "/api/v1/nothing"
    assert body["request_id"] == missing.headers["x-request-id"]
    wrong_method = client.delete("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"


def test_browser_gets_an_html_error_page(client: TestClient) -> None:
    page = client.get("/no-such-page", headers={"Accept": "text/html", "Accept-Language": "id"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Tidak ditemukan" in page.text


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "req-12345678"})
    assert given.headers["x-request-id"] == "req-12345678"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 36


def test_security_headers(client: TestClient) -> None:
    page = client.get("/login")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_api_docs_are_served(client: TestClient) -> None:
    assert client.get("/api/docs").status_code == 200
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/me" in spec["paths"]


def test_logs_are_json_and_never_hold_secrets(
    node: Node, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("debug", "json")
    try:
        user = add_user(node)
        issued = tokens.create_token(node, user, "t", ["profile:read"], timedelta(days=1))
        login(client)
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {issued.token}"})
        logs.get_logger("test").info("oops", password=PASSWORD, note=f"token {issued.token}")
        err = capsys.readouterr().err
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(line.get("path") == "/api/v1/me" and line["status"] == 200 for line in lines)
    assert all("request_id" in line for line in lines if line.get("event") == "request")
    assert PASSWORD not in err
    assert issued.token not in err
    assert "[redacted]" in err
