"""Detection checked against published values and independent computations: the
Farrington threshold and reweighting values of the R package `surveillance`'s own tests,
EARS recomputed with the standard library, one Farrington week recomputed with
statsmodels, and injected outbreaks found."""

from __future__ import annotations

import math
import statistics
from datetime import date
from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from jembatan.errors import InvalidInput
from jembatan.health import detect, weeks

# Farrington building blocks: the numbers of surveillance's tests/testthat -------------


@pytest.mark.parametrize(
    ("power", "bound", "score"),
    [(1, 8.6926872, 0.8124165), (1 / 2, 9.3744842, 0.6857951), (2 / 3, 9.1154825, 0.7289546)],
)
def test_farrington_threshold_matches_the_r_package(
    power: float, bound: float, score: float
) -> None:
    upper, got = detect.threshold(mu0=5, se=0.2, phi=1, alpha=0.05, y=8, power=power)
    assert upper == pytest.approx(bound, abs=1e-6)
    assert got == pytest.approx(score, abs=1e-6)


def test_threshold_refuses_other_powers() -> None:
    with pytest.raises(ValueError, match="power"):
        detect.threshold(mu0=5, se=0.2, phi=1, alpha=0.05, y=8, power=2 / 88)


def test_reweighting_matches_the_r_package() -> None:
    weights = detect.anscombe_weights([0] * 5 + [2] * 5, 0)
    assert weights.tolist() == pytest.approx([1.6] * 5 + [0.4] * 5)
    assert detect.anscombe_weights([0] * 10, 0).tolist() == pytest.approx([1.0] * 10)


def test_reference_weeks_are_found_by_date_as_in_the_r_package() -> None:
    # 2019-01-21 to 2022-01-17 spans 29 February 2020: 1096 days, nearest Monday 157 weeks.
    assert detect._years_back(date(2022, 1, 17)) == (52, 104, 157)
    assert detect._years_back(date(2023, 6, 5)) == (52, 104, 156)


def test_reference_data_and_seasonal_levels() -> None:
    """Windows of +-3 weeks around the same week 1, 2 and 3 years back are level 0; the 45
    weeks between two windows are 9 blocks of 5; the latest 26 weeks and this one are out."""
    offsets, design = detect._reference((52, 104, 156))
    assert offsets.tolist() == list(range(-159, -26))
    levels = {int(o): 0 for o in offsets}
    for anchor in (-156, -104, -52):
        for i in range(45):
            levels[anchor + 4 + i] = i // 5 + 1
    got = [int(np.argmax(row[2:])) + 1 if row[2:].any() else 0 for row in design]
    assert got == [levels[int(o)] for o in offsets]
    assert design[:, 0].tolist() == [1.0] * len(offsets)
    assert design[:, 1].tolist() == offsets.tolist()  # the trend, 0 at the week checked


# EARS against the standard library ----------------------------------------------------

SERIES = [4, 6, 5, 7, 3, 6, 5, 8, 6, 7, 5, 9, 6, 19, 24, 8, 6, 7, 5, 6]


def _baseline(counts: list[int], t: int, lag: int) -> tuple[float, float] | None:
    """Mean and sample SD of the 7 weeks ending `lag` weeks before week t."""
    if t - 7 - lag < 0:
        return None
    window = counts[t - 7 - lag : t - lag]
    return statistics.mean(window), statistics.stdev(window)


@pytest.mark.parametrize(("variant", "lag", "alpha"), [("C1", 0, 0.001), ("C2", 2, 0.001)])
def test_ears_c1_c2_on_a_hand_computed_series(variant: str, lag: int, alpha: float) -> None:
    z = statistics.NormalDist().inv_cdf(1 - alpha)
    bounds, alarms = detect.ears(SERIES, variant, alpha)  # type: ignore[arg-type]
    for t in range(len(SERIES)):
        base = _baseline(SERIES, t, lag)
        if base is None:
            assert math.isnan(bounds[t])
            assert not alarms[t]
            continue
        mean, sd = base
        assert sd >= detect.MIN_SD  # the floor plays no part here
        assert bounds[t] == pytest.approx(mean + z * sd, rel=1e-12)
        assert alarms[t] == (SERIES[t] > mean + z * sd)
    assert alarms.tolist().index(True) == 13  # 19 cases after 6 to 9


def _c3(counts: list[int], t: int, z: float) -> tuple[float, float, float, float] | None:
    """(C3, the part of the two weeks before, mean, SD) of week t, or None."""
    parts = []
    for i in (t - 2, t - 1, t):
        base = _baseline(counts, i, 2)
        if i < 0 or base is None:
            return None
        mean, sd = base[0], max(base[1], detect.MIN_SD)
        parts.append(max(0.0, (counts[i] - mean) / sd - 1))
    return sum(parts), parts[0] + parts[1], mean, sd


