"""Outbreak detection over weekly counts: EARS C1, C2 and C3 (Hutwagner et al. 2003; the
R package `surveillance`'s `earsC` is the reference) and the Farrington flexible method
(Noufaily et al. 2013, "An improved algorithm for outbreak detection in multiple
surveillance systems"; `surveillance::farringtonFlexible`). Plain functions over plain
data: `detect` checks its input and returns one `Point` per week."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jembatan.errors import InvalidInput
from jembatan.health import weeks

METHODS = ("ears-c1", "ears-c2", "ears-c3", "farrington")
# EARS: the CDC's choices (as earsC's defaults); Farrington: farringtonFlexible's default.
DEFAULT_ALPHA = {"ears-c1": 0.001, "ears-c2": 0.001, "ears-c3": 0.025, "farrington": 0.05}

Floats = NDArray[np.float64]
Flags = NDArray[np.bool_]
Variant = Literal["C1", "C2", "C3"]


@dataclass(frozen=True, slots=True)  # slots: a third quicker to make, and detect makes many
class Point:
    period: str  # ISO week
    count: int
    threshold: float | None  # upper bound on the count scale; None where not evaluated
    alarm: bool
    score: float | None = None  # Farrington's (y - expected)/(U - expected); None elsewhere


# EARS -------------------------------------------------------------------------------

BASELINE = 7  # weeks in the EARS baseline
LAG = {"C1": 0, "C2": 2, "C3": 2}  # weeks between the baseline and the week checked
# A flat baseline has no spread, and with none any case above the mean alarms. One case is
# the smallest spread a count can show: after seven weeks without a case, C1 then needs 4
# cases at alpha 0.001, which a Poisson mean likely to give seven zeros (up to 0.43) makes
# about that rare. (earsC's `minSigma`: 0 by default there, 0.5 or 1 suggested for sparse
# data.)
MIN_SD = 1.0


def _two_sided_t(statistic: float, df: float) -> float:
    from scipy.stats import t as student_t

    return 2 * float(student_t.sf(statistic, df))


@lru_cache(maxsize=32)
def _z(alpha: float) -> float:
    """z(1 - alpha); cached, scipy's ppf costs more than a whole EARS series."""
    from scipy.stats import norm  # imported when first needed: SciPy is ~70 MB resident

    return float(norm.ppf(1 - alpha))


def _baseline(y: Floats, lag: int, min_sd: float) -> tuple[Floats, Floats]:
    """Mean and floored sample SD of the BASELINE weeks ending `lag` weeks before each
    week, along the last axis; NaN where the series is too short."""
    n = y.shape[-1]
    mean = np.full(y.shape, np.nan)
    sd = np.full(y.shape, np.nan)
    start = BASELINE + lag
    if n > start:
        # windows[..., i, :] = y[..., i : i + 7], the baseline of week i + 7 + lag
        windows = np.lib.stride_tricks.sliding_window_view(y, BASELINE, axis=-1)[
            ..., : n - start, :
        ]
        mean[..., start:] = windows.mean(axis=-1)
        sd[..., start:] = np.maximum(windows.std(axis=-1, ddof=1), min_sd)
    return mean, sd


def ears(
    counts: ArrayLike, variant: Variant, alpha: float | None = None, min_sd: float = MIN_SD
) -> tuple[Floats, Flags]:
    """EARS thresholds (count scale, NaN where the baseline is too short) and alarms for
    every week of one series, or of many at once as the rows of a 2-D array.

    C1: baseline the 7 weeks before; C2: the 7 weeks before the 2 before. Threshold
    mean + z(1 - alpha) * SD (sample SD, floored at `min_sd`, default 1 case); alarm when
    the count exceeds it. C3: the sum over this week and the two before of
    max(0, C2 statistic - 1); alarm when it exceeds z(1 - alpha). Its threshold is the
    count at which that sum would reach z given the two weeks before,
    mean + SD * (1 + z - their part). earsC's `upperbound` for C3 is built the same way
    but leaves out the 1 (and adds the week's own count where its documentation has the
    mean), which makes its alarms independent of the week itself; here the threshold and
    the alarm agree. When the two weeks before already carry the sum past z, every count
    alarms and the threshold is 0.
    """
    if variant not in LAG:
        raise ValueError(f"unknown EARS variant {variant!r}")
    if not min_sd > 0:
        raise ValueError("min_sd must be positive (C3 divides by the SD)")
    alpha = DEFAULT_ALPHA[f"ears-{variant.lower()}"] if alpha is None else alpha
    z = _z(alpha)
    y = np.asarray(counts, dtype=np.float64)
    mean, sd = _baseline(y, LAG[variant], min_sd)
    if variant != "C3":
        bound = mean + z * sd
        return bound, y > bound  # NaN compares False: no alarm without a baseline
    excess = np.maximum(0.0, (y - mean) / sd - 1.0)  # NaN where C2 has no baseline
    before = np.full(y.shape, np.nan)
    before[..., 2:] = excess[..., :-2] + excess[..., 1:-1]
    alarm = before + excess > z
    bound = np.where(before > z, 0.0, mean + sd * (1.0 + z - before))
    return bound, alarm


