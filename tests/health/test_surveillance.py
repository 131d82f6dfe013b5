"""Surveillance on live nodes: counts imported with history, shared under agreement and
received with provenance, detection raising signals that reach partners once confirmed,
and case-level data that leaves only pseudonymised."""

from __future__ import annotations

import json
import math
import statistics

import pytest
from sqlalchemy import func, select

from jembatan.agreements import retention
from jembatan.agreements import services as agreements
from jembatan.errors import Forbidden, InvalidInput
from jembatan.exchange import services as exchange
from jembatan.exchange.models import Message
from jembatan.health import cases, reports, services
from jembatan.health.models import Count, Report, Signal
from jembatan.health.services import SeriesKey
from jembatan.ledger import services as ledger
from jembatan.node.context import Node
from tests.fed import Federation, FederationFactory, agree, deliver_all

A90 = "A90"


def csv_of(rows: list[tuple[str, str, str, int]], population: int | None = None) -> bytes:
    head = "disease,area,period,count" + (",population" if population else "")
    lines = [head]
    for disease, area, period, count in rows:
        lines.append(
            f"{disease},{area},{period},{count}" + (f",{population}" if population else "")
        )
    return ("\n".join(lines) + "\n").encode()


def seasonal(area: str, years: int = 4, outbreak: int = 0, last: str = "2026-W47") -> bytes:
    """Quiet weekly dengue with a yearly swing; `outbreak` extra cases in the last 3 weeks."""
    from jembatan.health import weeks

    periods = weeks.span(weeks.shift(last, -52 * years), last)
    rows = []
    for i, period in enumerate(periods):
        base = 20 + 8 * math.sin(2 * math.pi * i / 52) + (i * 7) % 5
        extra = outbreak if i >= len(periods) - 3 else 0
        rows.append((A90, area, period, round(base) + extra))
    return csv_of(rows, population=4_000_000)


@pytest.fixture
def pair(federations: FederationFactory) -> Federation:
    fed = federations.build("ASEAN", ("IDN", "MYS", "SGP"), agreed=False)
    agree([fed.node("IDN"), fed.node("MYS")], kinds=("health.surveillance",), ceiling="TLP:AMBER")
    return fed


def _nodes(fed: Federation) -> list[Node]:
    return [fed.node(c) for c in ("IDN", "MYS", "SGP")]


def test_import_keeps_every_version_and_refuses_a_bad_file_whole(node: Node) -> None:
    key = SeriesKey(node.member_id, A90, "ID-JK")
    first = services.import_report(
        node, csv_of([(A90, "ID-JK", "2026-W01", 10), (A90, "ID-JK", "2026-W02", 12)]), "a.csv"
    )
    assert (first.observations, first.changed) == (2, 2)
    again = services.import_report(node, csv_of([(A90, "ID-JK", "2026-W02", 12)]), "b.csv")
    assert again.changed == 0  # the same figure again is not a new version
    fixed = services.import_report(node, csv_of([(A90, "ID-JK", "2026-W02", 15)]), "c.csv")
    assert fixed.changed == 1
    assert [(w.period, w.count) for w in services.series(node, key)] == [
        ("2026-W01", 10),
        ("2026-W02", 15),
    ]
    versions = services.history(node, key, "2026-W02")
    assert [(c.version, c.count, c.current, r.filename) for c, r in versions] == [
        (2, 15, True, "c.csv"),
        (1, 12, False, "a.csv"),
    ]
    entries = ledger.entries_about(node, fixed.id)
    assert [e.type for e in entries] == [services.REPORT_IMPORTED]

    with node.db() as s:
        held = s.scalar(select(func.count()).select_from(Count))
    bad = b"disease,area,period,count\nA90,ID-JK,2026-W03,7\nXX9,ID-ZZ,2026-W99,-1\n"
    with pytest.raises(reports.ReportInvalid) as refused:
        services.import_report(node, bad, "bad.csv")
    locations = " ".join(p.location for p in refused.value.problems)
    assert "line 3" in locations
    assert len(refused.value.problems) >= 3  # disease, area, period and count: all reported
    with node.db() as s:
        assert s.scalar(select(func.count()).select_from(Count)) == held  # nothing stored
        assert s.scalar(select(func.count()).select_from(Report)) == 3