def test_ears_c3_sums_the_c2_excess_of_three_weeks() -> None:
    z = statistics.NormalDist().inv_cdf(1 - 0.025)
    bounds, alarms = detect.ears(SERIES, "C3")  # default alpha 0.025
    for t in range(len(SERIES)):
        found = _c3(SERIES, t, z)
        if found is None:
            assert math.isnan(bounds[t])
            assert not alarms[t]
            continue
        c3, before, mean, sd = found
        assert alarms[t] == (c3 > z)
        if before <= z:
            # The count at which C3 reaches z; the week alarms exactly above it.
            assert bounds[t] == pytest.approx(mean + sd * (1 + z - before), rel=1e-12)
            assert alarms[t] == (SERIES[t] > bounds[t])
        else:
            assert bounds[t] == 0  # the two weeks before already alarm: any count does
    assert alarms.tolist() == [False] * 13 + [True] * 4 + [False] * 3
    assert SERIES[16] == 6  # ...including the week after the outbreak, as the sum says


def test_the_sd_floor_keeps_a_flat_baseline_quiet() -> None:
    z = statistics.NormalDist().inv_cdf(1 - 0.001)
    bounds, alarms = detect.ears([0] * 7 + [3, 4], "C1")
    assert bounds[7] == pytest.approx(z * detect.MIN_SD)  # mean 0, SD 0 floored at 1
    assert alarms.tolist()[7:] == [False, True]
    bounds, _ = detect.ears([0] * 7 + [3], "C1", 0.001, min_sd=0.2)
    assert bounds[7] == pytest.approx(z * 0.2)
    with pytest.raises(ValueError, match="min_sd"):
        detect.ears(SERIES, "C3", min_sd=0)


def test_ears_runs_many_series_at_once() -> None:
    rng = np.random.default_rng(7)
    block = rng.poisson(12, size=(5, 60))
    for variant in ("C1", "C2", "C3"):
        bounds, alarms = detect.ears(block, variant)
        for row, counts in enumerate(block):
            one_bounds, one_alarms = detect.ears(counts, variant)
            np.testing.assert_array_equal(bounds[row], one_bounds)
            np.testing.assert_array_equal(alarms[row], one_alarms)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=500), min_size=8, max_size=40))
def test_ears_thresholds_and_alarms_agree_with_the_definition(counts: list[int]) -> None:
    z = statistics.NormalDist().inv_cdf(1 - 0.001)
    for variant, lag in (("C1", 0), ("C2", 2)):
        bounds, alarms = detect.ears(counts, variant)  # type: ignore[arg-type]
        for t, bound in enumerate(bounds.tolist()):
            base = _baseline(counts, t, lag)
            if base is None:
                assert math.isnan(bound)
                continue
            assert bound >= base[0]
            assert bound == pytest.approx(base[0] + z * max(base[1], detect.MIN_SD))
            assert alarms[t] == (counts[t] > bound)
    z3 = statistics.NormalDist().inv_cdf(1 - 0.025)
    bounds, alarms = detect.ears(counts, "C3")
    for t, bound in enumerate(bounds.tolist()):
        found = _c3(counts, t, z3)
        assert math.isnan(bound) == (found is None)
        if found is not None and abs(found[0] - z3) > 1e-9:  # not on the edge
            assert alarms[t] == (found[0] > z3)
            if found[1] < z3:
                assert alarms[t] == (counts[t] > bound)


# Farrington on whole series -----------------------------------------------------------


def _periods(n: int, first: str = "2019-W01") -> list[str]:
    return weeks.span(first, weeks.shift(first, n - 1))


def _seasonal(n: int, seed: int, level: float = 30.0) -> NDArray[np.int64]:
    mean = level * (1 + 0.5 * np.sin(2 * np.pi * np.arange(n) / 52.18))
    return np.asarray(np.random.default_rng(seed).poisson(mean), dtype=np.int64)


def test_farrington_finds_an_injected_outbreak() -> None:
    n = 6 * 52
    counts = _seasonal(n, 2024)
    mean = 30 * (1 + 0.5 * np.sin(2 * np.pi * np.arange(n) / 52.18))
    counts[-3:] = np.round(mean[-3:] * 2.5).astype(int)
    points = detect.detect(_periods(n), counts.tolist(), "farrington", first=n - 40)
    assert all(p.threshold is None and not p.alarm for p in points[: n - 40])
    quiet = points[n - 40 : n - 3]
    assert all(p.threshold is not None and p.score is not None for p in quiet)
    assert sum(p.alarm for p in quiet) <= 2
    assert all(p.alarm for p in points[-3:])
    assert all(p.score is not None and p.score > 1 for p in points[-3:])
    assert all(p.threshold is not None and p.count > p.threshold for p in points[-3:])


