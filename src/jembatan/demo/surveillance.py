"""Synthetic but realistic weekly dengue counts for the demo ministries, 2019 to the last
complete week: a seasonal swing per country, epidemic years, Poisson noise, and one
injected outbreak (West Java, the last three weeks). Deterministic for a given end week."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from jembatan.health import weeks

DISEASE = "A90"  # dengue fever (ICD-10)
FIRST_WEEK = "2019-W01"
OUTBREAK_AREA = "ID-JB"
OUTBREAK_WEEKS = 3
OUTBREAK_FACTOR = 2.4  # cases in the outbreak weeks, against the expected


@dataclass(frozen=True)
class Area:
    code: str  # ISO 3166-2
    population: int
    rate: float  # mean weekly cases per 100,000 people


# Peak week of the dengue season: the rainy season's end in Java, the south-west monsoon in
# the peninsula and Singapore.
PEAK_WEEK = {"ID": 10, "MY": 28, "SG": 26}
AREAS = {
    "ASEAN/GOV/IDN-KEMENKES": [
        Area("ID-JK", 10_680_000, 1.6),
        Area("ID-JB", 49_900_000, 0.9),
        Area("ID-JT", 37_540_000, 0.7),
        Area("ID-JI", 41_420_000, 0.6),
        Area("ID-RI", 6_640_000, 1.1),
        Area("ID-KB", 5_540_000, 1.0),
    ],
    "ASEAN/GOV/MYS-MOH": [
        Area("MY-10", 7_000_000, 2.1),
        Area("MY-01", 4_010_000, 1.2),
        Area("MY-14", 1_980_000, 2.4),
        Area("MY-07", 1_740_000, 0.9),
    ],
    "ASEAN/GOV/SGP-MOH": [
        Area("SG-01", 930_000, 1.4),
        Area("SG-02", 1_000_000, 1.1),
        Area("SG-03", 940_000, 0.9),
        Area("SG-04", 810_000, 1.6),
        Area("SG-05", 1_000_000, 0.8),
    ],
}
# Dengue comes in waves every few years.
EPIDEMIC_YEAR = {2019: 1.35, 2020: 1.0, 2021: 0.7, 2022: 1.2, 2023: 0.9, 2024: 1.4, 2025: 0.8}


def last_complete_week(today: date) -> str:
    return weeks.of(today - timedelta(days=today.isoweekday()))


def expected(area: Area, period: str) -> float:
    year, week = weeks.parse(period)
    peak = PEAK_WEEK[area.code[:2]]
    season = 1 + 0.55 * math.cos(2 * math.pi * (week - peak) / 52)
    return area.population / 100_000 * area.rate * season * EPIDEMIC_YEAR.get(year, 1.0)


def counts(member: str, last: str) -> list[tuple[Area, str, int]]:
    """(area, week, cases) for every area of a member, FIRST_WEEK to `last`."""
    periods = weeks.span(FIRST_WEEK, last)
    out = []
    for area in AREAS[member]:
        rng = np.random.default_rng(zlib.crc32(area.code.encode()))
        for i, period in enumerate(periods):
            mean = expected(area, period)
            if area.code == OUTBREAK_AREA and i >= len(periods) - OUTBREAK_WEEKS:
                mean *= OUTBREAK_FACTOR
            out.append((area, period, int(rng.poisson(mean))))
    return out


def csv_for(member: str, last: str) -> bytes:
    lines = ["disease,area,period,count,population"]
    for area, period, cases in counts(member, last):
        lines.append(f"{DISEASE},{area.code},{period},{cases},{area.population}")
    return ("\n".join(lines) + "\n").encode()
