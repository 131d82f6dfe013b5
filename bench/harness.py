"""A tiny benchmark harness: results as ratios against a baseline measured in the same run."""

from __future__ import annotations

import platform
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    benchmark: str
    measure: str
    value: float
    unit: str
    baseline: float | None = None  # same measure for the baseline, same run
    target: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.baseline:
            return None
        return self.value / self.baseline


def best_of(runs: int, func: Callable[[], None]) -> float:
    """Fastest wall-clock time of several runs (least disturbed by the machine)."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    import os

    return f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores"
