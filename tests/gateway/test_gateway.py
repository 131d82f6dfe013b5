"""The service gateway end to end: an agency's system calls its own node with pr-rest,
the call crosses to the provider's node and its internal service, and comes back."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta

import httpx
from sqlalchemy import select

from jembatan.accounts import tokens
from jembatan.accounts.services import find_user, update_user
from jembatan.gateway import services
from jembatan.ledger.models import LedgerEntry
from jembatan.node.context import Node
from tests.gateway.conftest import SERVICE, Setup


def _entries(node: Node, type_: str) -> list[dict[str, object]]:
    with node.db() as s:
        rows = s.scalars(select(LedgerEntry).where(LedgerEntry.type == type_))
        return [{"subject": r.subject, **json.loads(r.data)} for r in rows]


def test_allowed_calls_pass_everything_intact(setup: Setup) -> None:
    body = bytes(range(256)) * 40  # binary, with every byte value
    for method in ("GET", "POST", "PUT", "DELETE"):
        answer = setup.call(
            "MYS",
            method,
            f"{SERVICE}/v1/things/a%20b?x=1&y=%C3%A9",
            headers={
                "X-Custom": "kept",
                "Content-Type": "application/x-test",
                "X-Road-UserId": "MY123",
            },
            content=body if method != "GET" else None,
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-echo-method"] == method
        assert answer.headers["x-echo-path"] == "/v1/things/a b"
        assert answer.headers["x-echo-query"] == "x=1&y=%C3%A9"
        assert answer.headers["x-echo-custom"] == "kept"
        assert answer.headers["x-echo-userid"] == "MY123"
        # The consumer's token never leaves its node.
        assert answer.headers["x-echo-authorization"] == ""
        assert answer.headers["x-echo-client"] == "ASEAN/GOV/MYS/portal"
        assert answer.content == (body if method != "GET" else b"")
        assert answer.headers["x-road-client"] == "ASEAN/GOV/MYS/portal"
        assert answer.headers["x-road-service"] == "ASEAN/GOV/IDN/health/echo"
        assert answer.headers["x-road-id"].startswith("ASEAN-")
        assert answer.headers["x-road-request-id"]
        assert len(base64.b64decode(answer.headers["x-road-request-hash"])) == 64
        assert "x-road-error" not in answer.headers
    # The provider's own errors pass through unchanged.
    failed = setup.call("MYS", "GET", f"{SERVICE}/v1/x?status=418")
    assert failed.status_code == 418
    assert "x-road-error" not in failed.headers


def test_both_ledgers_hold_the_call_bound_by_the_request_hash(setup: Setup) -> None:
    answer = setup.call(
        "MYS", "POST", f"{SERVICE}/v1/records", content=b"payload", headers={"X-Road-Id": "abc-1"}
    )
    assert answer.status_code == 200
    request_id = answer.headers["x-road-request-id"]
    called = [e for e in _entries(setup.mys, services.SERVICE_CALLED) if e["subject"] == request_id]
    served = [e for e in _entries(setup.idn, services.SERVICE_SERVED) if e["subject"] == request_id]
    assert len(called) == len(served) == 1
    for entry in (called[0], served[0]):
        details = entry["details"]
        assert isinstance(details, dict)
        assert details["request_hash"] == answer.headers["x-road-request-hash"]
        assert details["x_road_id"] == "abc-1"
        assert details["status"] == 200
        hashes = entry["hashes"]
        assert isinstance(hashes, dict)
        assert hashes["response_body"] == hashlib.sha256(b"payload").hexdigest()
    assert called[0]["details"]["agreement"] == served[0]["details"]["agreement"]  # type: ignore[index]


def test_refusals_carry_x_road_errors(setup: Setup) -> None:
    denied = setup.call("SGP", "GET", f"{SERVICE}/v1/x")
    assert denied.status_code == 500
    assert denied.headers["x-road-error"] == "Server.ServerProxy.AccessDenied"
    assert denied.json()["type"] == "Server.ServerProxy.AccessDenied"
    assert "no access right" in denied.json()["message"]

    unknown = setup.call("MYS", "GET", "/r1/ASEAN/GOV/IDN/health/nothing/v1")
    assert unknown.headers["x-road-error"] == "Server.ServerProxy.UnknownService"

    wrong = setup.call("MYS", "GET", f"{SERVICE}/v1/x", client="ASEAN/GOV/SGP/portal")
    assert wrong.headers["x-road-error"] == "Server.ClientProxy.InvalidClientIdentifier"
    missing = httpx.get(
        setup.url(setup.mys, f"{SERVICE}/v1"),
        headers={"Authorization": f"Bearer {setup.tokens['MYS']}"},
    )
    assert missing.headers["x-road-error"] == "Server.ClientProxy.InvalidClientIdentifier"
    assert "missing" in missing.json()["message"]

    no_token = httpx.get(
        setup.url(setup.mys, f"{SERVICE}/v1"), headers={"X-Road-Client": "ASEAN/GOV/MYS/portal"}
    )
    assert no_token.status_code == 401
    assert no_token.headers["x-road-error"] == "Client.Unauthorized"

    slow = setup.call("MYS", "GET", f"{SERVICE}/slow?seconds=4")
    assert slow.headers["x-road-error"] == "Server.ServerProxy.IOError"
    assert "did not answer within 2 seconds" in slow.json()["message"]

    services.change_service(setup.idn, "health/echo", base_url="http://127.0.0.1:9")
    down = setup.call("MYS", "GET", f"{SERVICE}/v1/x")
    assert down.headers["x-road-error"] == "Server.ServerProxy.ServiceFailed"

    metrics = httpx.get(setup.url(setup.idn, "/metrics")).text
    assert (
        'jembatan_gateway_calls_total{outcome="Server.ServerProxy.AccessDenied",role="provider"}'
        in metrics
    )
    # Refusals are logged on both sides too.
    errors = {c.error for c in services.calls(setup.idn, errors_only=True)}
    assert {"Server.ServerProxy.AccessDenied", "Server.ServerProxy.ServiceFailed"} <= errors


def test_a_revoked_token_or_disabled_user_stops_calls_at_once(setup: Setup) -> None:
    """The node remembers a checked token for a second; its own revocations apply now."""
    assert setup.call("MYS", "GET", f"{SERVICE}/v1/x").status_code == 200
    token_id = setup.tokens["MYS"].split("_")[1]
    tokens.revoke_token(setup.mys, token_id)
    revoked = setup.call("MYS", "GET", f"{SERVICE}/v1/x")
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["message"]

    user = find_user(setup.mys, "system")
    fresh = tokens.create_token(setup.mys, user.id, "gw2", "services:call", timedelta(days=1))
    setup.tokens["MYS"] = fresh.token
    assert setup.call("MYS", "GET", f"{SERVICE}/v1/x").status_code == 200
    update_user(setup.mys, user.id, disabled=True)
    disabled = setup.call("MYS", "GET", f"{SERVICE}/v1/x")
    assert disabled.status_code == 401
    assert "disabled" in disabled.json()["message"]
    update_user(setup.mys, user.id, disabled=False)
    assert setup.call("MYS", "GET", f"{SERVICE}/v1/x").status_code == 200
    # Remembered now; the same token id with another secret is still refused.
    setup.tokens["MYS"] = setup.tokens["MYS"][:-4] + (
        "AAAA" if fresh.token[-4:] != "AAAA" else "BBBB"
    )
    assert setup.call("MYS", "GET", f"{SERVICE}/v1/x").status_code == 401


def test_access_needs_the_agreement_too(setup: Setup) -> None:
    services.grant(setup.idn, "health/echo", "ASEAN/GOV/SGP/portal", "test")
    denied = setup.call("SGP", "GET", f"{SERVICE}/v1/x")
    assert denied.headers["x-road-error"] == "Server.ServerProxy.AccessDenied"
    assert "no active agreement" in denied.json()["message"]


def test_metadata_services(setup: Setup) -> None:
    services.set_endpoint(setup.idn, "health/echo", "GET", "/v1/hidden", False)
    listed = setup.call("SGP", "GET", "/r1/ASEAN/GOV/IDN/health/listMethods")
    assert listed.status_code == 200, listed.text
    [service] = listed.json()["service"]
    assert service["service_code"] == "echo"
    assert service["member_code"] == "IDN"
    assert {"method": "*", "path": "**"} in service["endpoint_list"]
    assert {"method": "GET", "path": "/v1/hidden"} not in service["endpoint_list"]
    assert setup.call("MYS", "GET", "/r1/ASEAN/GOV/IDN/health/allowedMethods").json()["service"]
    assert setup.call("SGP", "GET", "/r1/ASEAN/GOV/IDN/health/allowedMethods").json() == {
        "service": []
    }
    hidden = setup.call("MYS", "GET", f"{SERVICE}/v1/hidden")
    assert hidden.headers["x-road-error"] == "Server.ServerProxy.AccessDenied"
    no_spec = setup.call("MYS", "GET", "/r1/ASEAN/GOV/IDN/health/getOpenAPI?serviceCode=echo")
    assert no_spec.headers["x-road-error"] == "Server.ServerProxy.UnknownService"
    clients = httpx.get(setup.url(setup.mys, "/listClients")).json()["member"]
    ids = [c["id"] for c in clients]
    assert {
        "object_type": "SUBSYSTEM",
        "xroad_instance": "ASEAN",
        "member_class": "GOV",
        "member_code": "SGP",
        "subsystem_code": "portal",
    } in ids


def test_no_body_answers(setup: Setup) -> None:
    answer = setup.call("MYS", "DELETE", f"{SERVICE}/empty")
    assert answer.status_code == 204
    assert answer.content == b""


def test_services_are_published_in_the_directory(setup: Setup) -> None:
    assert services.announce(setup.idn)
    setup.fed.refresh_all()
    from jembatan.registry.membership import federation

    member = federation(setup.mys).member("ASEAN/GOV/IDN")
    assert list(member.services) == [{"subsystem": "health", "code": "echo"}]
    assert not services.announce(setup.idn)  # the directory already says so
