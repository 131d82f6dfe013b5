"""ISO 8601 weeks (`2024-W05`), the period every surveillance count is kept by."""

from __future__ import annotations

import re
from datetime import date, timedelta

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def parse(text: str) -> tuple[int, int]:
    """(year, week) of an ISO week; ValueError with a readable reason otherwise."""
    match = _WEEK.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an ISO week like 2024-W05")
    year, week = int(match[1]), int(match[2])
    if not 1 <= week <= weeks_in(year):
        raise ValueError(f"{year} has no ISO week {week}")
    return year, week


def weeks_in(year: int) -> int:
    return date(year, 12, 28).isocalendar()[1]  # 28 December is always in the last week


def monday(text: str) -> date:
    year, week = parse(text)
    return date.fromisocalendar(year, week, 1)


def of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def shift(text: str, weeks: int) -> str:
    return of(monday(text) + timedelta(weeks=weeks))


def span(first: str, last: str) -> list[str]:
    """Every week from `first` to `last`, both included."""
    start, end = monday(first), monday(last)
    return [of(start + timedelta(weeks=i)) for i in range((end - start).days // 7 + 1)]
