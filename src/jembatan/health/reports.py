"""Weekly counts in: FHIR R4 MeasureReports (alone or in a Bundle) in the profile of
docs/health-formats.md, or CSV. Every problem is reported with its location, and a file
with any problem yields nothing."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import pydantic
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.measurereport import MeasureReport

from jembatan.errors import InvalidInput
from jembatan.health import codes, weeks

MEASURE = "https://jembatan.dev/fhir/Measure/weekly-notifiable-disease-counts"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
CASES, PEOPLE = "numerator", "denominator"  # cases; the area's population
MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 1_000_000
MAX_PROBLEMS = 200  # a report lists at most this many (a broken file can have millions)
CSV_COLUMNS = ("disease", "area", "period", "count")


@dataclass(frozen=True)
class Observation:
    disease: str  # ICD-10
    area: str  # ISO 3166-2 (or 3166-1 alpha-2)
    period: str  # ISO week
    count: int
    population: int | None = None


@dataclass(frozen=True)
class Problem:
    location: str
    message: str


class ReportInvalid(InvalidInput):
    """A file refused as a whole; `problems` says every thing wrong and where."""

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        super().__init__(
            "{n} problem(s) in the file; the first: {location}: {problem}",
            n=len(problems),
            location=first.location,
            problem=first.message,
        )
        self.problems = problems
        self.extra = {
            "problems": [{"location": p.location, "message": p.message} for p in problems]
        }


@dataclass(frozen=True)
class Parsed:
    format: Literal["fhir", "csv"]
    observations: list[Observation]
    report_ids: list[str] = field(default_factory=list)


def parse(data: bytes, hint: str | None = None) -> Parsed:
    """A file of weekly counts; JSON is taken as FHIR, anything else as CSV."""
    if len(data) > MAX_BYTES:
        raise ReportInvalid([Problem("file", f"the file is larger than {MAX_BYTES} bytes")])
    text = data.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text:
        raise ReportInvalid([Problem("file", "the file is empty")])
    if text[:1] in (b"{", b"[") or (hint or "").endswith(("json", ".json")):
        return _parse_fhir(data)
    return _parse_csv(data)


# FHIR -------------------------------------------------------------------------------


def _path(root: str, loc: Sequence[Any]) -> str:
    out = root
    for part in loc:
        if part == "root":
            continue
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validate_structure(resource: dict[str, Any]) -> list[Problem]:
    """R4 structure of one MeasureReport or Bundle, by fhir.resources' R4B models."""
    kind = resource.get("resourceType")
    model: Any = {"MeasureReport": MeasureReport, "Bundle": Bundle}.get(str(kind))
    if model is None:
        return [Problem("resourceType", f"expected MeasureReport or Bundle, not {kind!r}")]
    try:
        model.model_validate(resource)
    except pydantic.ValidationError as exc:
        return [Problem(_path(str(kind), e["loc"]), e["msg"]) for e in exc.errors()]
    except (ValueError, TypeError) as exc:
        return [Problem(str(kind), str(exc))]
    return []


def _parse_fhir(data: bytes) -> Parsed:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportInvalid([Problem("file", f"not valid JSON: {exc}")]) from None
    if not isinstance(doc, dict):
        raise ReportInvalid([Problem("file", "a FHIR resource is a JSON object")])
    problems = validate_structure(doc)
    if problems:
        raise ReportInvalid(problems[:MAX_PROBLEMS])
    reports: list[tuple[str, dict[str, Any]]] = []
    if doc["resourceType"] == "Bundle":
        for i, entry in enumerate(doc.get("entry") or []):
            resource = entry.get("resource") or {}
            where = f"Bundle.entry[{i}].resource"
            if resource.get("resourceType") != "MeasureReport":
                problems.append(Problem(where, "every entry must be a MeasureReport"))
            else:
                reports.append((where, resource))
    else:
        reports.append(("MeasureReport", doc))
    observations: list[Observation] = []
    ids = []
    for where, report in reports:
        observations.extend(_profile(where, report, problems))
        ids.append(str(report.get("id") or ""))
    _duplicates(observations, problems)
    if not observations and not problems:
        problems.append(Problem("file", "the file holds no weekly counts"))
    if problems:
        raise ReportInvalid(problems[:MAX_PROBLEMS])
    return Parsed("fhir", observations, [i for i in ids if i])


