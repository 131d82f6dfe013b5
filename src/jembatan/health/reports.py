"""Weekly counts in: FHIR R4 MeasureReports (alone or in a Bundle) in the profile of
docs/health-formats.md, or CSV. A file is taken whole or not at all: every problem found
is reported with its location (a FHIRPath-like path, or `line N, column NAME`), and a file
with any problem yields nothing. Counts out: the same profile (`to_fhir`) or CSV."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, Literal

import pydantic
from fhir.resources.R4B import get_fhir_model_class

from jembatan.errors import InvalidInput
from jembatan.health import codes, weeks

MEASURE = "https://jembatan.dev/fhir/Measure/weekly-notifiable-disease-counts"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
CASES, PEOPLE = "numerator", "denominator"  # cases; the people living in the area
AREA = "area"  # the text of the one stratifier's code
MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 1_000_000  # CSV data rows, or strata of a FHIR file
MAX_PROBLEMS = 200  # a refusal lists at most this many (a broken file can have millions)
MAX_COUNT = 2_147_483_647  # FHIR `integer` is 32 bits; so are counts in CSV
CSV_COLUMNS = ("disease", "area", "period", "count")
CSV_OPTIONAL = ("population",)
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_NUMBER = re.compile(r"^[0-9]{1,10}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ROUNDS = 8  # structural validation passes (each may uncover what an error hid)
_NAMESPACE = uuid.UUID("5b0f4c1e-8d2a-5c3e-9f6b-2a7d4e8c1b09")  # our fullUrls (uuid5)


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
    """A file refused as a whole; `problems` says every thing wrong and where. The
    problem+json document carries them as the member `problems`."""

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("a refusal names at least one problem")
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
    report_ids: list[str] = field(default_factory=list)  # Bundle/x, MeasureReport/y, sys|val


class _Stop(Exception):
    """Raised when a refusal has as many problems as it will list."""


class _Problems:
    """Problems as they are found. A problem at or under the location of a structural one
    is its consequence and is left out."""

    def __init__(self, structural: Sequence[Problem] = ()) -> None:
        self.items: list[Problem] = list(structural)
        self.shadow = tuple(p.location for p in structural)
        self.more = False

    def add(self, location: str, message: str) -> None:
        if any(_within(location, base) for base in self.shadow):
            return
        if len(self.items) >= MAX_PROBLEMS:
            self.more = True
            raise _Stop
        self.items.append(Problem(location, message))

    def refusal(self) -> ReportInvalid:
        items = list(self.items)
        if self.more:
            items.append(
                Problem("file", f"listing stops at {MAX_PROBLEMS} problems; there are more")
            )
        return ReportInvalid(items)


def _within(location: str, base: str) -> bool:
    return location == base or location.startswith((base + ".", base + "["))


def parse(data: bytes, filename_or_content_type: str | None = None) -> Parsed:
    """A file of weekly counts. JSON (first character `{` or `[`, or a name or content type
    saying JSON) is read as FHIR, anything else as CSV. ReportInvalid lists every problem."""
    if len(data) > MAX_BYTES:
        raise ReportInvalid(
            [Problem("file", f"the file has {len(data):,} bytes; the limit is {MAX_BYTES:,}")]
        )
    body = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not body:
        raise ReportInvalid([Problem("file", "the file is empty")])
    hint = (filename_or_content_type or "").split(";")[0].strip().lower()
    if body[:1] in (b"{", b"[") or hint.endswith((".json", "/json", "+json")):
        return _parse_fhir(data)
    if body[:1] == b"<":
        raise ReportInvalid([Problem("file", "FHIR XML is not taken: send FHIR JSON or CSV")])
    return _parse_csv(data)


# FHIR structure ----------------------------------------------------------------------

_MODELS = ("MeasureReport", "Bundle")
_ABSTRACT = ("Resource", "DomainResource")


def load_json(data: bytes) -> Any:
    """JSON text (UTF-8, a byte-order mark allowed); ReportInvalid located by line and
    column when it is not."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReportInvalid([Problem(f"line {line}", "not UTF-8 text")]) from None

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        return json.loads(text, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise ReportInvalid(
            [Problem(f"line {exc.lineno}, column {exc.colno}", f"not valid JSON: {exc.msg}")]
        ) from None
    except ValueError as exc:
        raise ReportInvalid([Problem("file", f"not valid JSON: {exc}")]) from None
    except RecursionError:
        raise ReportInvalid([Problem("file", "the JSON is nested too deeply")]) from None


def fhir_path(root: str, loc: Sequence[Any]) -> str:
    """`Bundle.entry[2].resource.status` for the root `Bundle` and ('entry', 2, …)."""
    out = root
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validate_structure(resource: dict[str, Any]) -> list[Problem]:
    """R4 structure of one MeasureReport or Bundle (whatever resources it holds), by the R4B
    models of fhir.resources: wrong types, unknown elements, missing required elements and
    codes outside a required value set, each at its FHIRPath-like location."""
    if not isinstance(resource, dict):
        return [Problem("file", "a FHIR resource is a JSON object")]
    kind = resource.get("resourceType")
    if kind not in _MODELS:
        return [Problem("resourceType", f"expected MeasureReport or Bundle, not {kind!r}")]
    return in_document_order(resource, _structure(resource, str(kind)))


def _structure(doc: dict[str, Any], kind: str) -> list[Problem]:
    """A Bundle's resources are validated one by one (an error in one then costs only its
    own revalidation), and the Bundle around them with each replaced by a stand-in."""
    entries = doc.get("entry") if kind == "Bundle" else None
    if not isinstance(entries, list):
        return _validate(doc, kind, kind, ())[:MAX_PROBLEMS]
    shell, inside = dict(doc), []
    shell["entry"] = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        name = resource.get("resourceType") if isinstance(resource, dict) else None
        if isinstance(name, str) and _resource_model(name) is not None:
            assert isinstance(entry, dict)
            assert isinstance(resource, dict)
            inside += _validate(resource, name, kind, ("entry", i, "resource"))
            entry = {**entry, "resource": _STAND_IN}
        shell["entry"].append(entry)
    return (_validate(shell, kind, kind, ()) + inside)[:MAX_PROBLEMS]


_STAND_IN = {"resourceType": "Parameters"}  # a resource that is valid with nothing in it


@lru_cache(maxsize=256)
def _resource_model(name: str) -> Any:
    """The R4B model of a resource type, or None if there is no such (concrete) resource."""
    if name in _ABSTRACT:
        return None
    try:
        model = get_fhir_model_class(name)
    except ValueError:
        return None
    return model if model.has_resource_base() else None


def _validate(doc: dict[str, Any], name: str, root: str, at: tuple[Any, ...]) -> list[Problem]:
    """The models stop at what they can see: an error deep inside hides a missing required
    element further up, and codes are not checked at all. So each error found is cut out of
    a copy (a missing element gets a stand-in) and the copy validated again, until it
    passes (then its codes are checked) or nothing new turns up."""
    model = _resource_model(name)
    assert model is not None
    problems: list[Problem] = []
    reported: list[tuple[Any, ...]] = []

    def report(loc: tuple[Any, ...], message: str) -> bool:
        if any(_related(loc, seen) for seen in reported):
            return False
        reported.append(loc)
        problems.append(Problem(fhir_path(root, (*at, *loc)), message))
        return True

    work = doc  # copied before the first change
    filled: set[tuple[Any, ...]] = set()
    for _ in range(_ROUNDS):
        try:
            instance = model.model_validate(work)
        except pydantic.ValidationError as exc:
            if work is doc:
                work = copy.deepcopy(doc)
            changed = fresh = False
            for error in exc.errors():
                loc = tuple(part for part in error["loc"] if part != "root")
                fresh |= report(loc, _message(error))
                if loc in filled:  # a stand-in did not do: the element around it goes
                    changed |= _cut(work, loc[:-1])
                elif error["type"] == "model_field_validation.missing":
                    changed |= _fill(work, loc, "x")  # a required primitive
                    filled.add(loc)
                elif error["type"] == "missing":
                    changed |= _fill(work, loc, {})  # a required complex element
                    filled.add(loc)
                else:
                    changed |= _cut(work, loc)
            if not (fresh or changed) or len(problems) >= MAX_PROBLEMS:
                break
            continue
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # The models fail outright on a resourceType they do not know.
            unknown = list(_resource_types(work, ()))
            if not unknown:
                report((), f"cannot be read as FHIR R4: {exc}")
                break
            if work is doc:
                work = copy.deepcopy(doc)
            for loc, message in unknown:
                report((*loc, "resourceType"), message)
                _cut(work, loc)
            continue
        for loc, message in _bad_codes(instance, ()):
            report(loc, message)
        break
    return problems


def _related(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "not an element of this FHIR R4 type"
    if kind in ("missing", "model_field_validation.missing"):
        return "a required element is missing"
    if kind == "model_validation_format":
        return "must be a FHIR resource: a JSON object with a resourceType"
    text = " ".join(str(error["msg"]).split())
    return text.removeprefix("Value error, ")


def _resource_types(value: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Objects whose resourceType names no R4 resource (the models cannot even start on
    them), found before validation."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _resource_types(item, (*loc, i))
    elif isinstance(value, dict):
        if "resourceType" in value and loc:
            name = value["resourceType"]
            if not isinstance(name, str) or _resource_model(name) is None:
                yield loc, f"{name!r} is not a FHIR R4 resource type"
                return
        for key, item in value.items():
            yield from _resource_types(item, (*loc, key))


def _cut(work: Any, loc: tuple[Any, ...]) -> bool:
    """Remove what `loc` points at (a bad list item takes its whole list along); whether
    anything changed."""
    if loc and isinstance(loc[-1], int):
        loc = loc[:-1]
        while loc and isinstance(loc[-1], int):
            loc = loc[:-1]
    if not loc:
        return False
    parent = work
    for part in loc[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(parent, dict) and loc[-1] in parent:
        del parent[loc[-1]]
        return True
    return False


# Elements whose code list in the models' metadata is not their value set.
_LOOSE_CODES = {("CapabilityStatement", "format")}


def _fill(work: Any, loc: tuple[Any, ...], stand_in: Any) -> bool:
    """Put a stand-in where a required element is missing, so that validation can go on
    to what the gap hid (the stand-in's own problems are not reported)."""
    parent = work
    for part in loc[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(parent, dict) and loc and loc[-1] not in parent:
        parent[loc[-1]] = stand_in
        return True
    return False


def _bad_codes(model: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Codes outside the required value set of their element (the models do not check)."""
    cls: Any = type(model)
    fields = _code_fields(cls)
    for name, value in model.__dict__.items():
        if value is None or name not in fields:
            continue
        alias, allowed = fields[name]
        several = isinstance(value, list)
        for i, item in enumerate(value if several else (value,)):
            here = (*loc, alias, i) if several else (*loc, alias)
            if isinstance(item, str):
                if allowed and item not in allowed:
                    choices = ", ".join(allowed) if len(allowed) <= 12 else f"{len(allowed)} codes"
                    yield here, f"{item!r} is not a code of this element ({choices})"
            elif isinstance(item, pydantic.BaseModel):
                yield from _bad_codes(item, here)


@lru_cache(maxsize=2048)
def _code_fields(model: Any) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Field name -> (JSON name, its codes if the models list them all) of a model."""
    out = {}
    for name, info in model.model_fields.items():
        if name.endswith("__ext") or name == "fhir_comments":
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        allowed = extra.get("enum_values")
        if not isinstance(allowed, list) or "+" in allowed:
            allowed = []  # the models list only the first codes of a long value set
        if (model.__name__, name) in _LOOSE_CODES:
            allowed = []
        out[name] = (info.alias or name, tuple(str(a) for a in allowed))
    return out


# FHIR profile ------------------------------------------------------------------------


def _parse_fhir(data: bytes) -> Parsed:
    doc = load_json(data)
    if not isinstance(doc, dict):
        raise ReportInvalid([Problem("file", "a FHIR file holds one JSON object: a resource")])
    kind = doc.get("resourceType")
    if kind not in _MODELS:
        raise ReportInvalid(
            [Problem("resourceType", f"expected a MeasureReport or a Bundle, not {kind!r}")]
        )
    out = _Problems(validate_structure(doc))
    found: list[tuple[Observation, str]] = []
    ids: list[str] = []
    try:
        if kind == "Bundle":
            ids.extend(_ids("Bundle", doc))
            entries = doc.get("entry")
            for i, entry in enumerate(entries if isinstance(entries, list) else []):
                where = f"Bundle.entry[{i}].resource"
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if not isinstance(resource, dict) or not resource:
                    out.add(where, "needs a MeasureReport")
                elif resource.get("resourceType") != "MeasureReport":
                    out.add(
                        f"{where}.resourceType",
                        f"only MeasureReports are taken, not {resource.get('resourceType')!r}",
                    )
                else:
                    ids.extend(_ids("MeasureReport", resource))
                    _report(where, resource, out, found)
            if not found and not out.items:
                out.add("Bundle.entry", "the bundle holds no MeasureReport")
        else:
            ids.extend(_ids("MeasureReport", doc))
            _report("MeasureReport", doc, out, found)
        if len(found) > MAX_ROWS:
            out.add("file", f"more than {MAX_ROWS:,} counts in one file; split it")
        _duplicates(found, out)
        if not found and not out.items:
            out.add("file", "the file holds no weekly counts")
    except _Stop:
        pass
    if out.items:
        out.items = in_document_order(doc, out.items)
        raise out.refusal()
    return Parsed("fhir", [o for o, _ in found], ids)


_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]")


def in_document_order(doc: Any, problems: Sequence[Problem]) -> list[Problem]:
    """Problems of a FHIR file listed from its top to its bottom."""
    return sorted(problems, key=lambda p: _document_order(doc, p.location))


def _document_order(doc: Any, location: str) -> tuple[int, ...]:
    """Where a FHIR location is in the file, for listing problems top to bottom: the
    position of each step among its siblings (an element that is not there goes after
    those that are)."""
    if "." not in location:
        return (-1,)  # `file`, `resourceType`: the file as a whole
    node, key = doc, []
    for step in _STEP.finditer(location, location.index(".")):
        name, index = step.group(1), step.group(2)
        if isinstance(node, dict) and name is not None:
            names = list(node)
            key.append(names.index(name) if name in names else len(names))
            node = node.get(name)
        elif isinstance(node, list) and index is not None:
            key.append(int(index))
            node = node[int(index)] if int(index) < len(node) else None
        else:
            break
    return tuple(key)


def _ids(kind: str, resource: dict[str, Any]) -> list[str]:
    out = [f"{kind}/{resource['id']}"] if isinstance(resource.get("id"), str) else []
    identifiers = resource.get("identifier")
    if isinstance(identifiers, dict):  # Bundle.identifier is one Identifier
        identifiers = [identifiers]
    for identifier in _dicts(identifiers):
        value, system = identifier.get("value"), identifier.get("system")
        if isinstance(value, str):
            out.append(f"{system}|{value}" if isinstance(system, str) else value)
    return out


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _indexed(value: Any) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(value, list):
        return []
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]


def _report(
    where: str, report: dict[str, Any], out: _Problems, found: list[tuple[Observation, str]]
) -> None:
    status = report.get("status")
    if status is None:
        out.add(f"{where}.status", "needs status 'complete'")
    elif status != "complete":
        out.add(f"{where}.status", f"must be 'complete' (a {status!r} report is not taken)")
    if report.get("type") != "summary":
        out.add(f"{where}.type", "must be 'summary': counts per area")
    measure = report.get("measure")
    if not isinstance(measure, str) or measure.split("|")[0] != MEASURE:
        out.add(f"{where}.measure", f"must be {MEASURE}")
    week = _week(where, report.get("period"), out)
    groups = _indexed(report.get("group"))
    if not groups:
        out.add(f"{where}.group", "needs one group per disease")
    for g, group in groups:
        _group(f"{where}.group[{g}]", group, week, out, found)


def _week(where: str, period: Any, out: _Problems) -> str | None:
    """The ISO week a period covers: Monday to Sunday, both included."""
    if not isinstance(period, dict):
        out.add(f"{where}.period", "needs start (a Monday) and end (the Sunday after)")
        return None
    start = _day(f"{where}.period.start", period.get("start"), out)
    end = _day(f"{where}.period.end", period.get("end"), out)
    if start is None or end is None:
        return None
    if start.isoweekday() != 1:
        out.add(f"{where}.period.start", f"{start} is a {start:%A}; an ISO week starts on Monday")
        return None
    sunday = start + timedelta(days=6)
    if end != sunday:
        out.add(
            f"{where}.period.end",
            f"must be {sunday}, the Sunday of the week starting {start}, not {end}: "
            "a report covers one ISO week",
        )
        return None
    return weeks.of(start)


def _day(where: str, value: Any, out: _Problems) -> date | None:
    if value is None:
        out.add(where, "needs a date")
        return None
    if not isinstance(value, str) or not _DATE.match(value):
        out.add(where, f"{value!r} is not a full date (YYYY-MM-DD)")
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        out.add(where, f"{value[:10]!r} is not a date")
        return None


def _group(
    here: str,
    group: dict[str, Any],
    week: str | None,
    out: _Problems,
    found: list[tuple[Observation, str]],
) -> None:
    disease = _one_code(f"{here}.code", group.get("code"), (codes.ICD10,), _disease, out)
    stratifiers = group.get("stratifier")
    if not isinstance(stratifiers, list) or not stratifiers:
        out.add(f"{here}.stratifier", f"needs one stratifier, by {AREA}, one stratum per area")
        return
    spot = f"{here}.stratifier[0]"
    stratifier = stratifiers[0] if isinstance(stratifiers[0], dict) else {}
    labels = [c.get("text") for c in _dicts(stratifier.get("code"))]
    if labels != [AREA]:
        out.add(f"{spot}.code", f'must be [{{"text": "{AREA}"}}]')
    strata = _indexed(stratifier.get("stratum"))
    if not strata:
        out.add(f"{spot}.stratum", "needs one stratum per area")
    for t, stratum in strata:
        _stratum(f"{spot}.stratum[{t}]", stratum, disease, week, out, found)
    for extra in range(1, len(stratifiers)):
        out.add(f"{here}.stratifier[{extra}]", f"one stratifier per group: by {AREA}")


def _stratum(
    spot: str,
    stratum: dict[str, Any],
    disease: str | None,
    week: str | None,
    out: _Problems,
    found: list[tuple[Observation, str]],
) -> None:
    systems = (codes.ISO_3166_2, codes.ISO_3166)
    area = _one_code(f"{spot}.value", stratum.get("value"), systems, _area, out)
    if "component" in stratum:
        out.add(f"{spot}.component", "not used: an area's stratum has a value, not components")
    counts: dict[str, int] = {}
    given: set[str] = set()
    for p, population in _indexed(stratum.get("population")):
        at = f"{spot}.population[{p}]"
        code = _one_code(f"{at}.code", population.get("code"), (POPULATION,), _population, out)
        if code is not None and code in given:
            out.add(f"{at}.code", f"{code} is given twice in this stratum")
            continue
        if code is not None:
            given.add(code)
        count = population.get("count")
        if count is None:
            out.add(f"{at}.count", "needs a count")
        elif not isinstance(count, int) or isinstance(count, bool):
            out.add(f"{at}.count", f"{count!r} is not a whole number")
        elif not 0 <= count <= MAX_COUNT:
            out.add(f"{at}.count", f"{count} is not between 0 and {MAX_COUNT}")
        elif code is not None:
            counts[code] = count
    if CASES not in given:
        out.add(f"{spot}.population", f"needs a population coded {CASES}: the cases")
    elif disease and area and week and CASES in counts:
        found.append((Observation(disease, area, week, counts[CASES], counts.get(PEOPLE)), spot))


_Check = Callable[[str, str], "tuple[str, str] | None"]


def _one_code(
    where: str, concept: Any, systems: tuple[str, ...], check: _Check, out: _Problems
) -> str | None:
    """The one code of `concept` in one of `systems` (other codings may be there too)."""
    if not isinstance(concept, dict):
        out.add(where, f"needs a coding with system {' or '.join(systems)}")
        return None
    hits = [
        (c, coding)
        for c, coding in _indexed(concept.get("coding"))
        if coding.get("system") in systems
    ]
    if not hits:
        out.add(where, f"needs a coding with system {' or '.join(systems)}")
        return None
    for c, _ in hits[1:]:
        out.add(f"{where}.coding[{c}]", "only one coding of this kind is taken")
    c, coding = hits[0]
    code = coding.get("code")
    if not isinstance(code, str):
        out.add(f"{where}.coding[{c}].code", "needs a code")
        return None
    problem = check(code, str(coding.get("system")))
    if problem is not None:
        out.add(f"{where}.coding[{c}].{problem[0]}", problem[1])
        return None
    return code if len(hits) == 1 else None


def _disease(code: str, system: str) -> tuple[str, str] | None:
    problem = codes.disease_problem(code)
    return ("code", problem) if problem else None


def _area(code: str, system: str) -> tuple[str, str] | None:
    problem = codes.area_problem(code)
    if problem:
        return "code", problem
    if system != codes.area_system(code):
        kind = "a subdivision" if codes.is_subdivision(code) else "a country"
        return "system", f"{code} is {kind}: its system is {codes.area_system(code)}"
    return None


def _population(code: str, system: str) -> tuple[str, str] | None:
    if code in (CASES, PEOPLE):
        return None
    return "code", f"must be {CASES} (the cases) or {PEOPLE} (the people living there)"


def _duplicates(found: list[tuple[Observation, str]], out: _Problems) -> None:
    first: dict[tuple[str, str, str], str] = {}
    for o, where in found:
        key = (o.disease, o.area, o.period)
        if key in first:
            out.add(
                where, f"{o.disease} in {o.area} in {o.period} is already given at {first[key]}"
            )
        else:
            first[key] = where


# Counts out --------------------------------------------------------------------------


def _check_outgoing(observations: Sequence[Observation]) -> None:
    if not observations:
        raise ValueError("no counts to write")
    seen: set[tuple[str, str, str]] = set()
    for o in observations:
        problem = codes.disease_problem(o.disease) or codes.area_problem(o.area)
        if problem:
            raise ValueError(problem)
        weeks.parse(o.period)
        for number in (o.count, o.population):
            if number is not None and not 0 <= number <= MAX_COUNT:
                raise ValueError(f"{number} is not between 0 and {MAX_COUNT}")
        key = (o.disease, o.area, o.period)
        if key in seen:
            raise ValueError(f"{o.disease} in {o.area} in {o.period} is given twice")
        seen.add(key)


def to_fhir(observations: Sequence[Observation], reporter: str, report_id: str) -> bytes:
    """A Bundle (type collection, id `report_id`) with one MeasureReport per ISO week, one
    group per disease, one stratum per area, in the profile parse() takes.
    ValueError for counts parse() would refuse, or an id FHIR does not allow."""
    if not FHIR_ID.match(report_id) or len(report_id) > 55:
        raise ValueError(f"{report_id!r} is not a FHIR id of at most 55 characters")
    _check_outgoing(observations)
    by_week: dict[str, dict[str, list[Observation]]] = {}
    for o in observations:
        by_week.setdefault(o.period, {}).setdefault(o.disease, []).append(o)
    entries = []
    for period in sorted(by_week):
        monday = weeks.monday(period)
        groups = [
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
                "stratifier": [
                    {
                        "code": [{"text": AREA}],
                        "stratum": [_stratum_out(o) for o in sorted(items, key=lambda i: i.area)],
                    }
                ],
            }
            for disease, items in sorted(by_week[period].items())
        ]
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{report_id}/{period}')}",
                "resource": {
                    "resourceType": "MeasureReport",
                    "id": f"{report_id}-{period}",
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
    return json.dumps(bundle, separators=(",", ":"), ensure_ascii=False).encode()


def _stratum_out(o: Observation) -> dict[str, Any]:
    populations = [_population_out(CASES, o.count)]
    if o.population is not None:
        populations.append(_population_out(PEOPLE, o.population))
    coding = {
        "system": codes.area_system(o.area),
        "code": o.area,
        "display": codes.area_name(o.area),
    }
    return {"value": {"coding": [coding]}, "population": populations}


def _population_out(code: str, count: int) -> dict[str, Any]:
    return {"code": {"coding": [{"system": POPULATION, "code": code}]}, "count": count}


def to_csv(observations: Sequence[Observation]) -> bytes:
    """The counts as CSV in the format parse() takes (population column always there)."""
    _check_outgoing(observations)
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow((*CSV_COLUMNS, *CSV_OPTIONAL))
    for o in observations:
        writer.writerow(
            (o.disease, o.area, o.period, o.count, "" if o.population is None else o.population)
        )
    return text.getvalue().encode()


# CSV ---------------------------------------------------------------------------------


def _parse_csv(data: bytes) -> Parsed:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReportInvalid([Problem(f"line {line}", "not UTF-8 text")]) from None
    rows = csv.reader(io.StringIO(text, newline=""), strict=True)
    out = _Problems()
    try:
        header = next(rows, [])
    except csv.Error as exc:
        raise ReportInvalid([Problem("line 1", f"not readable as CSV: {exc}")]) from None
    at = _header(header, out)
    if out.items:
        raise out.refusal()
    found: list[tuple[Observation, str]] = []
    line, taken = rows.line_num, 0
    try:
        while True:
            try:
                row = next(rows)
            except StopIteration:
                break
            except csv.Error as exc:
                out.add(f"line {rows.line_num}", f"not readable as CSV ({exc}); reading stopped")
                break
            start, line = line + 1, rows.line_num
            if not any(cell.strip() for cell in row):
                continue
            taken += 1
            if taken > MAX_ROWS:
                out.add(f"line {start}", f"more than {MAX_ROWS:,} rows; split the file")
                break
            if len(row) != len(header):
                out.add(f"line {start}", f"{len(row)} cells for {len(header)} columns")
                continue
            cell = {name: row[i].strip() for name, i in at.items()}
            observation = _row(start, cell, out)
            if observation is not None:
                found.append((observation, f"line {start}"))
        _duplicates(found, out)
        if not found and not out.items:
            out.add("file", "the file holds no weekly counts: only its header")
    except _Stop:
        pass
    if out.items:
        columns = [name.strip().lower() for name in header]
        out.items.sort(key=lambda p: _line_order(p.location, columns))
        raise out.refusal()
    return Parsed("csv", [o for o, _ in found])


def _line_order(location: str, columns: list[str]) -> tuple[int, int]:
    """(line, column) of a CSV location, for listing problems top to bottom."""
    match = re.match(r"line ([0-9]+)(?:, column (.*))?$", location)
    if match is None:
        return (0, -1)  # the file as a whole
    column = match[2]
    return int(match[1]), columns.index(column) if column in columns else -1


def _header(header: list[str], out: _Problems) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    if not any(names):
        out.add("line 1", "needs the header row: " + ",".join(CSV_COLUMNS))
        return {}
    for raw in header:
        for separator, said in ((";", "semicolons"), ("\t", "tabs")):
            if separator in raw:
                out.add("line 1", f"columns are separated by commas, not {said}")
                return {}
    at: dict[str, int] = {}
    for i, name in enumerate(names):
        if name not in (*CSV_COLUMNS, *CSV_OPTIONAL):
            out.add(f"line 1, column {header[i].strip()}", f"unknown column {name!r}")
        elif name in at:
            out.add(f"line 1, column {name}", f"column {name!r} appears twice")
        else:
            at[name] = i
    for name in CSV_COLUMNS:
        if name not in at:
            out.add("line 1", f"missing column {name!r}")
    return at


def _row(line: int, cell: dict[str, str], out: _Problems) -> Observation | None:
    before = len(out.items)
    for name, problem in (
        ("disease", codes.disease_problem(cell["disease"])),
        ("area", codes.area_problem(cell["area"])),
        ("period", _period_problem(cell["period"])),
    ):
        if problem:
            out.add(f"line {line}, column {name}", problem)
    numbers: dict[str, int | None] = {"population": None}
    for name in ("count", "population"):
        raw = cell.get(name, "")
        if name == "population" and raw == "":
            continue
        if not _NUMBER.match(raw) or int(raw) > MAX_COUNT:
            out.add(
                f"line {line}, column {name}",
                f"{raw!r} is not a whole number from 0 to {MAX_COUNT}",
            )
        else:
            numbers[name] = int(raw)
    if len(out.items) > before:
        return None
    count = numbers["count"]
    assert count is not None
    return Observation(cell["disease"], cell["area"], cell["period"], count, numbers["population"])


def _period_problem(text: str) -> str | None:
    try:
        weeks.parse(text)
    except ValueError as exc:
        return str(exc)
    return None
