"""Reports in: the official R4 examples parse with the R4B models, broken copies are
refused with locations, and our weekly-count profile (FHIR and CSV) reports every problem
of a file at once."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jembatan.health import cases, codes, reports, weeks
from jembatan.health.reports import Observation


def test_official_examples_parse(official_examples: dict[str, dict[str, Any]]) -> None:
    for name, resource in official_examples.items():
        assert reports.validate_structure(resource) == [], name


def test_broken_official_examples_are_refused_with_locations(
    official_examples: dict[str, dict[str, Any]],
) -> None:
    original = official_examples["MeasureReport-measurereport-cms146-cat1-example.json"]
    report = copy.deepcopy(original)
    report["group"][0]["population"][0]["count"] = "many"
    report["group"][0]["colour"] = "red"
    problems = {p.location for p in reports.validate_structure(report)}
    assert problems == {
        "MeasureReport.group[0].population[0].count",
        "MeasureReport.group[0].colour",
    }
    report = copy.deepcopy(original)
    del report["status"]
    assert [p.location for p in reports.validate_structure(report)] == ["MeasureReport.status"]
    bundle = copy.deepcopy(official_examples["Bundle-bundle-example.json"])
    bundle["entry"][1]["resource"]["status"] = 7
    bundle["type"] = 12
    found = {p.location for p in reports.validate_structure(bundle)}
    assert "Bundle.type" in found
    assert any(loc.startswith("Bundle.entry[1].resource") for loc in found)
    with pytest.raises(reports.ReportInvalid) as refused:
        reports.parse(json.dumps(report).encode())
    assert {p.location for p in refused.value.problems} >= {"MeasureReport.status"}


def test_an_official_example_is_not_our_profile(
    official_examples: dict[str, dict[str, Any]],
) -> None:
    """Structurally fine, but not weekly counts by disease and area: refused, located."""
    report = official_examples["MeasureReport-measurereport-cms146-cat1-example.json"]
    with pytest.raises(reports.ReportInvalid) as refused:
        reports.parse(json.dumps(report).encode())
    where = {p.location for p in refused.value.problems}
    assert "MeasureReport.type" in where or "MeasureReport.period" in where
    assert any(loc.startswith("MeasureReport.group[0]") for loc in where)


OBSERVATIONS = [
    Observation("A90", "ID-JK", "2026-W01", 120, 10_680_000),
    Observation("A90", "ID-JB", "2026-W01", 300, None),
    Observation("A91", "ID-JK", "2026-W01", 4, 10_680_000),
    Observation("A90", "ID-JK", "2026-W02", 131, 10_680_000),
]


def test_our_fhir_round_trips() -> None:
    data = reports.to_fhir(
        OBSERVATIONS, "ASEAN/GOV/IDN-KEMENKES", "0193b2c4-5d6e-7f80-9a1b-000000000001"
    )
    assert reports.validate_structure(json.loads(data)) == []
    parsed = reports.parse(data, "application/fhir+json")
    assert parsed.format == "fhir"
    assert sorted(parsed.observations, key=str) == sorted(OBSERVATIONS, key=str)
    assert len(parsed.report_ids) == 2  # one MeasureReport per week


def test_a_bad_fhir_file_lists_every_problem() -> None:
    doc = json.loads(reports.to_fhir(OBSERVATIONS, "x", "0193b2c4-5d6e-7f80-9a1b-000000000001"))
    first = doc["entry"][0]["resource"]
    first["group"][0]["code"]["coding"][0]["code"] = "Z99"
    first["group"][0]["stratifier"][0]["stratum"][0]["value"]["coding"][0]["code"] = "ID-QQ"
    doc["entry"][1]["resource"]["period"]["end"] = "2026-01-20"
    with pytest.raises(reports.ReportInvalid) as refused:
        reports.parse(json.dumps(doc).encode())
    where = {p.location for p in refused.value.problems}
    assert where >= {
        "Bundle.entry[0].resource.group[0].code",
        "Bundle.entry[0].resource.group[0].stratifier[0].stratum[0].value",
        "Bundle.entry[1].resource.period",
    }
    assert refused.value.extra["problems"]


def test_csv_parses_and_every_problem_is_located() -> None:
    good = (
        "\ufeffdisease,area,period,count,population\n"
        "A90,ID-JK,2026-W01,120,10680000\nA90,MY-10,2026-W01,80,\n"
    )
    parsed = reports.parse(good.encode())
    assert parsed.observations == [
        Observation("A90", "ID-JK", "2026-W01", 120, 10_680_000),
        Observation("A90", "MY-10", "2026-W01", 80, None),
    ]
    bad = (
        "disease,area,period,count\n"
        "A90,ID-JK,2026-W01,1\n"
        "B99,ID-JK,2026-W02,2\n"
        "A90,XX-ZZ,2026-W54,-1\n"
        "A90,ID-JK,2026-W01,3\n"
        "A90,ID-JK\n"
    )
    with pytest.raises(reports.ReportInvalid) as refused:
        reports.parse(bad.encode())
    where = [p.location for p in refused.value.problems]
    assert where == [
        "line 3, column disease",
        "line 4, column area",
        "line 4, column period",
        "line 4, column count",
        "line 6",
        "A90 ID-JK 2026-W01",
    ]
    with pytest.raises(reports.ReportInvalid, match="missing column 'count'"):
        reports.parse(b"disease,area,period\nA90,ID-JK,2026-W01\n")
    with pytest.raises(reports.ReportInvalid, match="empty"):
        reports.parse(b"   ")
    with pytest.raises(reports.ReportInvalid, match="no weekly counts"):
        reports.parse(b"disease,area,period,count\n")


def test_codes_are_checked() -> None:
    assert codes.disease_name("A90") == "Dengue fever"
    assert codes.area_name("ID-JB") == "Jawa Barat"
    with pytest.raises(ValueError, match="ISO 3166-2"):
        codes.check_area("ID-ZZ")
    with pytest.raises(ValueError, match="ICD-10"):
        codes.check_disease("dengue")


def test_case_bundles_are_checked() -> None:
    bundle = cases.example_cases(4, seed=1)
    parsed = cases.parse_cases(bundle)
    assert (parsed.patients, parsed.conditions, parsed.diseases) == (4, 4, ("A90",))
    doc = json.loads(bundle)
    doc["entry"][1]["resource"]["subject"]["reference"] = "Patient/nobody"
    doc["entry"][3]["resource"]["code"]["coding"][0]["code"] = "X00"
    with pytest.raises(reports.ReportInvalid) as refused:
        cases.parse_cases(json.dumps(doc).encode())
    assert [p.location for p in refused.value.problems] == [
        "Bundle.entry[1].resource.subject",
        "Bundle.entry[3].resource.code",
    ]


observation = st.builds(
    Observation,
    disease=st.sampled_from(sorted(codes.DISEASES)),
    area=st.sampled_from(["ID-JK", "ID-JB", "MY-10", "SG-01", "ID"]),
    period=st.sampled_from(weeks.span("2025-W50", "2026-W03")),
    count=st.integers(min_value=0, max_value=10**6),
    population=st.one_of(st.none(), st.integers(min_value=1, max_value=10**9)),
)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        observation, min_size=1, max_size=20, unique_by=lambda o: (o.disease, o.area, o.period)
    )
)
def test_round_trip_property(items: list[Observation]) -> None:
    data = reports.to_fhir(items, "m", "0193b2c4-5d6e-7f80-9a1b-000000000001")
    assert sorted(reports.parse(data).observations, key=str) == sorted(items, key=str)
    rows = ["disease,area,period,count,population"] + [
        f"{o.disease},{o.area},{o.period},{o.count},{'' if o.population is None else o.population}"
        for o in items
    ]
    assert reports.parse("\n".join(rows).encode()).observations == items