# Farrington flexible ----------------------------------------------------------------

PAST_YEARS = 3  # b: years of history in the reference data
HALF_WINDOW = 3  # w: weeks either side of this week, in each past year
PERIODS = 10  # levels of the seasonal factor (noPeriods): the windows and 9 blocks a year
NOT_INCLUDED = 26  # the latest weeks left out, so an emerging outbreak is not the baseline
REWEIGHT_ABOVE = 2.58  # Anscombe residuals above this mark past outbreaks: down-weighted
TREND_P = 0.05  # a trend stays only if significant at this level (and predicts sanely)
LIMIT = (5, 4)  # no alarm with fewer than 5 cases in the last 4 weeks (this one included)
POWER = 2 / 3  # the threshold's transform (farringtonFlexible's default, thresholdMethod delta)
MAX_ITER = 25  # IRLS iterations, as R's glm


def threshold(
    mu0: float, se: float, phi: float, alpha: float, y: float, power: float
) -> tuple[float, float]:
    """Upper bound and score (y - mu0) / (U - mu0) of a prediction `mu0` with standard
    error `se` (count scale) and dispersion `phi`: the (1 - alpha) quantile of a normal
    approximation after a power transform (1: none, 1/2, 2/3), by the delta method."""
    tau = phi + se**2 / mu0  # prediction variance over mu0: the count's and the estimate's
    if power == 1:
        spread = math.sqrt(mu0 * tau)
    elif power == 0.5:
        spread = math.sqrt(tau / 4)
    elif math.isclose(power, 2 / 3):
        power = 2 / 3
        spread = math.sqrt(4 / 9 * mu0 ** (1 / 3) * tau)
    else:
        raise ValueError(f"no threshold for the power {power}; use 1, 1/2 or 2/3")
    # Below 0 on the transformed scale (only with alpha above 1/2) is no count: 0.
    upper = max(0.0, mu0**power + _z(alpha) * spread) ** (1 / power)
    return upper, (y - mu0) / (upper - mu0)


def anscombe_weights(residuals: ArrayLike, limit: float) -> Floats:
    """Weights of the refit: gamma / s^2 for residuals s above `limit`, gamma for the
    rest, gamma making them sum to the number of weeks."""
    s = np.asarray(residuals, dtype=np.float64)
    high = s > limit
    raw = np.where(high, 1.0 / np.where(high, s, 1.0) ** 2, 1.0)
    weights: Floats = raw * (len(s) / raw.sum())
    return weights


def _anscombe(y: Floats, mu: Floats, hat: Floats, phi: float) -> Floats:
    """Standardised Anscombe residuals of a quasi-Poisson fit (written so that y = 0 with
    a vanishing mean gives 0, not 0/0)."""
    mu = np.maximum(mu, 1e-300)
    raw = 1.5 * (y ** (2 / 3) * mu ** (-1 / 6) - np.sqrt(mu))
    residuals: Floats = raw / np.sqrt(phi * np.maximum(1.0 - hat, 1e-12))
    return residuals


def _hat(x: Floats, mu: Floats) -> Floats:
    """Leverages of an unweighted Poisson fit: diag(W^1/2 X (X'WX)^-1 X'W^1/2), W = mu."""
    root = np.sqrt(mu)[:, None] * x
    leverages: Floats = np.einsum("ij,ji->i", root, np.linalg.pinv(root.T @ root) @ root.T)
    return leverages


def _years_back(day: date) -> tuple[int, ...]:
    """Weeks from `day` back to the Monday closest to the same date 1..b years earlier
    (as farringtonFlexible finds reference weeks by date): 52, 104, then 156 or 157."""
    back = []
    for i in range(1, PAST_YEARS + 1):
        try:
            earlier = day.replace(year=day.year - i)
        except ValueError:  # 29 February: R's seq() rolls over to 1 March
            earlier = date(day.year - i, 3, 1)
        back.append(round((day - earlier).days / 7))
    return tuple(back)


