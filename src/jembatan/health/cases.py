"""Case-level data for cross-border contact tracing: a FHIR R4 Bundle (type collection) of
Patients and their Conditions. It may leave only under an agreement that pseudonymises
who the patients are; `identifying_fields` are the paths that rule must name, and
`removed_fields` what the agreement should take out. See docs/health-formats.md."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from jembatan.health import codes
from jembatan.health.reports import (
    MAX_BYTES,
    MAX_PROBLEMS,
    Problem,
    ReportInvalid,
    in_document_order,
    load_json,
    validate_structure,
)

_KINDS = ("Patient", "Condition")
_Add = Callable[[str, str], None]  # records a problem: location, message
_SHORTEST_LEAK = 4  # identifier values this long or longer must not show up in ids


@dataclass(frozen=True)
class CaseBundle:
    patients: int
    conditions: int
    diseases: tuple[str, ...]  # ICD-10 codes, sorted


def identifying_fields() -> tuple[str, ...]:
    """Field-rule paths an agreement MUST pseudonymise for case-level transfer: national
    ids and record numbers become keyed pseudonyms, the same for every party of the
    agreement, so partners can link a person's records without learning who it is."""
    return ("entry.resource.identifier.value",)


def removed_fields() -> tuple[str, ...]:
    """Paths an agreement should deny (with `denied = remove`): what names, shows or
    reaches the person, and free text that may do so. What stays is what tracing needs:
    gender, birth year, the area of residence, the disease and its dates."""
    return (
        "entry.resource.text",  # the narrative repeats name and address
        "entry.resource.name",
        "entry.resource.telecom",
        "entry.resource.address.line",
        "entry.resource.address.text",
        "entry.resource.photo",
        "entry.resource.contact",  # next of kin: names, phones, addresses
        "entry.resource.link",  # other records of the same person
        "entry.resource.subject.display",  # a Condition's patient, by name
        "entry.resource.note",  # clinicians' free text
    )


def parse_cases(data: bytes) -> CaseBundle:
    """A case bundle checked whole: R4 structure, then the rules of docs/health-formats.md.
    ReportInvalid lists every problem with its location."""
    if len(data) > MAX_BYTES:
        raise ReportInvalid(
            [Problem("file", f"the file has {len(data):,} bytes; the limit is {MAX_BYTES:,}")]
        )
    doc = load_json(data)
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        raise ReportInvalid([Problem("resourceType", "expected a FHIR Bundle")])
    structural = validate_structure(doc)
    shadow = [p.location for p in structural]
    problems: list[Problem] = []

    def add(location: str, message: str) -> None:
        if not any(_within(location, base) for base in shadow):
            problems.append(Problem(location, message))

    if doc.get("type") != "collection":
        add("Bundle.type", "must be 'collection'")
    patients: dict[str, str] = {}  # what a reference may say -> where the Patient is
    patient_spots: list[str] = []
    named: dict[str, str] = {}  # every resource's names (Type/id, fullUrl) -> where
    conditions: list[tuple[str, dict[str, Any]]] = []
    entries = doc.get("entry")
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        where = f"Bundle.entry[{i}]"
        entry = entry if isinstance(entry, dict) else {}
        resource = entry.get("resource")
        if not isinstance(resource, dict) or not resource:
            add(f"{where}.resource", "needs a Patient or a Condition")
            continue
        kind = resource.get("resourceType")
        if kind not in _KINDS:
            add(f"{where}.resource.resourceType", f"only Patient and Condition, not {kind!r}")
            continue
        full_url = entry.get("fullUrl")
        names = [f"{kind}/{resource['id']}"] if isinstance(resource.get("id"), str) else []
        if isinstance(full_url, str):
            names.append(full_url)
        for name, spot in zip(names, _name_spots(where, resource, full_url), strict=True):
            if name in named:
                add(spot, f"{name} is already used at {named[name]}")
            else:
                named[name] = spot
        if kind == "Patient":
            _patient(where, entry, resource, add)
            patient_spots.append(where)
            for name in names:
                patients.setdefault(name, where)
        else:
            conditions.append((where, resource))
    diseases: set[str] = set()
    cited: set[str] = set()
    for where, condition in conditions:
        disease = _disease(f"{where}.resource.code", condition.get("code"), add)
        if disease:
            diseases.add(disease)
        subject = condition.get("subject")
        subject = subject if isinstance(subject, dict) else {}
        reference = subject.get("reference")
        if "identifier" in subject:
            add(
                f"{where}.resource.subject.identifier",
                "name the patient by reference only: identifiers belong on the Patient",
            )
        if not isinstance(reference, str):
            add(f"{where}.resource.subject", "needs a reference to a Patient in this bundle")
        elif reference not in patients:
            add(
                f"{where}.resource.subject.reference",
                f"{reference!r} is not a Patient in this bundle",
            )
        else:
            cited.add(patients[reference])
    for where in patient_spots:
        if where not in cited:
            add(f"{where}.resource", "no Condition refers to this Patient: only cases are sent")
    if not conditions:
        add("Bundle.entry", "no Condition in the bundle")
    problems = in_document_order(doc, structural + problems)
    if problems:
        raise ReportInvalid(problems[:MAX_PROBLEMS])
    return CaseBundle(len(patient_spots), len(conditions), tuple(sorted(diseases)))


