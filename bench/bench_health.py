"""Surveillance detection over 10 years of weekly counts for 1,000 areas: each EARS
method over every week, and Farrington flexible over the last 4 weeks of each area (what
the node's weekly run checks), against baselines of the same work done plainly."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from bench.harness import Result, best_of
from jembatan.health import detect, weeks

AREAS = int(os.environ.get("JEMBATAN_BENCH_HEALTH_AREAS", "1000"))
WEEKS = 522  # ten years
RECENT = 4  # weeks a weekly run checks per area


def _data() -> np.ndarray:
    rng = np.random.default_rng(9)
    t = np.arange(WEEKS)
    level = rng.uniform(5, 200, size=(AREAS, 1))
    season = 1 + 0.5 * np.sin(2 * np.pi * (t + rng.integers(0, 52, size=(AREAS, 1))) / 52)
    counts = rng.poisson(level * season)
    return counts


def _farrington(rows: np.ndarray) -> int:
    periods = weeks.span("2016-W01", weeks.shift("2016-W01", WEEKS - 1))
    alarms = 0
    for row in rows:
        points = detect.detect(periods, [int(c) for c in row], "farrington", first=WEEKS - RECENT)
        alarms += sum(p.alarm for p in points)
    return alarms


def _glm_once(rows: np.ndarray) -> int:
    """Baseline: one plain Poisson GLM per area and week checked, statsmodels defaults."""
    import statsmodels.api as sm

    x = sm.add_constant(np.arange(160, dtype=float))
    for row in rows:
        for _ in range(RECENT):
            sm.GLM(row[-186:-26].astype(float), x, family=sm.families.Poisson()).fit()
    return 0


def run() -> list[Result]:
    counts = _data()
    out = []

    def rolling() -> None:  # baseline: the mean and SD of each 7-week window, nothing else
        windows = np.lib.stride_tricks.sliding_window_view(counts, 7, axis=1)
        windows.mean(axis=2)
        windows.std(axis=2, ddof=1)

    base = best_of(3, rolling)
    for variant in ("C1", "C2", "C3"):

        def each(v: str = variant) -> None:
            for row in counts:
                detect.ears(row, v)  # type: ignore[arg-type]

        spent = best_of(3, each)
        out.append(
            Result(
                "health detection",
                f"EARS {variant}, {AREAS:,} areas x {WEEKS} weeks, every week",
                spent,
                "s",
                base,
                "< 1 s",
            )
        )
    workers = os.cpu_count() or 1
    chunks = np.array_split(counts, workers)
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_farrington, [c[:2] for c in chunks]))  # warm: imports in each worker

        def farrington() -> None:
            list(pool.map(_farrington, chunks))

        def glm_once() -> None:
            list(pool.map(_glm_once, chunks))

        spent = best_of(1, farrington)
        glm = best_of(1, glm_once)
    out.append(
        Result(
            "health detection",
            f"Farrington flexible, {AREAS:,} areas, last {RECENT} weeks each, "
            f"{workers} processes (baseline: one plain Poisson GLM per week)",
            spent,
            "s",
            glm,
            "< 60 s",
        )
    )
    return out
