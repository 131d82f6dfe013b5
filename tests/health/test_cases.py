"""Case-level bundles: the synthetic ones parse, broken ones are refused with every problem
located, and the agreement field paths really reach what identifies a person."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jembatan.agreements import fields
from jembatan.agreements.terms import FieldRules
from jembatan.health import cases, codes, reports


def refusal(doc: dict[str, Any] | bytes) -> list[tuple[str, str]]:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    with pytest.raises(reports.ReportInvalid) as refused:
        cases.parse_cases(data)
    return [(p.location, p.message) for p in refused.value.problems]


def example(n: int = 4, seed: int = 1) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(cases.example_cases(n, seed))
    return doc


def test_a_synthetic_bundle_parses_and_is_deterministic() -> None:
    data = cases.example_cases(12, seed=3)
    parsed = cases.parse_cases(data)
    assert (parsed.patients, parsed.conditions) == (12, 12)
    assert set(parsed.diseases) <= {"A90", "A91"}
    assert "A90" in parsed.diseases
    assert cases.example_cases(12, seed=3) == data
    assert cases.example_cases(12, seed=4) != data
    assert reports.validate_structure(json.loads(data)) == []
    assert cases.parse_cases(cases.example_cases(1, seed=10**9)).patients == 1


def test_references_may_name_the_id_or_the_full_url() -> None:
    doc = example(2)
    doc["entry"][1]["resource"]["subject"]["reference"] = "Patient/p1"
    assert cases.parse_cases(json.dumps(doc).encode()).patients == 2


def test_broken_references_and_unknown_codes_are_located() -> None:
    doc = example()
    doc["entry"][1]["resource"]["subject"]["reference"] = "Patient/nobody"
    doc["entry"][3]["resource"]["code"]["coding"][0]["code"] = "X00"
    doc["entry"][5]["resource"]["subject"] = {"display": "Siti"}
    doc["entry"][7]["resource"]["code"] = {"text": "dengue"}
    assert refusal(doc) == [
        ("Bundle.entry[0].resource", "no Condition refers to this Patient: only cases are sent"),
        (
            "Bundle.entry[1].resource.subject.reference",
            "'Patient/nobody' is not a Patient in this bundle",
        ),
        (
            "Bundle.entry[3].resource.code.coding[0].code",
            "ICD-10 X00 is not one of the notifiable diseases taken here",
        ),
        ("Bundle.entry[4].resource", "no Condition refers to this Patient: only cases are sent"),
        ("Bundle.entry[5].resource.subject", "needs a reference to a Patient in this bundle"),
        ("Bundle.entry[7].resource.code", f"needs a coding with system {codes.ICD10}"),
    ]


def test_the_case_rules_each_at_their_element() -> None:
    doc = example()
    doc["type"] = "searchset"
    doc["entry"][0]["resource"]["birthDate"] = "1980-02-03"
    doc["entry"][2]["resource"]["id"] = doc["entry"][2]["resource"]["identifier"][0]["value"]
    doc["entry"][3]["resource"]["subject"]["identifier"] = {"value": "3201"}
    del doc["entry"][4]["resource"]["identifier"]
    doc["entry"][7]["fullUrl"] = doc["entry"][1]["fullUrl"]
    doc["entry"].append(
        {"resource": {"resourceType": "Observation", "status": "final", "code": {}}}
    )
    doc["entry"].append({"fullUrl": "urn:uuid:2b1e5f0c-0f8a-4a55-9a57-2f8f7a5f3e10"})
    assert refusal(doc) == [
        ("Bundle.type", "must be 'collection'"),
        ("Bundle.entry[0].resource.birthDate", "only the year of birth is sent (YYYY)"),
        (
            "Bundle.entry[2].resource.id",
            "holds an identifier value, which would leave un-pseudonymised",
        ),
        (
            "Bundle.entry[3].resource.subject.identifier",
            "name the patient by reference only: identifiers belong on the Patient",
        ),
        (
            "Bundle.entry[4].resource.identifier",
            "needs an identifier with a value (e.g. the NIK)",
        ),
        (
            "Bundle.entry[7].fullUrl",
            f"{doc['entry'][1]['fullUrl']} is already used at Bundle.entry[1].fullUrl",
        ),
        ("Bundle.entry[8].resource.resourceType", "only Patient and Condition, not 'Observation'"),
        ("Bundle.entry[9].resource", "needs a Patient or a Condition"),
    ]


def test_structural_problems_come_with_the_case_rules() -> None:
    doc = example(2)
    doc["entry"][1]["resource"]["onsetDateTime"] = "last Tuesday"
    doc["entry"][2]["resource"]["gender"] = "unknown-ish"
    doc["entry"][3]["resource"]["code"]["coding"][0]["code"] = "A00.9"
    assert refusal(doc) == [
        (
            "Bundle.entry[1].resource.onsetDateTime",
            "DateTime value string does not match spec regex.",
        ),
        (
            "Bundle.entry[2].resource.gender",
            "'unknown-ish' is not a code of this element (male, female, other, unknown)",
        ),
        (
            "Bundle.entry[3].resource.code.coding[0].code",
            "ICD-10 A00.9 is counted under A00 (Cholera)",
        ),
    ]


def test_what_is_not_a_case_bundle() -> None:
    assert refusal(b"") == [("line 1, column 1", "not valid JSON: Expecting value")]
    assert refusal(b'{"resourceType": "Patient"}') == [("resourceType", "expected a FHIR Bundle")]
    assert refusal(b'{"resourceType": "Bundle", "type": "collection"}') == [
        ("Bundle.entry", "no Condition in the bundle")
    ]


def test_the_field_paths_reach_who_the_patient_is() -> None:
    """Applied as an agreement would apply them: no name, phone, street or narrative is
    left, identifiers are pseudonyms, and the bundle still parses as cases."""
    data = cases.example_cases(5, seed=2)
    rules = FieldRules(
        pseudonymise=cases.identifying_fields(), deny=cases.removed_fields(), denied="remove"
    )
    sent = fields.apply(rules, data, b"k" * 32, "agreement-1")
    fields.check(rules, sent, "agreement-1")
    original, out = json.loads(data), json.loads(sent)
    text = json.dumps(out)
    for entry in original["entry"]:
        resource = entry["resource"]
        for name in resource.get("name", []):
            assert name["family"] not in text
        for identifier in resource.get("identifier", []):
            assert identifier["value"] not in text
        for telecom in resource.get("telecom", []):
            assert telecom["value"] not in text
        for address in resource.get("address", []):
            assert address["line"][0] not in text
    patients = [e["resource"] for e in out["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert all(i["value"].startswith("pse_") for p in patients for i in p["identifier"])
    assert all("text" not in p and p["address"][0]["city"] for p in patients)
    parsed = cases.parse_cases(sent)
    assert (parsed.patients, parsed.conditions) == (5, 5)
    assert "entry.resource.identifier.value" in cases.identifying_fields()
