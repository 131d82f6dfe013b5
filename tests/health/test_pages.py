"""The surveillance pages as officials use them: the dashboard and series charts with
alarms drawn, imports with every problem shown, the signal queue and its review, sharing
with partners, roles and clearance respected, and a partner's series and signals shown
with their provenance."""

from __future__ import annotations

import re

import pytest

from jembatan.exchange import services as exchange
from jembatan.health import pages, services
from jembatan.node.context import Node
from tests.conftest import NodeFactory, csrf_of, page_text, portal
from tests.fed import Federation, deliver_all
from tests.health.test_surveillance import A90, csv_of, pair, seasonal

__all__ = ["pair"]  # the fixture, used below


@pytest.fixture
def ears(make_node: NodeFactory) -> Node:
    """A node that runs EARS C2: quick, and alarms on a three-week outbreak."""
    return make_node(require_two_factor=False, health_method="ears-c2")


def test_officer_imports_sees_the_alarm_and_confirms_it(ears: Node) -> None:
    node = ears
    with portal(node, "olga", "officer") as client:
        form = client.get("/health/import")
        assert form.status_code == 200
        csrf = csrf_of(form.text)
        bad = (
            b"disease,area,period,count\n"
            b"A90,ID-JK,2026-W01,x\n"
            b"Q00,ID-JK,2026-W02,3\n"
            b"A90,XX-99,2026-W60,4\n"
        )
        unsigned = client.post(
            "/health/import",
            data={"classification": "TLP:AMBER"},
            files={"file": ("bad.csv", bad, "text/csv")},
        )
        assert unsigned.status_code == 403  # no CSRF token, no import
        refused = client.post(
            "/health/import",
            data={"csrf_token": csrf, "classification": "TLP:AMBER"},
            files={"file": ("bad.csv", bad, "text/csv")},
        )
        assert refused.status_code == 422
        seen = page_text(refused.text)
        assert "Problems in the file: 4; nothing was stored" in seen
        for where in (
            "line 2, column count",
            "line 3, column disease",
            "line 4, column area",
            "line 4, column period",
        ):
            assert f'<th scope="row" class="mono">{where}</th>' in refused.text
        assert 'role="alert"' in refused.text
        assert services.reports_held(node) == []  # nothing stored

        done = client.post(
            "/health/import",
            data={"csrf_token": csrf, "classification": "TLP:AMBER"},
            files={"file": ("west-java.csv", seasonal("ID-JB", outbreak=60), "text/csv")},
            follow_redirects=False,
        )
        assert done.status_code == 303
        report = client.get(done.headers["location"])
        assert 'role="status">Created.' in report.text
        assert "west-java.csv" in report.text
        assert "Jawa Barat (ID-JB)" in report.text  # the figures it brought, listed
        assert "period=2026-W47" in report.text

        board = client.get("/health")
        assert "<h2" in board.text
        assert ">Dengue fever (A90)</h2>" in board.text  # grouped by disease
        assert "Jawa Barat (ID-JB)" in board.text
        assert 'role="img"' in board.text
        assert '<circle class="alarm"' in board.text  # the outbreak marked on the chart
        latest = services.series(node, services.SeriesKey(node.member_id, A90, "ID-JB"))[-1]
        assert f"2026-W47: {latest.count} cases; alarm</title>" in board.text
        marked = board.text.count('<circle class="alarm"')
        assert marked >= 3  # the outbreak's three weeks, at least
        assert f"alarms: {marked}" in page_text(board.text)
        series = client.get(
            "/health/series",
            params={"member": node.member_id, "disease": A90, "area": "ID-JB", "weeks": 52},
        )
        assert series.status_code == 200
        alarms = series.text.count("<strong>Alarm</strong>")  # rows of the table
        assert alarms >= 3
        assert series.text.count('<circle class="alarm"') == alarms  # one marker each
        assert series.text.count("<rect") == 52

        queue = client.get("/health/signals")
        csrf = csrf_of(queue.text)
        assert client.post("/health/run", data={}).status_code == 403
        ran = client.post("/health/run", data={"csrf_token": csrf}, follow_redirects=False)
        assert ran.status_code == 303
        opened = services.signals(node, "open")
        assert len(opened) == 3
        queue = client.get("/health/signals")
        assert "Confirm and tell partners" in queue.text
        assert f"{latest.count} cases against a threshold of" in queue.text
        without_token = client.post(
            f"/health/signals/{opened[0].id}/review", data={"decision": "confirm"}
        )
        assert without_token.status_code == 403
        assert services.get_signal(node, opened[0].id).status == "open"
        confirmed = client.post(
            f"/health/signals/{opened[0].id}/review",
            data={"csrf_token": csrf, "decision": "confirm", "note": "field team confirms"},
        )
        assert confirmed.status_code == 200
        assert str(confirmed.url).endswith("/health/signals?status=confirmed&notice=saved")
        assert 'aria-current="page">Confirmed<' in confirmed.text
        assert "field team confirms" in confirmed.text
        assert "Reviewed by" in confirmed.text
        assert services.get_signal(node, opened[0].id).status == "confirmed"
        assert opened[0].id not in client.get("/health/signals").text


