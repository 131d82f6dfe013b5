"""The codes surveillance relies on: notifiable diseases by ICD-10 code, and areas by
ISO 3166-2 subdivision (or ISO 3166-1 alpha-2 for a national total).

Codes are taken exactly as written: `A90`, not `a90` or `A90.0`; `ID-JK`, not `id-jk`.
A near miss gets a reason that says what to write instead."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import pycountry

ICD10 = "http://hl7.org/fhir/sid/icd-10"
ISO_3166_2 = "urn:iso:std:iso:3166:-2"  # subdivisions: ID-JK, MY-14, SG-01
ISO_3166 = "urn:iso:std:iso:3166"  # countries (alpha-2), for a national total: ID

# Diseases ASEAN ministries report weekly: IHR notifiable, vaccine-preventable, vector-
# and water-borne. Malaria is taken per species (B50 to B53) and as B54 for cases whose
# species is not known; the codes are separate series (B54 is not a total).
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
    "B50": "Plasmodium falciparum malaria",
    "B51": "Plasmodium vivax malaria",
    "B52": "Plasmodium malariae malaria",
    "B53": "Other parasitologically confirmed malaria",
    "B54": "Unspecified malaria",
    "J09": "Influenza due to identified zoonotic or pandemic influenza virus",
    "U07.1": "COVID-19",
}

_ICD10_SHAPE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")
_COUNTRY_SHAPE = re.compile(r"^[A-Z]{2}$")
_SUBDIVISION_SHAPE = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")


@lru_cache(maxsize=4096)
def disease_problem(code: str) -> str | None:
    """Why `code` is not a disease we take, or None if it is one."""
    if code in DISEASES:
        return None
    shown = f"{code!r}"
    if not _ICD10_SHAPE.match(code):
        if _ICD10_SHAPE.match(code.strip().upper()):
            return f"ICD-10 codes are written in capitals, without spaces: {code.strip().upper()!r}"
        return f"{shown} is not an ICD-10 code (a letter, two digits, maybe a dot: A90, A01.0)"
    finer = [
        f"{known} ({name})" for known, name in DISEASES.items() if known.startswith(code + ".")
    ]
    if finer:
        return f"ICD-10 {code} is taken only as {' or '.join(finer)}"
    broader = code.split(".")[0]
    if broader in DISEASES:
        return f"ICD-10 {code} is counted under {broader} ({DISEASES[broader]})"
    return f"ICD-10 {code} is not one of the notifiable diseases taken here"


def check_disease(code: str) -> None:
    """ValueError with a readable reason unless `code` is a notifiable disease we take."""
    problem = disease_problem(code) if isinstance(code, str) else "an ICD-10 code is text"
    if problem:
        raise ValueError(problem)


def disease_name(code: str) -> str:
    return DISEASES.get(code, code)


def _subdivision(code: str) -> Any:
    return pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]


def _country(code: str) -> Any:
    return pycountry.countries.get(alpha_2=code)


def is_subdivision(code: str) -> bool:
    return "-" in code


def area_system(code: str) -> str:
    """The FHIR coding system of an area code."""
    return ISO_3166_2 if is_subdivision(code) else ISO_3166


@lru_cache(maxsize=16384)
def area_problem(code: str) -> str | None:
    """Why `code` is not an area code we take, or None if it is one."""
    upper = code.strip().upper()
    if is_subdivision(code):
        if not _SUBDIVISION_SHAPE.match(code):
            if _SUBDIVISION_SHAPE.match(upper) and _subdivision(upper) is not None:
                return f"ISO 3166-2 codes are written in capitals, without spaces: {upper!r}"
            return f"{code!r} is not an ISO 3166-2 subdivision code (like ID-JK or MY-14)"
        if _subdivision(code) is None:
            country = _country(code[:2])
            if country is None:
                return f"{code!r} is not an ISO 3166-2 code: there is no country {code[:2]!r}"
            return f"{code!r} is not an ISO 3166-2 subdivision of {country.name}"
        return None
    if not _COUNTRY_SHAPE.match(code):
        if _COUNTRY_SHAPE.match(upper) and _country(upper) is not None:
            return f"ISO 3166-1 codes are written in capitals, without spaces: {upper!r}"
        three: Any = pycountry.countries.get(alpha_3=upper) if len(upper) == 3 else None
        if three is not None:
            alpha_2 = three.alpha_2
            return f"{code!r} is an alpha-3 code; a national total is coded alpha-2: {alpha_2!r}"
        return (
            f"{code!r} is not an ISO 3166-2 subdivision code (like ID-JK) "
            "or ISO 3166-1 alpha-2 country code (like ID)"
        )
    if _country(code) is None:
        return f"{code!r} is not an ISO 3166-1 alpha-2 country code"
    return None


def check_area(code: str) -> None:
    """ValueError with a readable reason unless `code` is an ISO 3166-2 subdivision or an
    ISO 3166-1 alpha-2 country."""
    problem = area_problem(code) if isinstance(code, str) else "an area code is text"
    if problem:
        raise ValueError(problem)


@lru_cache(maxsize=16384)
def area_name(code: str) -> str:
    """The English (ISO) name of an area, or the code itself if it is not one."""
    if not isinstance(code, str) or area_problem(code):
        return code
    found: Any = _subdivision(code) if is_subdivision(code) else _country(code)
    return str(found.name)