@lru_cache(maxsize=64)
def _reference(back: tuple[int, ...]) -> tuple[NDArray[np.int64], Floats]:
    """Week offsets (to the week checked, negative) of the reference data and its design:
    intercept, trend (the offset, so the prediction is at 0), and indicators of seasonal
    levels 1..9. Level 0, the baseline, is the windows of 2w + 1 weeks around the same
    week of past years (the week checked is in it too); the weeks between two windows are
    cut into 9 blocks, the first ones a week longer where they do not divide evenly, as
    farringtonFlexible's blocks(). The design only depends on `back`: cached."""
    w = HALF_WINDOW
    first = -(back[-1] + w)
    level = np.zeros(-first + 1, dtype=np.int64)  # level[o - first] for offset o
    anchors = (0, *(-b for b in back))
    for newer, anchor in pairwise(anchors):
        start = anchor + w + 1
        size, rest = divmod(newer - w - start, PERIODS - 1)
        for block in range(PERIODS - 1):
            length = size + (block < rest)
            level[start - first : start - first + length] = block + 1
            start += length
    offsets = np.arange(first, -NOT_INCLUDED)  # the last NOT_INCLUDED + 1 weeks are left out
    seasons = level[offsets - first]
    columns = [np.ones(len(offsets)), offsets.astype(np.float64)]
    columns += [
        (seasons == k).astype(np.float64) for k in range(1, PERIODS) if (seasons == k).any()
    ]
    design = np.column_stack(columns)
    offsets.setflags(write=False)
    design.setflags(write=False)
    return offsets, design


@dataclass(frozen=True)
class _Fit:
    params: Floats
    unscaled: Floats  # (X'WX)^-1
    mu: Floats
    dispersion: float  # Pearson chi2 / residual df, as estimated
    df: float
    converged: bool
    trend: bool = False  # whether the design has the trend column

    @property
    def phi(self) -> float:
        return max(1.0, self.dispersion)  # the method never assumes underdispersion


def _glm(y: Floats, x: Floats, weights: Floats | None, start: Floats | None) -> _Fit | None:
    """Quasi-Poisson GLM (log link), statsmodels' IRLS from `start`; None if it fails."""
    import statsmodels.api as sm  # heavy: imported when Farrington first runs
    from statsmodels.tools.sm_exceptions import PerfectSeparationError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is read from the result instead
        try:
            model = sm.GLM(y, x, family=sm.families.Poisson(), var_weights=weights)
            # R's convergence rule, |change in deviance| <= 1e-8 (|deviance| + 0.1); the
            # dispersion is estimated afterwards (estimated during the fit, it would
            # scale the deviance compared, which then never settles on a perfect fit).
            result = model.fit(maxiter=MAX_ITER, start_params=start, atol=1e-9, rtol=1e-8)
        except (ValueError, ZeroDivisionError, np.linalg.LinAlgError, PerfectSeparationError):
            return None
    params = np.asarray(result.params, dtype=np.float64)
    if not np.isfinite(params).all():
        return None
    return _Fit(
        params,
        np.asarray(result.normalized_cov_params, dtype=np.float64),
        np.asarray(result.fittedvalues, dtype=np.float64),
        float(result.pearson_chi2 / result.df_resid),
        float(result.df_resid),
        bool(result.converged),
    )


def _start(y: Floats, x: Floats, trend: bool) -> Floats:
    """IRLS starting values: the log mean of each seasonal level (the exact estimates
    without a trend), no trend. From there a fit takes 1 to 4 iterations; a level with no
    case starts at half a case, its estimate then runs off to minus infinity as in R."""
    indicators = x[:, 2 if trend else 1 :].astype(bool)
    baseline = ~indicators.any(axis=1)
    base = math.log(max(float(y[baseline].mean()), 0.5 / baseline.sum()))
    levels = [
        math.log(max(float(y[rows].mean()), 0.5 / rows.sum())) - base for rows in indicators.T
    ]
    return np.array([base, *([0.0] if trend else []), *levels])


