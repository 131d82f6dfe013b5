"""Case-level data for cross-border contact tracing: a FHIR R4 Bundle of Patients and
their Conditions. It may leave only under an agreement that pseudonymises who the
patients are; these are the fields that rule must name."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pydantic
from fhir.resources.R4B.bundle import Bundle

from jembatan.health import codes
from jembatan.health.reports import Problem, ReportInvalid


@dataclass(frozen=True)
class CaseBundle:
    patients: int
    conditions: int
    diseases: tuple[str, ...]


def identifying_fields() -> tuple[str, ...]:
    """Field-rule paths an agreement must pseudonymise: national ids and record numbers
    become keyed pseudonyms, so partners can link a person's records without knowing them."""
    return ("entry.resource.identifier.value",)


def removed_fields() -> tuple[str, ...]:
    """Paths an agreement should deny (and remove): what names or reaches the person."""
    return (
        "entry.resource.name",
        "entry.resource.telecom",
        "entry.resource.address.line",
        "entry.resource.photo",
        "entry.resource.contact",
    )


def parse_cases(data: bytes) -> CaseBundle:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportInvalid([Problem("file", f"not valid JSON: {exc}")]) from None
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        raise ReportInvalid([Problem("resourceType", "expected a FHIR Bundle")])
    try:
        Bundle.model_validate(doc)
    except pydantic.ValidationError as exc:
        raise ReportInvalid(
            [
                Problem(
                    "Bundle"
                    + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]),
                    e["msg"],
                )
                for e in exc.errors()
            ]
        ) from None
    problems: list[Problem] = []
    patients: set[str] = set()
    conditions: list[tuple[str, dict[str, Any]]] = []
    for i, entry in enumerate(doc.get("entry") or []):
        resource = entry.get("resource") or {}
        where = f"Bundle.entry[{i}].resource"
        kind = resource.get("resourceType")
        if kind == "Patient":
            for name in (f"Patient/{resource.get('id')}", entry.get("fullUrl")):
                if name:
                    patients.add(str(name))
        elif kind == "Condition":
            conditions.append((where, resource))
        else:
            problems.append(Problem(where, f"only Patient and Condition, not {kind!r}"))
    diseases = set()
    for where, condition in conditions:
        code = next(
            (
                c.get("code")
                for c in (condition.get("code") or {}).get("coding") or []
                if c.get("system") == codes.ICD10
            ),
            None,
        )
        try:
            codes.check_disease(str(code))
            diseases.add(str(code))
        except ValueError as exc:
            problems.append(Problem(f"{where}.code", str(exc)))
        subject = (condition.get("subject") or {}).get("reference")
        if subject not in patients:
            problems.append(
                Problem(f"{where}.subject", f"{subject!r} is not a Patient in this bundle")
            )
    if not conditions and not problems:
        problems.append(Problem("Bundle.entry", "no Condition in the bundle"))
    if problems:
        raise ReportInvalid(problems)
    count = sum(1 for e in doc.get("entry") or [] if e["resource"]["resourceType"] == "Patient")
    return CaseBundle(count, len(conditions), tuple(sorted(diseases)))


FAMILY = ["Santoso", "Wijaya", "Lim", "Tan", "Abdullah", "Hassan", "Kusuma", "Rahman"]
GIVEN = ["Ayu", "Budi", "Siti", "Ahmad", "Mei Ling", "Nurul", "Rizal", "Dewi"]


def example_cases(n: int, seed: int) -> bytes:
    """A synthetic bundle of `n` dengue patients (deterministic for a seed)."""
    rng = random.Random(seed)  # noqa: S311  (synthetic people, not secrets)
    entries: list[dict[str, Any]] = []
    for i in range(n):
        pid = f"p{i + 1}"
        onset = date(2026, 11, 2) + timedelta(days=rng.randrange(14))
        entries.append(
            {
                "fullUrl": f"urn:uuid:00000000-0000-4000-8000-{seed:06d}{i:06d}",
                "resource": {
                    "resourceType": "Patient",
                    "id": pid,
                    "identifier": [
                        {
                            "system": "https://fhir.kemkes.go.id/id/nik",
                            "value": f"32{rng.randrange(10**13, 10**14)}",
                        }
                    ],
                    "name": [{"family": rng.choice(FAMILY), "given": [rng.choice(GIVEN)]}],
                    "gender": rng.choice(["female", "male"]),
                    "birthDate": f"{rng.randrange(1950, 2020)}",
                    "address": [
                        {"line": [f"Jalan Merdeka {rng.randrange(1, 200)}"], "country": "ID"}
                    ],
                },
            }
        )
        entries.append(
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": f"c{i + 1}",
                    "code": {"coding": [{"system": codes.ICD10, "code": "A90"}]},
                    "subject": {"reference": f"Patient/{pid}"},
                    "onsetDateTime": onset.isoformat(),
                }
            }
        )
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return json.dumps(bundle, indent=1).encode()
