"""Outbreak detection over 1,000 areas with 10 years of weekly counts: each EARS variant
over every week of every area, and Farrington over the latest 4 weeks of every area (what
the weekly run checks), against numpy's rolling mean and SD and statsmodels fitting one
plain Poisson GLM per week checked, on the same data in the same run."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from functools import partial

import numpy as np
import statsmodels.api as sm
from numpy.typing import NDArray

from bench.harness import Result, best_of
from jembatan.health import detect, weeks

AREAS = int(os.environ.get("JEMBATAN_BENCH_HEALTH_AREAS", "1000"))
FIRST = "2015-W01"
WEEKS = len(weeks.span(FIRST, "2024-W52"))  # 10 years: 522 weeks
RECENT = 4  # weeks a weekly Farrington run checks per area
VARIANTS: tuple[detect.Variant, ...] = ("C1", "C2", "C3")
# Baselines: numpy's rolling mean and SD of every 7-week window (what EARS adds to that is
# the method), and statsmodels fitting one plain Poisson GLM per week checked (Farrington
# fits 2 to 4 per week: trend or not, reweighted or not).


def _counts() -> NDArray[np.int64]:
    """Seasonal Poisson counts, from about one case a week to a few hundred, with a
    3-week outbreak (3 times the expected) at a random time in a tenth of the areas."""
    rng = np.random.default_rng(2024)
    level = rng.lognormal(2.5, 1.2, AREAS)[:, None]
    amplitude = rng.uniform(0.1, 0.7, AREAS)[:, None]
    phase = rng.uniform(0, 52, AREAS)[:, None]
    mean = level * (1 + amplitude * np.sin(2 * np.pi * (np.arange(WEEKS) + phase) / 52.18))
    for area in rng.choice(AREAS, AREAS // 10, replace=False):
        start = rng.integers(0, WEEKS - 3)
        mean[area, start : start + 3] *= 3
    return np.asarray(rng.poisson(mean), dtype=np.int64)


def _rolling(block: NDArray[np.float64]) -> None:
    """The baseline: numpy's mean and sample SD of every 7-week window of every area."""
    windows = np.lib.stride_tricks.sliding_window_view(block, 7, axis=-1)
    windows.mean(axis=-1)
    windows.std(axis=-1, ddof=1)


def _plain_glms(block: NDArray[np.int64]) -> float:
    """The baseline: one Poisson GLM per week checked, on that week's reference data and
    design (intercept, trend, seasonal levels), no reweighting and no trend test."""
    origin = weeks.monday(FIRST)
    started = time.perf_counter()
    for t in range(WEEKS - RECENT, WEEKS):
        offsets, design = detect._reference(detect._years_back(origin + timedelta(weeks=t)))
        for row in block:
            sm.GLM(row[t + offsets].astype(float), design, family=sm.families.Poisson()).fit()
    return time.perf_counter() - started


def _detect_all(periods: list[str], series: list[list[int]], method: str, first: int) -> None:
    for counts in series:
        detect.detect(periods, counts, method, first=first)


def _ears_block(block: NDArray[np.int64], variant: detect.Variant) -> None:
    detect.ears(block, variant)


def run() -> list[Result]:
    block = _counts()
    periods = weeks.span(FIRST, weeks.shift(FIRST, WEEKS - 1))
    series = [row.tolist() for row in block]
    size = f"{AREAS:,} areas x {WEEKS} weeks"
    rolling = best_of(5, partial(_rolling, block.astype(np.float64))) * 1000
    results: list[Result] = []
    for variant in VARIANTS:
        method = f"ears-{variant.lower()}"
        whole = best_of(5, partial(_ears_block, block, variant)) * 1000
        each = best_of(3, partial(_detect_all, periods, series, method, 0)) * 1000
        results += [
            Result(
                "health",
                f"{method}: ears() on the {size} array at once, every week",
                whole,
                "ms",
                rolling,
                "≤ 1,000 ms",
            ),
            Result(
                "health",
                f"{method}: detect() per area ({size}), checks and a Point per week included",
                each,
                "ms",
                rolling,
                "≤ 1,000 ms",
            ),
        ]

    detect.detect(periods, series[0], "farrington", first=WEEKS - 1)  # imports statsmodels
    plain = _plain_glms(block)
    farrington = best_of(1, partial(_detect_all, periods, series, "farrington", WEEKS - RECENT))
    results.append(
        Result(
            "health",
            f"farrington via detect(), the latest {RECENT} weeks of each of {AREAS:,} areas "
            f"(10 years given), one process; baseline one plain Poisson GLM per week",
            farrington,
            "s",
            plain,
            "≤ 60 s",
        )
    )
    return results