def _fit_flexible(y: Floats, design: Floats, trend: bool) -> _Fit | None:
    """Fit, down-weight past outbreaks by their Anscombe residuals, refit (as
    farringtonFlexible's fitGLM.flexible, which also drops the trend if the fit with it
    does not converge)."""
    x = design if trend else np.delete(design, 1, axis=1)
    first = _glm(y, x, None, _start(y, x, trend))
    if first is None or not first.converged:
        return _fit_flexible(y, design, False) if trend else None
    residuals = _anscombe(y, first.mu, _hat(x, first.mu), first.phi)
    if not (residuals > REWEIGHT_ABOVE).any():
        return replace(first, trend=trend)  # all weights 1: the refit is the same fit
    refit = _glm(y, x, anscombe_weights(residuals, REWEIGHT_ABOVE), first.params)
    return None if refit is None else replace(refit, trend=trend)


def _evaluate(
    y: Floats, t: int, back: tuple[int, ...], alpha: float
) -> tuple[float, float, bool] | None:
    """(upper bound, score or NaN, alarm) of week `t`, or None if no model fits."""
    offsets, design = _reference(back)
    ref = y[t + offsets]
    count = float(y[t])
    enough = y[max(0, t - LIMIT[1] + 1) : t + 1].sum() >= LIMIT[0]
    if not ref.any():
        # Nothing in the reference weeks: the fit's limit is a mean and a bound of 0.
        return 0.0, math.nan, bool(count > 0 and enough)
    model = _fit_flexible(ref, design, True)
    if model is not None and model.trend:
        # Keep the trend only if significant and not predicting beyond what was seen.
        # Its t test uses the fit's own dispersion estimate, as R's summary.glm does.
        se = math.sqrt(max(0.0, model.dispersion * model.unscaled[1, 1]))
        slope = float(model.params[1])
        p = _two_sided_t(abs(slope) / se, model.df) if se > 0 else float(slope == 0)
        if not (p < TREND_P and math.exp(min(model.params[0], 700)) <= ref.max()):
            model = _fit_flexible(ref, design, False)
    if model is None or model.params[0] > 700:
        return None
    # At offset 0 in the baseline level the linear predictor is the intercept alone.
    mu0 = math.exp(model.params[0])
    if mu0 <= 0:  # underflow: as good as nothing expected
        return 0.0, math.nan, bool(count > 0 and enough)
    # The prediction's variance uses phi floored at 1, as Farrington et al. (1996) and
    # algo.farrington do; farringtonFlexible means to (it passes `dispersion` inside
    # newdata, so predict.glm uses the unfloored estimate).
    se = mu0 * math.sqrt(max(0.0, model.phi * model.unscaled[0, 0]))
    upper, score = threshold(mu0, se, model.phi, alpha, count, POWER)
    return upper, score, bool(score > 1 and enough and count > 0)


def farrington(
    counts: ArrayLike, start: str, alpha: float | None = None, *, first: int = 0
) -> tuple[Floats, Floats, Flags]:
    """Farrington flexible thresholds (NaN where there are not 3 years of history or no
    model fits), scores (NaN where undefined) and alarms of weeks `first`.. of a series
    of consecutive weeks from the ISO week `start`.

    For each week: the reference data are the weeks from 3 years and 3 weeks back to 27
    weeks back (the latest 26 and this one left out), with a 10-level seasonal factor
    (windows of +-3 weeks around the same week of each past year, 9 blocks between).
    Quasi-Poisson GLM with a linear trend, phi = max(1, Pearson chi2 / df); refit with
    weights down-weighting weeks whose Anscombe residual exceeds 2.58; the trend is
    dropped (and all is refitted) unless significant at 5% and its prediction is within
    the largest reference count. Threshold: the (1 - alpha) upper bound of the
    prediction after the 2/3 power transform (farringtonFlexible's default
    thresholdMethod "delta"; Noufaily et al. used a negative binomial quantile,
    farringtonFlexible's "nbPlugin", not offered here). Alarm when the score
    (y - mu0) / (U - mu0) exceeds 1, the week has cases and the last 4 weeks have 5.
    Unlike farringtonFlexible, the threshold is given also where the 5-in-4 rule holds
    the alarm back. With no case at all in the reference weeks the expected count is 0:
    threshold 0, no score.
    """
    alpha = DEFAULT_ALPHA["farrington"] if alpha is None else alpha
    y = np.asarray(counts, dtype=np.float64)
    n = len(y)
    bounds = np.full(n, np.nan)
    scores = np.full(n, np.nan)
    alarms = np.zeros(n, dtype=np.bool_)
    origin = weeks.monday(start)
    for t in range(max(first, 0), n):
        back = _years_back(origin + timedelta(weeks=t))
        if t - back[-1] - HALF_WINDOW < 0:
            continue
        found = _evaluate(y, t, back, alpha)
        if found is not None:
            bounds[t], scores[t], alarms[t] = found
    return bounds, scores, alarms