def test_clearance_limits_what_a_reader_sees(node: Node) -> None:
    services.import_report(
        node, csv_of([(A90, "ID-JK", "2026-W01", 10)]), classification="TLP:AMBER"
    )
    services.import_report(
        node, csv_of([(A90, "ID-BA", "2026-W01", 3)]), classification="TLP:CLEAR"
    )
    green = ("TLP:CLEAR", "TLP:GREEN")
    assert [i.key.area for i in services.catalogue(node, green)] == ["ID-BA"]
    assert services.series(node, SeriesKey(node.member_id, A90, "ID-JK"), green) == []
    assert {i.key.area for i in services.catalogue(node)} == {"ID-BA", "ID-JK"}


def test_counts_shared_under_agreement_arrive_with_provenance(pair: Federation) -> None:
    idn, mys, sgp = _nodes(pair)
    services.import_report(idn, seasonal("ID-JK", years=1), "jakarta.csv")
    with pytest.raises(Forbidden, match="agreement"):
        services.share(idn, [sgp.member_id])  # no agreement with SGP: refused before sealing
    with pytest.raises(InvalidInput, match="classified TLP:AMBER"):
        services.share(idn, [mys.member_id], classification="TLP:GREEN")  # no downgrade
    sent = services.share(idn, [mys.member_id], disease=A90, first="2026-W40")
    assert len(sent) == 1
    assert sent[0].kind == services.KIND
    deliver_all([idn, mys])
    assert services.ingest(mys) == 1
    [report] = [r for r in services.reports_held(mys) if r.source == "received"]
    assert report.member == idn.member_id
    assert report.message_id == sent[0].id
    assert report.agreement_id == sent[0].agreement_id
    assert report.format == "fhir"
    assert report.problems is None
    theirs = services.series(mys, SeriesKey(idn.member_id, A90, "ID-JK"))
    ours = services.series(idn, SeriesKey(idn.member_id, A90, "ID-JK"))
    assert [(w.period, w.count, w.population) for w in theirs] == [
        (w.period, w.count, w.population) for w in ours if w.period >= "2026-W40"
    ]
    assert [e.type for e in ledger.entries_about(mys, report.id)] == [services.REPORT_RECEIVED]
    assert services.ingest(mys) == 0  # taken in once

    # Retention: when the message goes, the counts derived from it go too.
    retention.purge(mys, [sent[0].id], "test", mys.member_id)
    assert services.series(mys, SeriesKey(idn.member_id, A90, "ID-JK")) == []


def test_a_confirmed_signal_reaches_the_partners(pair: Federation) -> None:
    idn, mys, _sgp = _nodes(pair)
    services.import_report(idn, seasonal("ID-JB", outbreak=60), "west-java.csv")
    services.import_report(idn, seasonal("ID-JT", outbreak=0), "central-java.csv")
    raised = services.run_detection(idn, "ears-c2")
    assert raised, "the outbreak weeks alarm"
    assert {s.area for s in raised} == {"ID-JB"}
    assert {s.period for s in raised} <= {"2026-W45", "2026-W46", "2026-W47"}
    assert services.run_detection(idn, "ears-c2") == []  # no duplicates
    assert all(s.status == "open" for s in services.signals(idn))

    first, *rest = raised
    with pytest.raises(InvalidInput, match="confirm"):
        services.review(idn, first.id, "maybe", "", "test")
    confirmed = services.review(idn, first.id, "confirm", "Serotype DENV-2; teams sent", "test")
    assert confirmed.status == "confirmed"
    assert list(services.sent_to(confirmed)) == [mys.member_id]  # SGP: no agreement
    with pytest.raises(InvalidInput, match="already confirmed"):
        services.review(idn, first.id, "dismiss", "", "test")
    for other in rest:
        assert services.review(idn, other.id, "dismiss", "same wave", "test").status == "dismissed"
    types = [e.type for e in ledger.entries_about(idn, first.id)]
    assert types == [services.SIGNAL_RAISED, services.SIGNAL_REVIEWED]

    deliver_all([idn, mys])
    services.ingest(mys)
    [received] = services.signals(mys, "received")
    assert (received.member, received.area, received.period, received.count) == (
        idn.member_id,
        "ID-JB",
        first.period,
        first.count,
    )
    assert received.note == "Serotype DENV-2; teams sent"
    assert received.message_id == services.sent_to(confirmed)[mys.member_id]