def _expected(point: detect.Point) -> float:
    """mu0, from the score (y - mu0) / (U - mu0) and U."""
    assert point.threshold is not None
    assert point.score is not None
    return (point.count - point.score * point.threshold) / (1 - point.score)


def test_a_past_outbreak_is_down_weighted(monkeypatch: pytest.MonkeyPatch) -> None:
    """An outbreak in last year's window lifts the baseline level the prediction is made
    in; its weeks get large Anscombe residuals, so little weight in the refit."""
    n = 5 * 52
    counts = _seasonal(n, 11)
    plain = detect.detect(_periods(n), counts.tolist(), "farrington", first=n - 1)[-1]
    counts[n - 1 - 52 - 2 : n - 1 - 52 + 2] *= 5
    marked = detect.detect(_periods(n), counts.tolist(), "farrington", first=n - 1)[-1]
    monkeypatch.setattr(detect, "REWEIGHT_ABOVE", math.inf)
    unweighted = detect.detect(_periods(n), counts.tolist(), "farrington", first=n - 1)[-1]
    assert plain.threshold is not None
    assert marked.threshold is not None
    assert unweighted.threshold is not None
    assert _expected(marked) < 1.3 * _expected(plain) < 0.7 * _expected(unweighted)
    assert marked.threshold < 0.6 * unweighted.threshold


def test_farrington_needs_five_cases_in_four_weeks() -> None:
    n = 4 * 52
    rng = np.random.default_rng(3)
    counts = rng.poisson(0.2, n)
    counts[-4:] = [0, 0, 0, 4]
    last = detect.detect(_periods(n), counts.tolist(), "farrington", first=n - 1)[-1]
    assert last.threshold is not None
    assert last.threshold < 4
    assert last.score is not None
    assert last.score > 1
    assert not last.alarm  # 4 cases in the last 4 weeks
    counts[-4] = 1
    last = detect.detect(_periods(n), counts.tolist(), "farrington", first=n - 1)[-1]
    assert last.alarm


def test_farrington_alarms_on_a_disease_never_seen() -> None:
    counts = [0] * (4 * 52) + [0, 0, 2, 3]
    points = detect.detect(_periods(len(counts)), counts, "farrington", first=len(counts) - 3)
    assert [(p.threshold, p.alarm, p.score) for p in points[-3:]] == [
        (0.0, False, None),
        (0.0, False, None),  # 2 cases: fewer than 5 in 4 weeks
        (0.0, True, None),
    ]


def test_farrington_needs_three_years_of_history() -> None:
    points = detect.detect(_periods(170), _seasonal(170, 5).tolist(), "farrington")
    # 2019-W01 + 159 weeks is 2022-W03; three years back falls 157 weeks back (2020 is a
    # leap year), so the reference data would start 160 weeks back.
    assert all(p.threshold is None for p in points[:160])
    assert all(p.threshold is not None for p in points[160:])


