"""The codes surveillance relies on: notifiable diseases by ICD-10 code, and areas by
ISO 3166-2 subdivision (or ISO 3166-1 alpha-2 for a national total)."""

from __future__ import annotations

from typing import Any

import pycountry

ICD10 = "http://hl7.org/fhir/sid/icd-10"
ISO_3166_2 = "urn:iso:std:iso:3166:-2"
ISO_3166 = "urn:iso:std:iso:3166"

# Diseases ASEAN ministries report weekly (WHO IHR notifiable, and dengue's family).
DISEASES = {
    "A00": "Cholera",
    "A01.0": "Typhoid fever",
    "A20": "Plague",
    "A27": "Leptospirosis",
    "A36": "Diphtheria",
    "A37": "Whooping cough",
    "A80": "Acute poliomyelitis",
    "A82": "Rabies",
    "A90": "Dengue fever",
    "A91": "Dengue haemorrhagic fever",
    "A92.0": "Chikungunya virus disease",
    "A92.5": "Zika virus disease",
    "A98.5": "Haemorrhagic fever with renal syndrome",
    "B05": "Measles",
    "B54": "Malaria, unspecified",
    "J09": "Influenza due to identified zoonotic or pandemic influenza virus",
    "U07.1": "COVID-19",
}


def check_disease(code: str) -> None:
    if code not in DISEASES:
        raise ValueError(f"{code!r} is not a notifiable disease code we know (ICD-10, e.g. A90)")


def disease_name(code: str) -> str:
    return DISEASES.get(code, code)


def _subdivision(code: str) -> Any:
    return pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]


def check_area(code: str) -> None:
    if "-" in code:
        if _subdivision(code) is None:
            raise ValueError(f"{code!r} is not an ISO 3166-2 subdivision code (e.g. ID-JK)")
    elif pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{code!r} is not an ISO 3166-2 or ISO 3166-1 alpha-2 code")


def area_name(code: str) -> str:
    found: Any = _subdivision(code) if "-" in code else pycountry.countries.get(alpha_2=code)
    return str(found.name) if found is not None else code