def _within(location: str, base: str) -> bool:
    return location == base or location.startswith((base + ".", base + "["))


def _name_spots(where: str, resource: dict[str, Any], full_url: Any) -> list[str]:
    spots = [f"{where}.resource.id"] if isinstance(resource.get("id"), str) else []
    if isinstance(full_url, str):
        spots.append(f"{where}.fullUrl")
    return spots


def _patient(where: str, entry: dict[str, Any], patient: dict[str, Any], add: _Add) -> None:
    identifiers = patient.get("identifier")
    values = [
        i["value"]
        for i in (identifiers if isinstance(identifiers, list) else [])
        if isinstance(i, dict) and isinstance(i.get("value"), str) and i["value"]
    ]
    if not values:
        add(f"{where}.resource.identifier", "needs an identifier with a value (e.g. the NIK)")
    for value in values:
        if len(value) < _SHORTEST_LEAK:
            continue
        for spot, text in (
            (f"{where}.resource.id", patient.get("id")),
            (f"{where}.fullUrl", entry.get("fullUrl")),
        ):
            if isinstance(text, str) and value in text:
                add(spot, "holds an identifier value, which would leave un-pseudonymised")
    born = patient.get("birthDate")
    if born is not None and not (isinstance(born, str) and len(born) == 4 and born.isdigit()):
        add(f"{where}.resource.birthDate", "only the year of birth is sent (YYYY)")


def _disease(where: str, concept: Any, add: _Add) -> str | None:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    hits = [
        (c, coding)
        for c, coding in enumerate(codings if isinstance(codings, list) else [])
        if isinstance(coding, dict) and coding.get("system") == codes.ICD10
    ]
    if not hits:
        add(where, f"needs a coding with system {codes.ICD10}")
        return None
    for c, _ in hits[1:]:
        add(f"{where}.coding[{c}]", "only one ICD-10 coding is taken")
    c, coding = hits[0]
    code = coding.get("code")
    problem = codes.disease_problem(code) if isinstance(code, str) else "needs a code"
    if problem:
        add(f"{where}.coding[{c}].code", problem)
        return None
    return str(code) if len(hits) == 1 else None


# Synthetic cases -----------------------------------------------------------------------

FAMILY = ["Santoso", "Wijaya", "Lim", "Tan", "Abdullah", "Hassan", "Kusuma", "Rahman"]
GIVEN = ["Ayu", "Budi", "Siti", "Ahmad", "Mei Ling", "Nurul", "Rizal", "Dewi"]
PLACES = [("ID-JB", "Bandung", "Jawa Barat"), ("ID-JK", "Jakarta", "DKI Jakarta")]
NIK = "https://fhir.kemkes.go.id/id/nik"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def example_cases(n: int, seed: int) -> bytes:
    """A synthetic bundle of `n` dengue patients and their Conditions, the same for the
    same seed. The people are made up; the bundle passes parse_cases."""
    rng = random.Random(seed)  # noqa: S311  (synthetic people, not secrets)
    entries: list[dict[str, Any]] = []
    for i in range(n):
        patient_url = f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        condition_url = f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        family, given = rng.choice(FAMILY), rng.choice(GIVEN)
        _, city, state = rng.choice(PLACES)
        onset = date(2026, 11, 2) + timedelta(days=rng.randrange(14))
        disease = "A91" if rng.random() < 0.1 else "A90"
        entries.append(
            {
                "fullUrl": patient_url,
                "resource": {
                    "resourceType": "Patient",
                    "id": f"p{i + 1}",
                    "text": {
                        "status": "generated",
                        "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{given} {family}</div>',
                    },
                    "identifier": [{"system": NIK, "value": f"32{rng.randrange(10**13, 10**14)}"}],
                    "name": [{"family": family, "given": [given]}],
                    "telecom": [{"system": "phone", "value": f"+62 812 {rng.randrange(10**7)}"}],
                    "gender": rng.choice(["female", "male"]),
                    "birthDate": str(rng.randrange(1950, 2020)),
                    "address": [
                        {
                            "line": [f"Jalan Merdeka {rng.randrange(1, 200)}"],
                            "city": city,
                            "state": state,
                            "country": "ID",
                        }
                    ],
                },
            }
        )
        entries.append(
            {
                "fullUrl": condition_url,
                "resource": {
                    "resourceType": "Condition",
                    "id": f"c{i + 1}",
                    "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
                    "verificationStatus": {
                        "coding": [{"system": VERIFICATION, "code": "confirmed"}]
                    },
                    "code": {
                        "coding": [
                            {
                                "system": codes.ICD10,
                                "code": disease,
                                "display": codes.disease_name(disease),
                            }
                        ]
                    },
                    "subject": {"reference": patient_url, "display": f"{given} {family}"},
                    "onsetDateTime": onset.isoformat(),
                },
            }
        )
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return json.dumps(bundle, indent=1).encode()