def test_one_farrington_week_recomputed_with_statsmodels() -> None:
    """Week t of a quiet seasonal series: the reference weeks and seasonal levels written
    out by their definition, quasi-Poisson GLMs with statsmodels' own Anscombe residuals
    and leverages for the weights, the trend test, and the 2/3-power bound."""
    n = 5 * 52
    counts = _seasonal(n, 8)
    point = detect.detect(_periods(n), counts.tolist(), "farrington", first=n - 1)[-1]
    t = n - 1
    assert detect._years_back(weeks.monday(point.period)) == (52, 104, 156)
    rows = list(range(t - 159, t - 26))
    level = []
    for i in rows:
        rest = (i - (t - 156) + 3) % 52  # weeks since the start of a window
        level.append(0 if rest < 7 else (rest - 7) // 5 + 1)
    y = counts[rows].astype(float)
    seasons = np.eye(10)[level][:, 1:]  # indicators of levels 1..9
    time = np.array(rows, dtype=float) - t

    def fit(x: NDArray[np.float64]) -> tuple[Any, float]:
        first = sm.GLM(y, x, family=sm.families.Poisson()).fit()
        phi = max(1.0, first.pearson_chi2 / first.df_resid)
        hat = first.get_influence().hat_matrix_diag
        residuals = first.resid_anscombe_unscaled / np.sqrt(phi * (1 - hat))
        weights = detect.anscombe_weights(residuals, 2.58)
        result = sm.GLM(y, x, family=sm.families.Poisson(), var_weights=weights).fit()
        return result, max(1.0, result.pearson_chi2 / result.df_resid)

    with_trend, _ = fit(np.column_stack([np.ones(len(y)), time, seasons]))
    dispersion = with_trend.pearson_chi2 / with_trend.df_resid
    slope = with_trend.params[1] / math.sqrt(dispersion * with_trend.cov_params()[1, 1])
    assert 2 * statistics.NormalDist().cdf(-abs(slope)) > 0.1  # clearly no trend: dropped
    model, phi = fit(np.column_stack([np.ones(len(y)), seasons]))
    mu0 = math.exp(model.params[0])  # level 0 at week t
    se = mu0 * math.sqrt(phi * model.cov_params()[0, 0])  # fitted at scale 1: times phi
    upper, score = detect.threshold(mu0, se, phi, 0.05, point.count, 2 / 3)
    assert point.threshold == pytest.approx(upper, rel=1e-6)
    assert point.score == pytest.approx(score, rel=1e-6, abs=1e-9)


# detect(): the checks and the shape of the answer ----------------------------------------


def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(InvalidInput, match="week 2024-W02 is missing between 2024-W01 and"):
        detect.detect(["2024-W01", "2024-W03"], [1, 2], "ears-c1")
    with pytest.raises(InvalidInput, match="week 2024-W02 is given twice"):
        detect.detect(["2024-W01", "2024-W02", "2024-W02"], [1, 2, 3], "ears-c1")
    with pytest.raises(InvalidInput, match="week 2024-W01 comes after 2024-W02"):
        detect.detect(["2024-W02", "2024-W01"], [1, 2], "ears-c1")
    with pytest.raises(InvalidInput, match="unknown method 'cusum'; choose one of: ears-c1"):
        detect.detect(["2024-W01"], [1], "cusum")
    for alpha in (0, 1, 1.5, -0.1, math.nan):
        with pytest.raises(InvalidInput, match="alpha"):
            detect.detect(["2024-W01"], [1], "ears-c1", alpha=alpha)
    with pytest.raises(InvalidInput, match="the count of 2024-W02 is negative"):
        detect.detect(["2024-W01", "2024-W02"], [1, -1], "ears-c1")
    with pytest.raises(InvalidInput, match="period 2: 2024 has no ISO week 60"):
        detect.detect(["2024-W01", "2024-W60"], [1, 1], "ears-c1")
    with pytest.raises(InvalidInput, match="one count per period"):
        detect.detect(["2024-W01"], [1, 2], "ears-c1")
    with pytest.raises(InvalidInput, match="first"):
        detect.detect(["2024-W01"], [1], "ears-c1", first=-1)


def test_weeks_run_on_across_years_of_52_and_53_weeks() -> None:
    periods = weeks.span("2020-W50", "2022-W02")  # 2020 has a week 53, 2021 does not
    assert "2020-W53" in periods
    points = detect.detect(periods, [3] * len(periods), "ears-c2")
    assert [p.period for p in points] == periods
    with pytest.raises(InvalidInput, match="week 2020-W53 is missing"):
        detect.detect(["2020-W52", "2021-W01"], [1, 1], "ears-c1")


@pytest.mark.parametrize("method", detect.METHODS)
def test_one_point_per_week_and_none_where_the_baseline_is_short(method: str) -> None:
    periods = _periods(len(SERIES))
    points = detect.detect(periods, SERIES, method)
    assert [(p.period, p.count) for p in points] == list(zip(periods, SERIES, strict=True))
    short = {"ears-c1": 7, "ears-c2": 9, "ears-c3": 11, "farrington": len(SERIES)}[method]
    assert [p.threshold is None for p in points] == [i < short for i in range(len(SERIES))]
    assert not any(p.alarm for p in points[:short])
    assert detect.detect([], [], method) == []


def test_first_limits_the_weeks_evaluated() -> None:
    periods = _periods(len(SERIES))
    every = detect.detect(periods, SERIES, "ears-c1")
    points = detect.detect(periods, SERIES, "ears-c1", first=14)
    assert [p.threshold is not None for p in points] == [False] * 14 + [True] * 6
    assert not any(p.alarm for p in points[:14])  # week 13 (19 cases) is not evaluated
    assert points[14:] == every[14:]  # the baseline still uses the earlier weeks


def test_the_default_alpha_is_the_methods_own() -> None:
    periods = _periods(len(SERIES))
    for method, alpha in detect.DEFAULT_ALPHA.items():
        assert detect.detect(periods, SERIES, method) == detect.detect(
            periods, SERIES, method, alpha
        )
    assert detect.DEFAULT_ALPHA["farrington"] == 0.05  # farringtonFlexible's default
