"""Detection checked against published values and independent computations: the
Farrington threshold and reweighting values of the R package `surveillance`'s own tests,
EARS on a hand-computed series, and an injected outbreak found."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jembatan.errors import InvalidInput
from jembatan.health import detect, weeks


@pytest.mark.parametrize(
    ("power", "bound", "score"),
    [(1, 8.6926872, 0.8124165), (0.5, 9.3744842, 0.6857951), (2 / 3, 9.1154825, 0.7289546)],
)
def test_farrington_threshold_matches_the_r_package(
    power: float, bound: float, score: float
) -> None:
    upper, got = detect.threshold(mu0=5, se=0.2, phi=1, alpha=0.05, y=8, power=power)
    assert upper == pytest.approx(bound, abs=1e-6)
    assert got == pytest.approx(score, abs=1e-6)


def test_reweighting_matches_the_r_package() -> None:
    weights = detect.anscombe_weights([0] * 5 + [2] * 5, 0)
    assert list(weights) == pytest.approx([1.6] * 5 + [0.4] * 5)


SERIES = [4, 6, 5, 7, 3, 6, 5, 8, 6, 19, 9, 5]


def _hand(lag: int, alpha: float) -> list[tuple[float, float] | None]:
    """(mean, SD) of each week's baseline, with the standard library only."""
    out: list[tuple[float, float] | None] = []
    for t in range(len(SERIES)):
        lo = t - 7 - lag
        if lo < 0:
            out.append(None)
        else:
            window = SERIES[lo : t - lag]
            out.append((statistics.mean(window), statistics.stdev(window)))
    return out


@pytest.mark.parametrize(("variant", "lag"), [("C1", 0), ("C2", 2)])
def test_ears_c1_c2_on_a_hand_computed_series(variant: str, lag: int) -> None:
    z = statistics.NormalDist().inv_cdf(1 - 0.001)
    bounds, alarms = detect.ears(SERIES, variant, 0.001)  # type: ignore[arg-type]
    for t, base in enumerate(_hand(lag, 0.001)):
        if base is None:
            assert bounds[t] is None
            assert not alarms[t]
        else:
            assert bounds[t] == pytest.approx(base[0] + z * base[1])
            assert alarms[t] is (SERIES[t] > base[0] + z * base[1])
    assert alarms[9]  # 19 cases


def test_ears_c3_sums_the_c2_excess_of_three_weeks() -> None:
    z = statistics.NormalDist().inv_cdf(1 - 0.025)
    base = _hand(2, 0.025)
    excess = [
        None if b is None else max(0.0, (SERIES[t] - b[0]) / b[1] - 1) for t, b in enumerate(base)
    ]
    bounds, alarms = detect.ears(SERIES, "C3", 0.025)
    for t in range(len(SERIES)):
        if t < 11 or any(excess[i] is None for i in (t - 2, t - 1, t)):
            assert bounds[t] is None
            continue
        before = (excess[t - 2] or 0) + (excess[t - 1] or 0)
        mean, sd = base[t] or (0, 0)
        assert bounds[t] == pytest.approx(mean + sd * (1 + z - before))
        assert alarms[t] is (before + (excess[t] or 0) > z)


def test_the_sd_floor_keeps_a_flat_baseline_quiet() -> None:
    flat = [3] * 8 + [4]
    bounds, alarms = detect.ears(flat, "C1", 0.001)
    assert bounds[8] == pytest.approx(3 + statistics.NormalDist().inv_cdf(0.999) * detect.MIN_SD)
    assert alarms[8]  # 4 is above 3 + 3.09 * 0.2


def _periods(n: int, first: str = "2019-W01") -> list[str]:
    return weeks.span(first, weeks.shift(first, n - 1))


def test_farrington_finds_an_injected_outbreak() -> None:
    rng = np.random.default_rng(2024)
    n = 6 * 52
    mean = 30 + 15 * np.sin(2 * np.pi * np.arange(n) / 52)
    counts = rng.poisson(mean)
    counts[-3:] = (mean[-3:] * 2.5).astype(int)
    points = detect.detect(_periods(n), [int(c) for c in counts], "farrington", first=n - 20)
    assert all(p.threshold is None for p in points[: n - 20])
    quiet = points[n - 20 : n - 3]
    assert all(p.threshold is not None for p in quiet)
    assert sum(p.alarm for p in quiet) <= 2
    assert all(p.alarm for p in points[-3:])
    assert all(p.score is not None and p.score > 1 for p in points[-3:])


def test_farrington_needs_five_cases_in_four_weeks() -> None:
    counts = [0] * (4 * 52) + [0, 0, 0, 4]
    points = detect.detect(_periods(len(counts)), counts, "farrington", first=len(counts) - 1)
    assert not points[-1].alarm
    assert points[-1].threshold is None  # nothing ever seen: no model to fit


def test_farrington_needs_three_years() -> None:
    points = detect.detect(_periods(150), [5] * 150, "farrington")
    assert all(p.threshold is None for p in points)


def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(InvalidInput, match="2024-W02 should follow 2024-W01, not 2024-W03"):
        detect.detect(["2024-W01", "2024-W03"], [1, 2], "ears-c1")
    with pytest.raises(InvalidInput, match="unknown method"):
        detect.detect(["2024-W01"], [1], "cusum")
    with pytest.raises(InvalidInput, match="alpha"):
        detect.detect(["2024-W01"], [1], "ears-c1", alpha=1.5)
    with pytest.raises(InvalidInput, match="negative"):
        detect.detect(["2024-W01"], [-1], "ears-c1")
    with pytest.raises(InvalidInput, match="period 1"):
        detect.detect(["2024-W60"], [1], "ears-c1")


def test_first_limits_the_weeks_evaluated() -> None:
    points = detect.detect(_periods(len(SERIES)), SERIES, "ears-c1", first=10)
    assert [p.threshold is not None for p in points] == [False] * 10 + [True, True]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=500), min_size=8, max_size=40))
def test_ears_threshold_is_above_the_baseline_mean_and_alarms_exactly_above_it(
    counts: list[int],
) -> None:
    for variant in ("C1", "C2"):
        bounds, alarms = detect.ears(counts, variant, 0.001)
        lag = 0 if variant == "C1" else 2
        for t, bound in enumerate(bounds):
            if bound is None:
                continue
            assert bound >= statistics.mean(counts[t - 7 - lag : t - lag]) - 1e-9
            assert alarms[t] is (counts[t] > bound)