def _coded(concept: dict[str, Any] | None, system: str) -> str | None:
    for coding in (concept or {}).get("coding") or []:
        if coding.get("system") == system and coding.get("code"):
            return str(coding["code"])
    return None


def _week_of(where: str, period: dict[str, Any] | None, problems: list[Problem]) -> str | None:
    start, end = (period or {}).get("start", ""), (period or {}).get("end", "")
    try:
        first, last = date.fromisoformat(start[:10]), date.fromisoformat(end[:10])
    except ValueError:
        problems.append(Problem(f"{where}.period", "needs a start and an end date"))
        return None
    if first.isoweekday() != 1 or last != first + timedelta(days=6):
        problems.append(
            Problem(f"{where}.period", "must be one ISO week: from a Monday to the Sunday after")
        )
        return None
    return weeks.of(first)


def _profile(where: str, report: dict[str, Any], problems: list[Problem]) -> list[Observation]:
    found: list[Observation] = []
    if report.get("status") != "complete":
        problems.append(Problem(f"{where}.status", "only complete reports are taken"))
    if report.get("type") != "summary":
        problems.append(Problem(f"{where}.type", "must be 'summary' (counts per area)"))
    period = _week_of(where, report.get("period"), problems)
    for g, group in enumerate(report.get("group") or []):
        here = f"{where}.group[{g}]"
        disease = _coded(group.get("code"), codes.ICD10)
        if disease is None:
            problems.append(Problem(f"{here}.code", f"needs a coding in {codes.ICD10}"))
        else:
            try:
                codes.check_disease(disease)
            except ValueError as exc:
                problems.append(Problem(f"{here}.code", str(exc)))
                disease = None
        strata = [
            (f"{here}.stratifier[{s}].stratum[{t}]", stratum)
            for s, stratifier in enumerate(group.get("stratifier") or [])
            for t, stratum in enumerate(stratifier.get("stratum") or [])
        ]
        if not strata:
            problems.append(Problem(here, "needs a stratifier by area with one stratum per area"))
        for spot, stratum in strata:
            area = _coded(stratum.get("value"), codes.ISO_3166_2) or _coded(
                stratum.get("value"), codes.ISO_3166
            )
            if area is None:
                problems.append(Problem(f"{spot}.value", f"needs a coding in {codes.ISO_3166_2}"))
            else:
                try:
                    codes.check_area(area)
                except ValueError as exc:
                    problems.append(Problem(f"{spot}.value", str(exc)))
                    area = None
            counts: dict[str, int] = {}
            for p, population in enumerate(stratum.get("population") or []):
                code = _coded(population.get("code"), POPULATION)
                if code not in (CASES, PEOPLE):
                    problems.append(
                        Problem(f"{spot}.population[{p}].code", f"must be {CASES} or {PEOPLE}")
                    )
                elif population.get("count") is None or population["count"] < 0:
                    problems.append(Problem(f"{spot}.population[{p}].count", "needs a count >= 0"))
                else:
                    counts[code] = int(population["count"])
            if CASES not in counts:
                problems.append(Problem(f"{spot}.population", f"needs the {CASES} (cases) count"))
            elif disease and area and period:
                found.append(Observation(disease, area, period, counts[CASES], counts.get(PEOPLE)))
    return found


def _duplicates(observations: list[Observation], problems: list[Problem]) -> None:
    seen: set[tuple[str, str, str]] = set()
    for o in observations:
        key = (o.disease, o.area, o.period)
        if key in seen:
            problems.append(Problem(f"{o.disease} {o.area} {o.period}", "given more than once"))
        seen.add(key)