def test_dashboard_filters_by_disease_and_pages(
    ears: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.import_report(ears, seasonal("ID-JK", years=1), "jakarta.csv")
    services.import_report(ears, seasonal("ID-BA", years=1), "bali.csv")
    measles = csv_of([("B05", "ID-JK", "2026-W01", 2), ("B05", "ID-JK", "2026-W02", 5)])
    services.import_report(ears, measles, "measles.csv")
    monkeypatch.setattr(pages, "BOARD_SERIES", 2)
    with portal(ears, "ana", "analyst") as client:
        first = client.get("/health")
        assert ">Dengue fever (A90)</h2>" in first.text
        assert ">Measles (B05)</h2>" not in first.text
        assert "Page 1 of 2 (3 series)" in page_text(first.text)
        second = client.get("/health", params={"page": 2})
        assert ">Measles (B05)</h2>" in second.text
        only = client.get("/health", params={"disease": "B05"})
        assert ">Measles (B05)</h2>" in only.text
        assert ">Dengue fever (A90)</h2>" not in only.text
        assert '<option value="B05" selected>' in only.text


def test_analyst_reads_but_may_not_change_anything(ears: Node) -> None:
    services.import_report(ears, seasonal("ID-JB", outbreak=60), "west-java.csv")
    [signal, *_] = services.run_detection(ears)
    with portal(ears, "ana", "analyst") as client:
        board = client.get("/health")
        assert board.status_code == 200
        assert 'role="img"' in board.text
        assert 'href="/health/import"' not in board.text
        queue = client.get("/health/signals")
        assert f"{signal.count} cases against a threshold of" in queue.text
        assert "Confirm and tell partners" not in queue.text
        assert "Check our series now" not in queue.text
        csrf = csrf_of(client.get("/profile").text)
        review = client.post(
            f"/health/signals/{signal.id}/review", data={"csrf_token": csrf, "decision": "confirm"}
        )
        assert review.status_code == 403
        assert services.get_signal(ears, signal.id).status == "open"
        assert client.post("/health/run", data={"csrf_token": csrf}).status_code == 403
        assert client.get("/health/import").status_code == 403
        assert client.get("/health/share").status_code == 403


def test_an_auditor_sees_no_counts(ears: Node) -> None:
    report = services.import_report(ears, csv_of([(A90, "ID-JK", "2026-W01", 10)]))
    with portal(ears, "aud", "auditor") as client:
        assert 'href="/health"' not in client.get("/").text  # no menu entry
        for url in (
            "/health",
            "/health/regional",
            "/health/signals",
            "/health/reports",
            f"/health/reports/{report.id}",
            f"/health/series?member={ears.member_id}&disease=A90&area=ID-JK",
        ):
            assert client.get(url).status_code == 403, url


def test_counts_above_a_clearance_stay_hidden(ears: Node) -> None:
    amber = services.import_report(
        ears, seasonal("ID-JK", outbreak=60), "jakarta.csv", classification="TLP:AMBER"
    )
    services.import_report(
        ears, csv_of([(A90, "ID-BA", "2026-W01", 3)]), "bali.csv", classification="TLP:GREEN"
    )
    [signal, *_] = services.run_detection(ears)
    with portal(ears, "gil", "officer", clearance="TLP:GREEN") as client:
        board = client.get("/health")
        assert "Bali (ID-BA)" in board.text
        assert "ID-JK" not in board.text
        assert "waiting for review" not in board.text  # the AMBER series' signals are not counted
        assert "ID-JK" not in client.get("/health/regional").text
        series = client.get(
            "/health/series", params={"member": ears.member_id, "disease": A90, "area": "ID-JK"}
        )
        assert series.status_code == 404
        reports = client.get("/health/reports")
        assert "bali.csv" in reports.text
        assert "jakarta.csv" not in reports.text
        assert client.get(f"/health/reports/{amber.id}").status_code == 403
        queue = client.get("/health/signals")
        assert "Jakarta" not in queue.text
        csrf = csrf_of(queue.text)
        review = client.post(
            f"/health/signals/{signal.id}/review", data={"csrf_token": csrf, "decision": "dismiss"}
        )
        assert review.status_code == 403
        assert services.get_signal(ears, signal.id).status == "open"
        form = client.get("/health/import")
        assert '<option value="TLP:GREEN"' in form.text
        assert '<option value="TLP:AMBER"' not in form.text
        above = client.post(
            "/health/import",
            data={"csrf_token": csrf, "classification": "TLP:AMBER"},
            files={"file": ("more.csv", csv_of([(A90, "ID-BA", "2026-W02", 4)]), "text/csv")},
        )
        assert above.status_code == 403
        assert "above your clearance (TLP:GREEN)" in above.text
        assert len(services.reports_held(ears)) == 2


def test_a_partners_series_shows_where_it_came_from(pair: Federation) -> None:
    idn, mys = pair.node("IDN"), pair.node("MYS")
    services.import_report(idn, seasonal("ID-JK", years=1), "jakarta.csv")
    [message] = services.share(idn, [mys.member_id], first="2026-W40")
    services.import_report(mys, seasonal("MY-10", years=1), "selangor.csv")
    deliver_all([idn, mys])
    with portal(mys, "mia", "officer") as client:
        regional = client.get("/health/regional", params={"disease": A90, "weeks": 26})
        assert "Jakarta Raya (ID-JK)" in regional.text
        assert "Selangor (MY-10)" in regional.text
        assert idn.member_id in regional.text
        head = re.search(r"<thead>(.*?)</thead>", regional.text, re.S)
        assert head is not None
        assert head.group(1).count("-W") == 26  # one column a week
        assert regional.text.count('role="img"') == 2  # small multiples, one a series
        assert '<span class="hint">0.5</span>' in regional.text  # 20 cases in 4 million
        week = client.get(
            "/health/series",
            params={"member": idn.member_id, "disease": A90, "area": "ID-JK", "period": "2026-W45"},
        )
        assert f'href="/messages/{message.id}"' in week.text
        assert f"received from {idn.member_id}" in week.text
        share = client.get("/health/share")
        assert f'value="{idn.member_id}"' in share.text  # MYS may share with IDN


def test_sharing_lists_what_was_queued_or_names_the_rule_that_refused(pair: Federation) -> None:
    idn, mys, sgp = pair.node("IDN"), pair.node("MYS"), pair.node("SGP")
    services.import_report(idn, seasonal("ID-JK", years=1), "jakarta.csv")
    with portal(idn, "ida", "officer") as client:
        form = client.get("/health/share")
        csrf = csrf_of(form.text)
        assert f'value="{mys.member_id}"' in form.text
        assert f'value="{sgp.member_id}"' not in form.text  # no agreement with Singapore
        fields = {"disease": A90, "first": "2026-W40", "last": "", "classification": "TLP:AMBER"}
        assert (
            client.post("/health/share", data={**fields, "to": [mys.member_id]}).status_code == 403
        )
        sent = client.post(
            "/health/share",
            data={**fields, "csrf_token": csrf, "to": [mys.member_id]},
            follow_redirects=False,
        )
        assert sent.status_code == 303
        done = client.get(sent.headers["location"])
        assert "Sealed and queued for delivery." in done.text
        [message] = exchange.list_messages(idn, "outbox")
        assert f'href="/messages/{message.id}"' in done.text
        assert "Surveillance counts A90, 2026-W40..2026-W47" in done.text

        nobody = client.post("/health/share", data={**fields, "csrf_token": csrf})
        assert nobody.status_code == 422
        assert "name at least one partner" in nobody.text
        stranger = client.post(
            "/health/share", data={**fields, "csrf_token": csrf, "to": [sgp.member_id]}
        )
        assert stranger.status_code == 403
        assert "no active agreement between" in stranger.text
        assert 'role="alert"' in stranger.text
        strict = client.post(
            "/health/share",
            data={
                **fields,
                "csrf_token": csrf,
                "to": [mys.member_id],
                "classification": "TLP:AMBER+STRICT",
            },
        )
        assert strict.status_code == 403
        assert "refuses it" in strict.text  # the agreement's ceiling is TLP:AMBER
        assert '<option value="TLP:AMBER+STRICT" selected>' in strict.text  # the form kept
        assert len(exchange.list_messages(idn, "outbox")) == 1


def test_partner_files_refused_and_signals_received(pair: Federation) -> None:
    idn, mys = pair.node("IDN"), pair.node("MYS")
    exchange.send(
        idn,
        [mys.member_id],
        "Surveillance counts",
        b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {}}]}',
        content_type=services.FHIR_TYPE,
        kind=services.KIND,
    )
    services.import_report(idn, seasonal("ID-JK", outbreak=60), "jakarta.csv")
    [signal, *_] = services.run_detection(idn)
    services.review(idn, signal.id, "confirm", "lab confirmed", "ASEAN/GOV/IDN/user/ida")
    deliver_all([idn, mys])
    with portal(mys, "mia", "officer") as client:
        reports = client.get("/health/reports")
        assert "<strong>refused</strong>" in reports.text
        [refused] = [r for r in services.reports_held(mys) if r.problems]
        detail = client.get(f"/health/reports/{refused.id}")
        assert "Problems in the file (nothing was stored)" in detail.text
        assert f'href="/messages/{refused.message_id}"' in detail.text
        assert "entry[0]" in detail.text  # where the problem is
        received = client.get("/health/signals", params={"status": "received"})
        assert "lab confirmed" in received.text
        assert "Confirmed by" in received.text
        [taken] = services.signals(mys, "received")
        assert f'href="/messages/{taken.message_id}"' in received.text
        assert idn.member_id in received.text
    with portal(idn, "ida", "officer") as client:
        confirmed = client.get("/health/signals", params={"status": "confirmed"})
        sent = services.sent_to(services.get_signal(idn, signal.id))
        assert f'href="/messages/{sent[mys.member_id]}">{mys.member_id}</a>' in confirmed.text


def test_pages_and_charts_speak_bahasa_indonesia(ears: Node) -> None:
    services.import_report(ears, seasonal("ID-JB", outbreak=60), "west-java.csv")
    with portal(ears, "olga", "officer") as client:
        client.headers["Accept-Language"] = "id"
        board = client.get("/health")
        assert board.headers["Content-Language"] == "id"
        seen = page_text(board.text)
        assert "Surveilans" in seen
        assert "Jumlah kasus mingguan di wilayah kita sendiri" in seen
        assert "minggu dari 2025-W48 sampai 2026-W47" in board.text  # the chart's summary
        assert "2026-W47: " in board.text
        assert " kasus; ambang " in board.text
        bad = client.post(
            "/health/import",
            data={"csrf_token": csrf_of(board.text), "classification": "TLP:AMBER"},
            files={"file": ("bad.csv", b"disease,area,period,count\nA90,ID-JK,2026-W01,x\n")},
        )
        assert "Masalah dalam berkas: 1; tidak ada yang disimpan" in bad.text