def test_case_level_data_leaves_only_pseudonymised(pair: Federation) -> None:
    idn, mys, _ = _nodes(pair)
    bundle = cases.example_cases(3, seed=7)
    # The surveillance agreement does not cover case-level data at all.
    with pytest.raises(Forbidden):
        services.send_cases(idn, bundle, mys.member_id)
    plain = agree([idn, mys], kinds=("health.cases",), ceiling="TLP:AMBER")
    with pytest.raises(Forbidden, match="pseudonymise"):
        services.send_cases(idn, bundle, mys.member_id, plain)

    fields = list(cases.identifying_fields())
    held = agreements.draft(
        idn,
        title="Dengue contact tracing",
        parties=[mys.member_id],
        kinds=["health.cases"],
        purpose="Cross-border contact tracing",
        legal_basis="IHR (2005)",
        ceiling="TLP:AMBER",
        pseudonymise_fields=fields,
        deny_fields=list(cases.removed_fields()),
        denied="remove",
        actor="test",
    )
    agreements.sign(idn, held.terms.id, "test")
    deliver_all([idn, mys])
    agreements.sign(mys, held.terms.id, "test")
    deliver_all([idn, mys])
    message = services.send_cases(idn, bundle, mys.member_id, held.terms.id)
    deliver_all([idn, mys])
    arrived = exchange.get_message(mys, message.id)[0]
    assert arrived.box == "inbox"
    assert arrived.kind == services.CASES_KIND
    payload = json.loads(exchange.read_payload(mys, arrived))
    original = json.loads(bundle)
    ids = [
        i["value"]
        for e in payload["entry"]
        if e["resource"]["resourceType"] == "Patient"
        for i in e["resource"].get("identifier", [])
    ]
    plain_ids = [
        i["value"]
        for e in original["entry"]
        if e["resource"]["resourceType"] == "Patient"
        for i in e["resource"].get("identifier", [])
    ]
    assert ids
    assert all(v.startswith("pse_") for v in ids)
    assert not set(ids) & set(plain_ids)
    text = json.dumps(payload)
    for e in original["entry"]:
        for name in e["resource"].get("name", []):
            assert name.get("family", "\0") not in text
    with mys.db() as s:
        assert s.get(Message, message.id) is not None


def test_ears_thresholds_over_stored_counts_match_an_independent_computation(node: Node) -> None:
    counts = [5, 7, 6, 8, 5, 9, 7, 30]
    rows = [(A90, "ID-JK", f"2026-W{i + 1:02d}", c) for i, c in enumerate(counts)]
    services.import_report(node, csv_of(rows))
    points = services.analyse(node, SeriesKey(node.member_id, A90, "ID-JK"), "ears-c1")
    baseline = counts[:7]
    z = statistics.NormalDist().inv_cdf(1 - 0.001)
    expected = statistics.mean(baseline) + z * statistics.stdev(baseline)
    assert points[-1].threshold == pytest.approx(expected)
    assert points[-1].alarm
    assert not any(p.alarm for p in points[:-1])
    assert all(p.threshold is None for p in points[:7])


def test_a_refused_partner_file_is_kept_with_its_problems(pair: Federation) -> None:
    idn, mys, _ = _nodes(pair)
    bad = b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": 5}]}'
    message = exchange.send(
        idn,
        [mys.member_id],
        "Broken counts",
        bad,
        content_type=services.FHIR_TYPE,
        kind=services.KIND,
    )
    deliver_all([idn, mys])
    services.ingest(mys)
    with mys.db() as s:
        report = s.scalar(select(Report).where(Report.message_id == message.id))
        assert s.scalar(select(func.count()).select_from(Signal)) == 0
    assert report is not None
    assert report.observations == 0
    assert json.loads(report.problems or "[]")