def to_fhir(observations: Sequence[Observation], reporter: str, report_id: str) -> bytes:
    """A Bundle (type collection) with one MeasureReport per week, one group per disease,
    a stratum per area; parse() takes it back."""
    by_week: dict[str, dict[str, list[Observation]]] = {}
    for o in observations:
        by_week.setdefault(o.period, {}).setdefault(o.disease, []).append(o)
    entries = []
    for n, period in enumerate(sorted(by_week)):
        monday = weeks.monday(period)
        groups = []
        for disease, items in sorted(by_week[period].items()):
            strata = []
            for o in sorted(items, key=lambda i: i.area):
                populations: list[dict[str, Any]] = [_population(CASES, o.count)]
                if o.population is not None:
                    populations.append(_population(PEOPLE, o.population))
                system = codes.ISO_3166_2 if "-" in o.area else codes.ISO_3166
                strata.append(
                    {
                        "value": {"coding": [{"system": system, "code": o.area}]},
                        "population": populations,
                    }
                )
            groups.append(
                {
                    "code": {
                        "coding": [
                            {
                                "system": codes.ICD10,
                                "code": disease,
                                "display": codes.disease_name(disease),
                            }
                        ]
                    },
                    "stratifier": [{"code": [{"text": "area"}], "stratum": strata}],
                }
            )
        entries.append(
            {
                "fullUrl": f"urn:uuid:{report_id[:-12]}{n:012x}",
                "resource": {
                    "resourceType": "MeasureReport",
                    "id": f"{report_id[:24]}-{period.lower()}",
                    "status": "complete",
                    "type": "summary",
                    "measure": MEASURE,
                    "reporter": {"display": reporter},
                    "period": {
                        "start": monday.isoformat(),
                        "end": (monday + timedelta(days=6)).isoformat(),
                    },
                    "group": groups,
                },
            }
        )
    bundle = {"resourceType": "Bundle", "id": report_id, "type": "collection", "entry": entries}
    return json.dumps(bundle, separators=(",", ":")).encode()


def _population(code: str, count: int) -> dict[str, Any]:
    return {"code": {"coding": [{"system": POPULATION, "code": code}]}, "count": count}


# CSV --------------------------------------------------------------------------------


def _parse_csv(data: bytes) -> Parsed:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReportInvalid([Problem("file", f"not UTF-8 text (byte {exc.start})")]) from None
    rows = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(rows, [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    unknown = [h for h in header if h not in (*CSV_COLUMNS, "population")]
    problems = [Problem("line 1", f"missing column {c!r}") for c in missing]
    problems += [Problem("line 1", f"unknown column {h!r}") for h in unknown]
    if problems:
        raise ReportInvalid(problems)
    at = {name: header.index(name) for name in header}
    observations = []
    for line, row in enumerate(rows, start=2):
        if line - 1 > MAX_ROWS:
            problems.append(Problem(f"line {line}", f"more than {MAX_ROWS} rows"))
            break
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(Problem(f"line {line}", f"{len(row)} cells for {len(header)} columns"))
            continue
        cell = {name: row[i].strip() for name, i in at.items()}
        found = _row(line, cell, problems)
        if found is not None:
            observations.append(found)
        if len(problems) >= MAX_PROBLEMS:
            break
    _duplicates(observations, problems)
    if not observations and not problems:
        problems.append(Problem("file", "the file holds no weekly counts"))
    if problems:
        raise ReportInvalid(problems[:MAX_PROBLEMS])
    return Parsed("csv", observations)


def _row(line: int, cell: dict[str, str], problems: list[Problem]) -> Observation | None:
    before = len(problems)
    checks = (
        ("disease", codes.check_disease),
        ("area", codes.check_area),
        ("period", weeks.parse),
    )
    for name, check in checks:
        try:
            check(cell[name])
        except ValueError as exc:
            problems.append(Problem(f"line {line}, column {name}", str(exc)))
    numbers: dict[str, int | None] = {}
    for name in ("count", "population"):
        raw = cell.get(name, "")
        if name == "population" and raw == "":
            numbers[name] = None
            continue
        if not raw.isdigit():
            problems.append(
                Problem(f"line {line}, column {name}", f"{raw!r} is not a whole number >= 0")
            )
        else:
            numbers[name] = int(raw)
    if len(problems) > before:
        return None
    count = numbers["count"]
    assert count is not None
    return Observation(cell["disease"], cell["area"], cell["period"], count, numbers["population"])