# One entry point --------------------------------------------------------------------


def _week(text: str, position: int) -> tuple[int, int]:
    try:
        return weeks.parse(text)
    except ValueError as exc:
        raise InvalidInput("period {n}: {reason}", n=position + 1, reason=str(exc)) from None


@lru_cache(maxsize=32)
def _consecutive(first: str, n: int) -> tuple[str, ...]:
    """The n consecutive weeks from `first`, as written by weeks.of."""
    year, week = weeks.parse(first)
    out = [first]
    last = weeks.weeks_in(year)
    for _ in range(n - 1):
        year, week = (year, week + 1) if week < last else (year + 1, 1)
        if week == 1:
            last = weeks.weeks_in(year)
        out.append(f"{year}-W{week:02d}")
    return tuple(out)


def check_weeks(periods: Sequence[str]) -> None:
    """Periods must be consecutive ISO weeks, oldest first: the first week missing,
    repeated or out of order is named."""
    if not periods:
        return
    year, week = _week(periods[0], 0)
    if tuple(periods) == _consecutive(f"{year}-W{week:02d}", len(periods)):
        return  # the usual case, one comparison (callers check the same weeks many times)
    for i in range(1, len(periods)):
        expected = weeks.shift(f"{year}-W{week:02d}", 1)
        text = periods[i]
        found = _week(text, i)
        year, week = weeks.parse(expected)
        if found == (year, week):
            continue  # also the same week written with spaces around
        before = periods[i - 1].strip()
        if found == _week(before, i - 1):
            raise InvalidInput("week {week} is given twice", week=before)
        if found < (year, week):
            raise InvalidInput(
                "week {week} comes after {before}: the periods must be in order, oldest first",
                week=text.strip(),
                before=before,
            )
        raise InvalidInput(
            "week {missing} is missing between {before} and {after}",
            missing=expected,
            before=before,
            after=text.strip(),
        )


def detect(
    periods: Sequence[str],
    counts: Sequence[int],
    method: str,
    alpha: float | None = None,
    *,
    first: int = 0,
) -> list[Point]:
    """One Point per week, in order. `periods` must be consecutive ISO weeks, oldest
    first. Weeks before index `first` are not evaluated (threshold None, no alarm); their
    counts still serve as the baseline of later weeks."""
    if method not in METHODS:
        raise InvalidInput(
            "unknown method {method!r}; choose one of: {methods}",
            method=method,
            methods=", ".join(METHODS),
        )
    if alpha is not None and not 0 < alpha < 1:
        raise InvalidInput("alpha must lie strictly between 0 and 1, not {alpha}", alpha=alpha)
    if len(periods) != len(counts):
        raise InvalidInput(
            "there must be one count per period: {p} periods, {c} counts",
            p=len(periods),
            c=len(counts),
        )
    for period, count in zip(periods, counts, strict=True):
        if count < 0:
            raise InvalidInput("the count of {p} is negative ({c})", p=period, c=count)
    if first < 0:
        raise InvalidInput("first must not be negative")
    check_weeks(periods)
    if not periods:
        return []
    level = DEFAULT_ALPHA[method] if alpha is None else alpha
    scores: list[Any]
    if method == "farrington":
        found, score_array, alarm_array = farrington(counts, periods[0], level, first=first)
        scores = [None if math.isnan(s) else s for s in score_array.tolist()]
    else:
        found, alarm_array = ears(counts, cast(Variant, method[5:].upper()), level)
        scores = [None] * len(counts)
    # Plain Python values in bulk, then one Point per week (the bulk of detect's time).
    bounds = found[first:].tolist()
    rows = zip(
        periods[first:],
        np.asarray(counts[first:], dtype=np.int64).tolist(),
        bounds,
        alarm_array[first:].tolist(),
        scores[first:],
        strict=True,
    )
    skipped = np.asarray(counts[:first], dtype=np.int64).tolist()
    return [
        *(Point(p, c, None, False) for p, c in zip(periods[:first], skipped, strict=True)),
        *(
            Point(p, c, None, False) if b != b else Point(p, c, b, a, s)  # b != b: NaN
            for p, c, b, a, s in rows
        ),
    ]
