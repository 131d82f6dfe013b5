"""The surveillance pages as officials use them: the dashboard and series charts with
alarms drawn, imports with every problem shown, the signal queue and its review, roles
and clearance respected, and a received series shown with its provenance."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from jembatan.accounts.services import update_user
from jembatan.health import services
from jembatan.node.context import Node
from jembatan.web.app import create_app
from tests.conftest import add_user, csrf_of, login
from tests.fed import Federation, deliver_all
from tests.health.test_surveillance import A90, csv_of, pair, seasonal

__all__ = ["pair"]  # the fixture, used below


@contextmanager
def portal(node: Node, username: str, role: str) -> Iterator[TestClient]:
    add_user(node, username, role)
    with TestClient(create_app(node)) as client:
        login(client, username)
        yield client


def test_officer_imports_sees_the_alarm_and_confirms_it(node: Node) -> None:
    with portal(node, "olga", "officer") as client:
        form = client.get("/health/import")
        assert form.status_code == 200
        bad = b"disease,area,period,count\nA90,ID-JK,2026-W01,x\nQ00,ID-JK,2026-W02,3\n"
        refused = client.post(
            "/health/import",
            data={"csrf_token": csrf_of(form.text), "classification": "TLP:AMBER"},
            files={"file": ("bad.csv", bad, "text/csv")},
        )
        assert refused.status_code == 422
        assert "line 2, column count" in refused.text
        assert "line 3, column disease" in refused.text
        assert services.reports_held(node) == []  # nothing stored

        done = client.post(
            "/health/import",
            data={"csrf_token": csrf_of(form.text), "classification": "TLP:AMBER"},
            files={"file": ("west-java.csv", seasonal("ID-JB", outbreak=60), "text/csv")},
            follow_redirects=False,
        )
        assert done.status_code == 303
        report = client.get(done.headers["location"])
        assert "west-java.csv" in report.text

        board = client.get("/health")
        assert 'role="img"' in board.text
        assert "Jawa Barat (ID-JB)" in board.text
        series = client.get(
            "/health/series",
            params={"member": node.member_id, "disease": A90, "area": "ID-JB", "method": "ears-c2"},
        )
        assert series.status_code == 200
        assert 'class="alarm"' in series.text  # the outbreak weeks drawn as alarms
        assert "<strong>Alarm</strong>" in series.text

        queue = client.get("/health/signals")
        csrf = csrf_of(queue.text)
        ran = client.post("/health/run", data={"csrf_token": csrf}, follow_redirects=False)
        assert ran.status_code == 303
        opened = services.signals(node, "open")
        assert opened
        without_token = client.post(
            f"/health/signals/{opened[0].id}/review", data={"decision": "confirm"}
        )
        assert without_token.status_code == 403
        confirmed = client.post(
            f"/health/signals/{opened[0].id}/review",
            data={"csrf_token": csrf, "decision": "confirm", "note": "field team confirms"},
        )
        assert confirmed.status_code == 200
        assert "field team confirms" in confirmed.text
        assert services.get_signal(node, opened[0].id).status == "confirmed"


def test_roles_and_clearance(node: Node) -> None:
    services.import_report(
        node, csv_of([(A90, "ID-JK", "2026-W01", 10)]), classification="TLP:AMBER"
    )
    services.import_report(
        node, csv_of([(A90, "ID-BA", "2026-W01", 3)]), classification="TLP:GREEN"
    )
    with portal(node, "ana", "analyst") as client:
        board = client.get("/health")
        assert "ID-JK" in board.text
        assert client.get("/health/import").status_code == 403
    with portal(node, "gil", "officer") as client:
        update_user(node, node_user(node, "gil"), clearance="TLP:GREEN")
        board = client.get("/health")
        assert "ID-BA" in board.text
        assert "ID-JK" not in board.text
    with portal(node, "aud", "auditor") as client:
        assert client.get("/health").status_code == 403


def node_user(node: Node, username: str) -> int:
    from jembatan.accounts.services import find_user

    return find_user(node, username).id


def test_a_partners_series_shows_where_it_came_from(pair: Federation) -> None:
    idn, mys = pair.node("IDN"), pair.node("MYS")
    services.import_report(idn, seasonal("ID-JK", years=1), "jakarta.csv")
    [message] = services.share(idn, [mys.member_id], first="2026-W40")
    deliver_all([idn, mys])
    with portal(mys, "mia", "officer") as client:
        regional = client.get("/health/regional", params={"disease": A90})
        assert "Jakarta Raya (ID-JK)" in regional.text
        assert idn.member_id in regional.text
        week = client.get(
            "/health/series",
            params={"member": idn.member_id, "disease": A90, "area": "ID-JK", "period": "2026-W45"},
        )
        assert f'href="/messages/{message.id}"' in week.text
        assert f"received from {idn.member_id}" in week.text
        share = client.get("/health/share")
        assert idn.member_id in share.text  # MYS may share with IDN under the agreement
