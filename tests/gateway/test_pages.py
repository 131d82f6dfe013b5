"""The gateway's portal pages: registering a service, its endpoints and access rights, and
the call log down to one call, for the roles that may see them."""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi.testclient import TestClient

from jembatan.gateway import services
from jembatan.gateway.models import Call
from jembatan.node.context import Node
from jembatan.web.app import create_app
from tests.conftest import add_user, csrf_of, login
from tests.gateway.conftest import SERVICE, Setup

HTML = {"Accept": "text/html"}


@contextmanager
def portal(node: Node, username: str, role: str) -> Iterator[TestClient]:
    add_user(node, username, role)
    with TestClient(create_app(node), headers=HTML) as client:
        assert login(client, username).status_code == 303
        yield client


def _post(browser: TestClient, page: str, url: str, /, **data: str) -> httpx.Response:
    """Post a form of the page, with the page's CSRF token."""
    token = csrf_of(browser.get(page).text)
    answer: httpx.Response = browser.post(
        url, data={"csrf_token": token, **data}, follow_redirects=False
    )
    return answer


def _call_row(node: Node, request_id: str, role: str) -> Call:
    """The call's row; it is written as the answer finishes streaming."""
    deadline = time.monotonic() + 10
    while True:
        found = [c for c in services.calls(node, role=role) if c.request_id == request_id]
        if found or time.monotonic() > deadline:
            assert found, f"call {request_id} not logged"
            return found[0]
        time.sleep(0.05)


def test_admin_registers_a_service_and_manages_its_endpoints_and_access(setup: Setup) -> None:
    idn = setup.idn
    with portal(idn, "ana", "admin") as client:
        listed = client.get("/services")
        assert listed.status_code == 200
        assert 'href="/services/health/echo"' in listed.text
        assert 'href="/services/new"' in listed.text
        assert '<a href="/services" aria-current="page">Services</a>' in listed.text
        assert "<script" not in listed.text

        form = client.get("/services/new")
        assert '<option value="health"' in form.text
        refused = client.post(
            "/services",
            data={
                "csrf_token": csrf_of(form.text),
                "subsystem": "health",
                "code": "lookup",
                "title": "Vaccination lookup",
                "base_url": "ftp://10.0.0.5/api",
                "timeout_seconds": "30",
                "endpoints": "GET /v1/status/{id}",
            },
        )
        assert refused.status_code == 422
        assert "must start with http:// or https://" in refused.text
        assert 'value="Vaccination lookup"' in refused.text  # what was entered stays
        assert "GET /v1/status/{id}</textarea>" in refused.text

        created = client.post(
            "/services",
            data={
                "csrf_token": csrf_of(refused.text),
                "subsystem": "health",
                "code": "lookup",
                "title": "Vaccination lookup",
                "base_url": setup.internal,
                "timeout_seconds": "30",
                "endpoints": "GET /v1/status/{id}\n\nPOST /v1/records\n",
            },
            follow_redirects=False,
        )
        assert created.status_code == 303, created.text
        assert created.headers["location"] == "/services/health/lookup?notice=created"
        page = client.get(created.headers["location"])
        assert "Created." in page.text
        assert setup.internal in page.text  # the base URL, to those who may change it
        assert "/v1/status/{id}" in page.text
        assert "health/lookup" in client.get("/services").text
        view = services.get(idn, "health/lookup")
        assert view.service.timeout_seconds == 30
        assert [(e.method, e.path) for e in view.endpoints] == [
            ("POST", "/v1/records"),
            ("GET", "/v1/status/{id}"),
        ]

        detail = "/services/health/lookup"
        off = _post(
            client,
            detail,
            detail + "/endpoints",
            method="GET",
            path="/v1/status/{id}",
            enabled="false",
        )
        assert off.status_code == 303
        status = services.get(idn, "health/lookup").endpoints[1]
        assert (status.path, status.enabled) == ("/v1/status/{id}", False)
        _post(client, detail, detail + "/endpoints", method="*", path="/v2/**")
        assert ("*", "/v2/**") in [
            (e.method, e.path) for e in services.get(idn, "health/lookup").endpoints
        ]

        bad = _post(client, detail, detail + "/access", client="not a subsystem")
        assert bad.status_code == 422
        assert "There is a problem" in bad.text
        granted = _post(
            client,
            detail,
            detail + "/access",
            client="ASEAN/GOV/MYS/portal",
            endpoint="POST /v1/records",
        )
        assert granted.status_code == 303
        [right] = services.get(idn, "health/lookup").rights
        assert right.client == "ASEAN/GOV/MYS/portal"
        assert right.granted_by == "ASEAN/GOV/IDN/user/ana"
        page = client.get(detail)
        assert "ASEAN/GOV/MYS/portal" in page.text
        again = _post(
            client,
            detail,
            detail + "/access",
            client="ASEAN/GOV/MYS/portal",
            endpoint="POST /v1/records",
        )
        assert again.status_code == 409
        assert "already has that access" in again.text
        revoked = _post(
            client,
            detail,
            detail + "/access/revoke",
            client="ASEAN/GOV/MYS/portal",
            endpoint="POST /v1/records",
        )
        assert revoked.status_code == 303
        assert services.get(idn, "health/lookup").rights == []

        _post(client, detail, detail + "/state", enabled="false")
        assert not services.get(idn, "health/lookup").service.enabled
        assert "Enable the service" in client.get(detail).text
        _post(client, detail, detail + "/state", enabled="true")
        assert services.get(idn, "health/lookup").service.enabled

        kept = _post(client, detail, detail + "/remove")
        assert kept.status_code == 422
        assert "tick the box" in kept.text
        removed = _post(client, detail, detail + "/remove", confirm="true")
        assert removed.status_code == 303
        assert services.find(idn, "health", "lookup") is None
        assert client.get(detail).status_code == 404


