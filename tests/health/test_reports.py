"""Reports in: the official R4 examples pass the structural check (R4B models), broken
copies are refused with locations, and our weekly-count profile (FHIR and CSV) reports
every problem of a file at once, each where it is."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jembatan.health import codes, reports, weeks
from jembatan.health.reports import Observation, Problem

DOCS = Path(__file__).resolve().parents[2] / "docs" / "health-formats.md"
CAT1 = "MeasureReport-measurereport-cms146-cat1-example.json"
BUNDLE_ID = "0193b2c4-5d6e-7f80-9a1b-000000000001"


def refusal(data: bytes | dict[str, Any], hint: str | None = None) -> list[tuple[str, str]]:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    with pytest.raises(reports.ReportInvalid) as refused:
        reports.parse(raw, hint)
    return [(p.location, p.message) for p in refused.value.problems]


def locations(data: bytes | dict[str, Any], hint: str | None = None) -> list[str]:
    return [location for location, _ in refusal(data, hint)]


# The official examples ------------------------------------------------------------------


def test_every_official_measure_report_and_the_bundles_are_valid_r4(
    official_examples: dict[str, dict[str, Any]],
) -> None:
    assert len(official_examples) >= 13
    failed = {
        name: problems
        for name, resource in official_examples.items()
        if (problems := reports.validate_structure(resource))
    }
    assert failed == {}


def test_a_broken_official_measure_report_is_refused_with_every_location(
    official_examples: dict[str, dict[str, Any]],
) -> None:
    report = copy.deepcopy(official_examples[CAT1])
    report["group"][0]["population"][0]["count"] = "many"  # a wrong data type
    report["group"][0]["colour"] = "red"  # an unknown element
    del report["status"]  # a missing required element (hidden by the errors inside)
    report["type"] = "tally"  # a code outside its required value set
    report["period"]["start"] = "1 January 2014"  # not a FHIR dateTime
    problems = reports.validate_structure(report)
    assert [p.location for p in problems] == [  # in the file's order; what is missing last
        "MeasureReport.type",
        "MeasureReport.period.start",
        "MeasureReport.group[0].population[0].count",
        "MeasureReport.group[0].colour",
        "MeasureReport.status",
    ]
    messages = {p.location: p.message for p in problems}
    assert messages["MeasureReport.group[0].colour"] == "not an element of this FHIR R4 type"
    assert messages["MeasureReport.status"] == "a required element is missing"
    assert "'tally'" in messages["MeasureReport.type"]
    assert "integer" in messages["MeasureReport.group[0].population[0].count"]


def test_broken_official_bundles_are_refused_with_every_location(
    official_examples: dict[str, dict[str, Any]],
) -> None:
    bundle = copy.deepcopy(official_examples["Bundle-bundle-example.json"])
    bundle["entry"][0]["resource"]["status"] = 7
    del bundle["type"]
    report = copy.deepcopy(official_examples[CAT1])
    del report["measure"]
    bundle["entry"].append({"resource": report})
    bundle["entry"].append({"resource": 5})
    bundle["entry"].append({"resource": {"resourceType": "Nonsense"}})
    assert [p.location for p in reports.validate_structure(bundle)] == [
        "Bundle.entry[0].resource.status",
        "Bundle.entry[2].resource.measure",
        "Bundle.entry[3].resource",
        "Bundle.entry[4].resource.resourceType",
        "Bundle.type",
    ]
    transaction = copy.deepcopy(official_examples["Bundle-bundle-transaction.json"])
    transaction["type"] = "transactional"
    transaction["entry"][1]["request"]["method"] = "FETCH"
    assert [p.location for p in reports.validate_structure(transaction)] == [
        "Bundle.type",
        "Bundle.entry[1].request.method",
    ]
    assert reports.validate_structure({"resourceType": "Patient"}) == [
        Problem("resourceType", "expected MeasureReport or Bundle, not 'Patient'")
    ]


def test_structural_problems_are_listed_by_parse_without_their_consequences(
    official_examples: dict[str, dict[str, Any]],
) -> None:
    report = copy.deepcopy(official_examples[CAT1])
    del report["status"]
    where = locations(report)
    assert where.count("MeasureReport.status") == 1  # not also "must be complete"
    assert "MeasureReport.type" in where  # the profile's own problems are there too


def test_an_official_example_is_not_our_profile(
    official_examples: dict[str, dict[str, Any]],
) -> None:
    """Structurally fine, but not weekly counts by disease and area: refused, located."""
    problems = dict(
        refusal(official_examples["MeasureReport-measurereport-cms146-cat3-example.json"])
    )
    assert problems["MeasureReport.measure"] == f"must be {reports.MEASURE}"
    assert problems["MeasureReport.period.start"] == (
        "2014-01-01 is a Wednesday; an ISO week starts on Monday"
    )
    assert problems["MeasureReport.group[0].code"].startswith("needs a coding with system")
    assert problems["MeasureReport.group[0].stratifier[1]"] == "one stratifier per group: by area"


# Our profile: FHIR -------------------------------------------------------------------------

OBSERVATIONS = [
    Observation("A90", "ID-JB", "2026-W01", 300, None),
    Observation("A90", "ID-JK", "2026-W01", 120, 10_680_000),
    Observation("A91", "ID-JK", "2026-W01", 4, 10_680_000),
    Observation("A90", "ID-JB", "2026-W02", 290, 49_900_000),
    Observation("A90", "ID-JK", "2026-W02", 131, 10_680_000),
    Observation("B05", "ID", "2026-W02", 0, None),
]


def our_bundle() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(reports.to_fhir(OBSERVATIONS, "ASEAN/GOV/IDN", BUNDLE_ID))
    return doc


def test_our_fhir_round_trips_and_is_valid_r4() -> None:
    data = reports.to_fhir(OBSERVATIONS, "ASEAN/GOV/IDN", BUNDLE_ID)
    doc = json.loads(data)
    assert reports.validate_structure(doc) == []
    assert [e["resource"]["period"] for e in doc["entry"]] == [
        {"start": "2025-12-29", "end": "2026-01-04"},
        {"start": "2026-01-05", "end": "2026-01-11"},
    ]
    parsed = reports.parse(data, "application/fhir+json")
    assert parsed.format == "fhir"
    assert parsed.observations == OBSERVATIONS  # weeks, then diseases, then areas
    assert parsed.report_ids == [
        f"Bundle/{BUNDLE_ID}",
        f"MeasureReport/{BUNDLE_ID}-2026-W01",
        f"MeasureReport/{BUNDLE_ID}-2026-W02",
    ]
    assert reports.to_fhir(OBSERVATIONS, "ASEAN/GOV/IDN", BUNDLE_ID) == data  # deterministic


def test_the_documented_examples_are_taken() -> None:
    text = DOCS.read_text()
    fhir = re.search(r"```json\n(.*?)\n```", text, re.S)
    table = re.search(r"```csv\n(.*?)\n```", text, re.S)
    assert fhir
    assert table
    parsed = reports.parse(fhir.group(1).encode())
    assert parsed.observations == [
        Observation("A90", "ID-JB", "2026-W45", 812, 49_900_000),
        Observation("A90", "ID-JK", "2026-W45", 131, None),
    ]
    assert parsed.report_ids == ["MeasureReport/idn-dengue-2026-w45"]
    assert reports.parse(table.group(1).encode()).observations == [
        Observation("A90", "ID-JB", "2026-W45", 812, 49_900_000),
        Observation("A90", "ID-JK", "2026-W45", 131, 10_680_000),
        Observation("B54", "ID-PA", "2026-W45", 57, None),
    ]


def test_a_ministry_style_report_is_taken() -> None:
    """dateTimes for the period, a local code beside ICD-10, group totals, identifiers."""
    doc = our_bundle()
    doc["type"] = "searchset"
    report = doc["entry"][0]["resource"]
    report["identifier"] = [{"system": "https://kemkes.go.id/laporan", "value": "2026-01"}]
    report["period"] = {"start": "2025-12-29T00:00:00+07:00", "end": "2026-01-04T23:59:59+07:00"}
    group = report["group"][0]
    group["code"]["coding"].insert(0, {"system": "https://kemkes.go.id/penyakit", "code": "DBD"})
    group["population"] = [
        {"code": {"coding": [{"system": reports.POPULATION, "code": "numerator"}]}, "count": 420}
    ]
    parsed = reports.parse(json.dumps(doc).encode())
    assert parsed.observations == OBSERVATIONS
    assert "https://kemkes.go.id/laporan|2026-01" in parsed.report_ids


def test_a_bad_fhir_file_lists_every_problem_where_it_is() -> None:
    doc = our_bundle()
    first, second = doc["entry"][0]["resource"], doc["entry"][1]["resource"]
    first["group"][0]["code"]["coding"][0]["code"] = "Z99"
    first["group"][0]["stratifier"][0]["stratum"][0]["value"]["coding"][0]["code"] = "ID-QQ"
    second["period"]["end"] = "2026-01-20"
    second["group"][0]["stratifier"][0]["stratum"][1]["population"][0]["count"] = "many"
    doc["entry"].append({"resource": {"resourceType": "Patient"}})
    problems = refusal(doc)
    documented = re.search(
        r"Typical refusals of a Bundle, as listed:\n\n```text\n(.*?)\n```", DOCS.read_text(), re.S
    )
    assert documented
    assert [f"{location}: {message}" for location, message in problems] == documented.group(
        1
    ).split("\n")


def test_profile_problems_each_at_its_element() -> None:
    doc = our_bundle()
    first, second = doc["entry"][0]["resource"], doc["entry"][1]["resource"]
    first["status"] = "pending"
    first["type"] = "individual"
    first["measure"] = "https://example.org/Measure/other"
    a90 = first["group"][0]["stratifier"][0]
    a90["code"] = [{"text": "province"}]
    a90["stratum"][0]["population"][0]["count"] = -1
    del a90["stratum"][1]["population"][0]["count"]
    a90["stratum"][1]["population"][1]["code"]["coding"][0]["code"] = "initial-population"
    first["group"][1]["code"]["coding"][0]["code"] = "a91"
    second["period"]["start"] = "2026-01-06"
    national = second["group"][1]["stratifier"][0]["stratum"][0]["value"]["coding"][0]
    national["system"] = codes.ISO_3166_2
    second["group"].append({"code": {"text": "dengue"}, "stratifier": []})
    a90w2 = "Bundle.entry[0].resource.group[0].stratifier[0]"
    assert refusal(doc) == [
        ("Bundle.entry[0].resource.status", "must be 'complete' (a 'pending' report is not taken)"),
        ("Bundle.entry[0].resource.type", "must be 'summary': counts per area"),
        ("Bundle.entry[0].resource.measure", f"must be {reports.MEASURE}"),
        (f"{a90w2}.code", 'must be [{"text": "area"}]'),
        (f"{a90w2}.stratum[0].population[0].count", "-1 is not between 0 and 2147483647"),
        (f"{a90w2}.stratum[1].population[0].count", "needs a count"),
        (
            f"{a90w2}.stratum[1].population[1].code.coding[0].code",
            "must be numerator (the cases) or denominator (the people living there)",
        ),
        (
            "Bundle.entry[0].resource.group[1].code.coding[0].code",
            "ICD-10 codes are written in capitals, without spaces: 'A91'",
        ),
        (
            "Bundle.entry[1].resource.period.start",
            "2026-01-06 is a Tuesday; an ISO week starts on Monday",
        ),
        (
            "Bundle.entry[1].resource.group[1].stratifier[0].stratum[0].value.coding[0].system",
            "ID is a country: its system is urn:iso:std:iso:3166",
        ),
        (
            "Bundle.entry[1].resource.group[2].code",
            "needs a coding with system http://hl7.org/fhir/sid/icd-10",
        ),
        (
            "Bundle.entry[1].resource.group[2].stratifier",
            "needs one stratifier, by area, one stratum per area",
        ),
    ]


@pytest.mark.parametrize(
    ("start", "end", "where", "message"),
    [
        ("2026-01-05", "2026-01-18", "period.end", "must be 2026-01-11, the Sunday"),
        ("2026-01-04", "2026-01-10", "period.start", "2026-01-04 is a Sunday"),
        ("2026-01", "2026-01-11", "period.start", "'2026-01' is not a full date"),
        ("2026-01-05", None, "period.end", "needs a date"),
        ("2026-02-30", "2026-03-07", "period.start", "day value is outside expected range"),
    ],
)
def test_a_period_must_be_one_iso_week(
    start: str, end: str | None, where: str, message: str
) -> None:
    doc = our_bundle()
    report = doc["entry"][1]["resource"]
    report["period"] = {"start": start} if end is None else {"start": start, "end": end}
    problems = refusal(doc)
    assert problems[0][0] == f"Bundle.entry[1].resource.{where}"
    assert message in problems[0][1]


def test_a_week_53_is_a_week() -> None:
    week = [Observation("A90", "ID-JK", "2026-W53", 9, None)]
    assert reports.parse(reports.to_fhir(week, "m", "x")).observations == week
    doc = json.loads(reports.to_fhir(week, "m", "x"))
    doc["entry"][0]["resource"]["period"] = {"start": "2025-12-29", "end": "2026-01-04"}
    assert reports.parse(json.dumps(doc).encode()).observations[0].period == "2026-W01"


def test_duplicates_are_located_where_they_repeat() -> None:
    doc = our_bundle()
    again = copy.deepcopy(doc["entry"][0])
    again["resource"]["id"] = "again"
    doc["entry"].append(again)
    first = doc["entry"][0]["resource"]["group"][0]["stratifier"][0]
    first["stratum"].append(copy.deepcopy(first["stratum"][1]))
    problems = refusal(doc)
    a90 = "Bundle.entry[0].resource.group[0].stratifier[0]"
    assert problems[0] == (
        f"{a90}.stratum[2]",
        f"A90 in ID-JK in 2026-W01 is already given at {a90}.stratum[1]",
    )
    assert [p[0] for p in problems[1:]] == [  # the copy of the first week, as it was
        "Bundle.entry[2].resource.group[0].stratifier[0].stratum[0]",
        "Bundle.entry[2].resource.group[0].stratifier[0].stratum[1]",
        "Bundle.entry[2].resource.group[1].stratifier[0].stratum[0]",
    ]


def test_files_that_are_not_fhir_counts() -> None:
    assert refusal(b"  \n") == [("file", "the file is empty")]
    assert refusal(b"\xef\xbb\xbf") == [("file", "the file is empty")]
    assert refusal(b'{"resourceType": "Bundle",\n "type": }') == [
        ("line 2, column 10", "not valid JSON: Expecting value")
    ]
    assert refusal(b'{"count": NaN}')[0][0] == "file"
    assert refusal(b"[1, 2]") == [("file", "a FHIR file holds one JSON object: a resource")]
    assert refusal(b'{"resourceType": "Patient"}') == [
        ("resourceType", "expected a MeasureReport or a Bundle, not 'Patient'")
    ]
    assert refusal(b'{"resourceType": "Bundle", "type": "collection"}') == [
        ("Bundle.entry", "the bundle holds no MeasureReport")
    ]
    assert refusal(b"<Bundle xmlns='http://hl7.org/fhir'/>") == [
        ("file", "FHIR XML is not taken: send FHIR JSON or CSV")
    ]
    assert refusal(b"disease,area", "counts.json") == [
        ("line 1, column 1", "not valid JSON: Expecting value")
    ]
    assert refusal(b'{"resourceType": "Bundle"}\n\xff') == [("line 2", "not UTF-8 text")]


def test_the_refusal_carries_its_problems() -> None:
    with pytest.raises(reports.ReportInvalid) as refused:
        reports.parse(b"disease,area,period,count\nA90,ID-JK,2026-W01,x\nZ99,ID-JK,2026-W01,1\n")
    error = refused.value
    assert error.status == 422
    assert error.extra == {
        "problems": [
            {"location": "line 2, column count", "message": error.problems[0].message},
            {"location": "line 3, column disease", "message": error.problems[1].message},
        ]
    }
    assert error.detail.startswith("2 problem(s) in the file; the first: line 2, column count")


# Our profile: CSV --------------------------------------------------------------------------


def test_csv_is_read_with_bom_free_column_order_quotes_and_crlf() -> None:
    good = (
        "\ufeff Period ,COUNT,disease,area,population\r\n"
        "2026-W01,120,A90,ID-JK,10680000\r\n"
        "\r\n"
        '"2026-W01", 80 ,"A90",MY-10,\r\n'
    )
    parsed = reports.parse(good.encode(), "weekly.csv")
    assert parsed.format == "csv"
    assert parsed.report_ids == []
    assert parsed.observations == [
        Observation("A90", "ID-JK", "2026-W01", 120, 10_680_000),
        Observation("A90", "MY-10", "2026-W01", 80, None),
    ]


def test_csv_problems_are_all_located_by_line_and_column() -> None:
    bad = (
        "disease,area,period,count,population\n"
        "A90,ID-JK,2026-W01,1,\n"
        "B99,ID-JK,2026-W02,2,\n"
        "A90,XX-ZZ,2026-W54,-1,\n"
        'A90,ID-JB,2026-W01,"1,000",\n'
        "A90,ID-JK,2026-W01,3,\n"
        "A90,ID-JK\n"
        "A90,id-jk,2026-W03,²,3.5\n"
        'A90,ID-BA,"2026-\n'
        'W04",4,1e6\n'
        "A90,ID-BT,2026-W04,4,99999999999\n"
    )
    assert refusal(bad.encode()) == [
        ("line 3, column disease", "ICD-10 B99 is not one of the notifiable diseases taken here"),
        ("line 4, column area", "'XX-ZZ' is not an ISO 3166-2 code: there is no country 'XX'"),
        ("line 4, column period", "2026 has no ISO week 54"),
        ("line 4, column count", "'-1' is not a whole number from 0 to 2147483647"),
        ("line 5, column count", "'1,000' is not a whole number from 0 to 2147483647"),
        ("line 6", "A90 in ID-JK in 2026-W01 is already given at line 2"),
        ("line 7", "2 cells for 5 columns"),
        (
            "line 8, column area",
            "ISO 3166-2 codes are written in capitals, without spaces: 'ID-JK'",
        ),
        ("line 8, column count", "'²' is not a whole number from 0 to 2147483647"),
        ("line 8, column population", "'3.5' is not a whole number from 0 to 2147483647"),
        ("line 9, column period", "'2026-\\nW04' is not an ISO week like 2024-W05"),
        ("line 9, column population", "'1e6' is not a whole number from 0 to 2147483647"),
        (
            "line 11, column population",
            "'99999999999' is not a whole number from 0 to 2147483647",
        ),
    ]


def test_csv_header_problems() -> None:
    assert refusal(b"disease,area,period\nA90,ID-JK,2026-W01\n") == [
        ("line 1", "missing column 'count'")
    ]
    assert refusal(b"Disease,area,period,count,region,count\n") == [
        ("line 1, column region", "unknown column 'region'"),
        ("line 1, column count", "column 'count' appears twice"),
    ]
    assert refusal(b"disease;area;period;count\nA90;ID-JK;2026-W01;1\n") == [
        ("line 1", "columns are separated by commas, not semicolons")
    ]
    assert refusal(b"\n\nA90,ID-JK,2026-W01,1\n") == [
        ("line 1", "needs the header row: disease,area,period,count")
    ]
    assert refusal(b"disease,area,period,count\n\n") == [
        ("file", "the file holds no weekly counts: only its header")
    ]
    assert refusal(b'disease,area,period,count\nA90,"ID-JK"x,2026-W01,1\n') == [
        ("line 2", "not readable as CSV (',' expected after '\"'); reading stopped")
    ]
    assert refusal(b"disease,area,period,count\nA90,ID-JK,2026-W01,1\x00\n") == [
        ("line 2, column count", "'1\\x00' is not a whole number from 0 to 2147483647")
    ]


def test_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = "disease,area,period,count\n" + "".join(
        f"A90,ID-JK,{week},1\n" for week in weeks.span("2026-W01", "2026-W10")
    )
    assert len(reports.parse(rows.encode()).observations) == 10
    monkeypatch.setattr(reports, "MAX_ROWS", 9)
    assert refusal(rows.encode()) == [("line 11", "more than 9 rows; split the file")]
    monkeypatch.setattr(reports, "MAX_BYTES", 100)
    assert refusal(rows.encode()) == [
        ("file", f"the file has {len(rows):,} bytes; the limit is 100")
    ]
    monkeypatch.setattr(reports, "MAX_BYTES", 50 * 1024 * 1024)
    monkeypatch.setattr(reports, "MAX_PROBLEMS", 3)
    bad = "disease,area,period,count\n" + "Z99,ID-JK,2026-W01,1\n" * 10
    assert refusal(bad.encode()) == [
        ("line 2, column disease", "ICD-10 Z99 is not one of the notifiable diseases taken here"),
        ("line 3, column disease", "ICD-10 Z99 is not one of the notifiable diseases taken here"),
        ("line 4, column disease", "ICD-10 Z99 is not one of the notifiable diseases taken here"),
        ("file", "listing stops at 3 problems; there are more"),
    ]


def test_the_real_limits() -> None:
    assert reports.MAX_BYTES == 50 * 1024 * 1024
    assert reports.MAX_ROWS == 1_000_000
    too_big = b"disease,area,period,count\n" + b" " * reports.MAX_BYTES
    assert refusal(too_big)[0][1].endswith("the limit is 52,428,800")


def test_to_csv_round_trips() -> None:
    data = reports.to_csv(OBSERVATIONS)
    assert data.decode().splitlines()[:2] == [
        "disease,area,period,count,population",
        "A90,ID-JB,2026-W01,300,",
    ]
    assert reports.parse(data).observations == OBSERVATIONS


def test_what_cannot_be_sent_is_not_written() -> None:
    with pytest.raises(ValueError, match="no counts"):
        reports.to_fhir([], "m", BUNDLE_ID)
    with pytest.raises(ValueError, match="given twice"):
        reports.to_csv([OBSERVATIONS[0], OBSERVATIONS[0]])
    with pytest.raises(ValueError, match="ICD-10"):
        reports.to_fhir([Observation("Z99", "ID", "2026-W01", 1)], "m", BUNDLE_ID)
    with pytest.raises(ValueError, match="ISO week"):
        reports.to_fhir([Observation("A90", "ID", "2026-W99", 1)], "m", BUNDLE_ID)
    with pytest.raises(ValueError, match="between 0"):
        reports.to_fhir([Observation("A90", "ID", "2026-W01", -1)], "m", BUNDLE_ID)
    with pytest.raises(ValueError, match="FHIR id"):
        reports.to_fhir(OBSERVATIONS, "m", "not/an id")


# Codes -------------------------------------------------------------------------------------


def test_disease_codes() -> None:
    assert codes.disease_name("A90") == "Dengue fever"
    assert codes.disease_name("Z99") == "Z99"
    for code in ("A90", "A91", "A00", "A01.0", "A92.0", "A92.5", "B05", "A80", "A82", "A27"):
        codes.check_disease(code)
    for code in ("A36", "A37", "B50", "B54", "J09", "U07.1", "A20", "A98.5"):
        codes.check_disease(code)
    reasons = {
        "dengue": "'dengue' is not an ICD-10 code (a letter, two digits, maybe a dot: A90, A01.0)",
        "a90": "ICD-10 codes are written in capitals, without spaces: 'A90'",
        "A01": "ICD-10 A01 is taken only as A01.0 (Typhoid fever)",
        "A90.0": "ICD-10 A90.0 is counted under A90 (Dengue fever)",
        "Z99": "ICD-10 Z99 is not one of the notifiable diseases taken here",
    }
    for code, reason in reasons.items():
        with pytest.raises(ValueError, match=re.escape(reason)):
            codes.check_disease(code)


def test_area_codes() -> None:
    assert codes.area_name("ID-JB") == "Jawa Barat"
    assert codes.area_name("ID") == "Indonesia"
    assert codes.area_name("id-jb") == "id-jb"
    for code in ("ID-JK", "MY-14", "SG-01", "TH-10", "VN-HN", "PH-00", "ID-PS", "ID", "TL"):
        codes.check_area(code)
    reasons = {
        "ID-ZZ": "'ID-ZZ' is not an ISO 3166-2 subdivision of Indonesia",
        "id-jk": "ISO 3166-2 codes are written in capitals, without spaces: 'ID-JK'",
        "IDN": "'IDN' is an alpha-3 code; a national total is coded alpha-2: 'ID'",
        "XX": "'XX' is not an ISO 3166-1 alpha-2 country code",
        "Jakarta": "'Jakarta' is not an ISO 3166-2 subdivision code (like ID-JK) or ISO 3166-1",
    }
    for code, reason in reasons.items():
        with pytest.raises(ValueError, match=re.escape(reason)):
            codes.check_area(code)
    assert codes.area_system("ID-JK") == "urn:iso:std:iso:3166:-2"
    assert codes.area_system("ID") == "urn:iso:std:iso:3166"


# Round trips -------------------------------------------------------------------------------

observation = st.builds(
    Observation,
    disease=st.sampled_from(sorted(codes.DISEASES)),
    area=st.sampled_from(["ID-JK", "ID-JB", "MY-10", "SG-01", "TH-10", "ID", "MY"]),
    period=st.sampled_from([*weeks.span("2025-W50", "2026-W03"), "2026-W53"]),
    count=st.integers(min_value=0, max_value=reports.MAX_COUNT),
    population=st.one_of(st.none(), st.integers(min_value=0, max_value=reports.MAX_COUNT)),
)
unique_observations = st.lists(
    observation, min_size=1, max_size=25, unique_by=lambda o: (o.disease, o.area, o.period)
)


@settings(max_examples=40, deadline=None)
@given(unique_observations)
def test_round_trip_property(items: list[Observation]) -> None:
    data = reports.to_fhir(items, "ASEAN/GOV/IDN", BUNDLE_ID)
    key = lambda o: (o.period, o.disease, o.area)  # noqa: E731
    assert reports.parse(data).observations == sorted(items, key=key)
    assert reports.parse(reports.to_csv(items)).observations == items