def test_auditors_read_analysts_do_not(setup: Setup) -> None:
    idn = setup.idn
    with portal(idn, "audra", "auditor") as client:
        listed = client.get("/services")
        assert listed.status_code == 200
        assert 'href="/services"' in listed.text  # in the menu
        assert "health/echo" in listed.text
        assert "Register a service" not in listed.text
        assert client.get("/services/calls").status_code == 200
        page = client.get("/services/health/echo")
        assert page.status_code == 200
        assert setup.internal not in page.text  # the internal address is not for readers
        assert "Grant access" not in page.text
        assert client.get("/services/new").status_code == 403
        denied = client.post(
            "/services/health/echo/access",
            data={"csrf_token": csrf_of(page.text), "client": "ASEAN/GOV/SGP/portal"},
        )
        assert denied.status_code == 403
        denied = client.post(
            "/services/health/echo/remove",
            data={"csrf_token": csrf_of(page.text), "confirm": "true"},
        )
        assert denied.status_code == 403
        assert services.find(idn, "health", "echo") is not None
    with portal(idn, "andi", "analyst") as client:
        assert client.get("/services").status_code == 403
        assert client.get("/services/calls").status_code == 403
        assert 'href="/services"' not in client.get("/").text


def test_the_call_log_shows_a_real_call_down_to_its_request_hash(setup: Setup) -> None:
    answer = setup.call("MYS", "POST", f"{SERVICE}/v1/records", content=b"payload")
    assert answer.status_code == 200, answer.text
    request_id = answer.headers["x-road-request-id"]
    request_hash = answer.headers["x-road-request-hash"]
    served = _call_row(setup.idn, request_id, "provider")
    refused = setup.call("SGP", "GET", f"{SERVICE}/v1/x")
    assert refused.headers["x-road-error"] == "Server.ServerProxy.AccessDenied"
    _call_row(setup.idn, refused.headers["x-road-request-id"], "provider")

    with portal(setup.idn, "ana", "admin") as client:
        log = client.get("/services/calls")
        assert log.status_code == 200
        link = f"/services/calls/provider/{request_id}"
        assert f'href="{link}"' in log.text
        assert "<td>Incoming</td>" in log.text
        assert "Server.ServerProxy.AccessDenied" in log.text
        errors = client.get("/services/calls", params={"errors": "true"})
        assert "Server.ServerProxy.AccessDenied" in errors.text
        assert f'href="{link}"' not in errors.text
        outgoing = client.get("/services/calls", params={"role": "consumer"})
        assert "No calls match." in outgoing.text
        by_client = client.get("/services/calls", params={"client": "ASEAN/GOV/MYS/portal"})
        assert f'href="{link}"' in by_client.text
        assert "AccessDenied" not in by_client.text

        page = client.get(link)
        assert page.status_code == 200
        assert html.escape(request_hash) in page.text
        assert served.agreement_id
        assert f'href="/agreements/{served.agreement_id}"' in page.text
        assert served.ledger_index is not None
        assert "/ledger/entries/" not in page.text  # administrators do not read the ledger
        assert client.get("/services/calls/provider/nothing").status_code == 404

    with portal(setup.idn, "audra", "auditor") as client:
        page = client.get(f"/services/calls/provider/{request_id}")
        assert f'href="/ledger/entries/{served.ledger_index}"' in page.text
        assert client.get(f"/ledger/entries/{served.ledger_index}").status_code == 200

    _call_row(setup.mys, request_id, "consumer")
    with portal(setup.mys, "omar", "officer") as client:
        log = client.get("/services/calls", params={"role": "consumer"})
        assert "<td>Outgoing</td>" in log.text
        page = client.get(f"/services/calls/consumer/{request_id}")
        assert html.escape(request_hash) in page.text
        assert "ASEAN/GOV/IDN/health/echo" in page.text
