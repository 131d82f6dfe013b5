"""Outbreak detection over weekly counts: EARS C1, C2 and C3 (Hutwagner et al.; the R
package `surveillance`'s `earsC` is the reference), and the Farrington flexible method
(Noufaily et al. 2013, `farringtonFlexible`). Plain functions over plain data."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from jembatan.errors import InvalidInput
from jembatan.health import weeks

METHODS = ("ears-c1", "ears-c2", "ears-c3", "farrington")
DEFAULT_ALPHA = {"ears-c1": 0.001, "ears-c2": 0.001, "ears-c3": 0.025, "farrington": 0.05}
# A baseline of identical counts has no spread; the SD is floored so one extra case is not
# an alarm (CDC's EARS floors it the same way).
MIN_SD = 0.2
BASELINE = 7  # weeks in the EARS baseline
LAG = {"C1": 0, "C2": 2, "C3": 2}


@dataclass(frozen=True)
class Point:
    period: str
    count: int
    threshold: float | None  # on the count scale; None where the baseline is too short
    alarm: bool
    score: float | None = None


# EARS -------------------------------------------------------------------------------


def _baseline(
    y: NDArray[np.float64], lag: int, min_sd: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean and sample SD of the 7 weeks ending `lag` weeks before each week (NaN where
    there are not enough weeks), vectorised with a sliding window."""
    n = len(y)
    mu = np.full(n, np.nan)
    sd = np.full(n, np.nan)
    start = BASELINE + lag
    if n > start:
        windows = np.lib.stride_tricks.sliding_window_view(y, BASELINE)  # windows[i] = y[i:i+7]
        # Week t uses y[t-7-lag : t-lag], which is windows[t - 7 - lag].
        chosen = windows[: n - start]
        mu[start:] = chosen.mean(axis=1)
        sd[start:] = np.maximum(chosen.std(axis=1, ddof=1), min_sd)
    return mu, sd


def ears(
    counts: Sequence[float],
    variant: Literal["C1", "C2", "C3"],
    alpha: float | None = None,
    min_sd: float = MIN_SD,
) -> tuple[list[float | None], list[bool]]:
    """Thresholds (count scale) and alarms per week. C1 and C2: mean + z(1-alpha)*SD of the
    baseline; alarm when the count exceeds it. C3: the sum of max(0, C2 - 1) over this and
    the two weeks before; alarm when it exceeds z(1-alpha); its threshold is the count
    that would bring the sum to z(1-alpha) given the two weeks before."""
    alpha = DEFAULT_ALPHA[f"ears-{variant.lower()}"] if alpha is None else alpha
    y = np.asarray(counts, dtype=float)
    z = float(norm.ppf(1 - alpha))
    mu, sd = _baseline(y, LAG[variant], min_sd)
    if variant in ("C1", "C2"):
        bound = mu + z * sd
        alarm = y > bound
    else:
        excess = np.maximum(0.0, (y - mu) / sd - 1.0)  # NaN where C2 has no baseline
        before = np.full(len(y), np.nan)
        before[2:] = excess[:-2] + excess[1:-1]
        bound = mu + sd * (1.0 + z - before)
        alarm = (before + excess) > z
    thresholds = [None if math.isnan(b) else float(b) for b in bound]
    return thresholds, [bool(a) and t is not None for a, t in zip(alarm, thresholds, strict=True)]


# Farrington flexible ----------------------------------------------------------------

YEAR = 52
PAST_YEARS = 3  # b
HALF_WINDOW = 3  # w
PERIODS = 10  # levels of the seasonal factor
NOT_INCLUDED = 26  # the most recent weeks are left out of the reference data
REWEIGHT_ABOVE = 2.58  # Anscombe residuals above this mark past outbreaks
TREND_P = 0.05
LIMIT = (5, 4)  # no alarm with fewer than 5 cases in the last 4 weeks


def threshold(
    mu0: float, se: float, phi: float, alpha: float, y: float, power: float
) -> tuple[float, float]:
    """Upper bound and score of the prediction `mu0` (standard error `se` on the count
    scale, dispersion `phi`) after a power transform (1: none, 1/2, 2/3)."""
    tau = phi + se**2 / mu0
    if power == 1:
        spread = math.sqrt(mu0 * tau)
    elif power == 0.5:
        spread = math.sqrt(tau / 4)
    else:
        spread = math.sqrt(4 / 9 * mu0 ** (1 / 3) * tau)
    z = float(norm.ppf(1 - alpha))
    upper = (mu0**power + z * spread) ** (1 / power)
    return upper, (y - mu0) / (upper - mu0)


def anscombe_weights(
    residuals: Sequence[float] | NDArray[np.float64], limit: float
) -> NDArray[np.float64]:
    """Down-weight reference weeks whose residual exceeds `limit` by 1/s^2; the weights
    are scaled to sum to the number of weeks."""
    s = np.asarray(residuals, dtype=float)
    high = s > limit
    raw = np.where(high, 1.0 / np.where(high, s, 1.0) ** 2, 1.0)
    weights: NDArray[np.float64] = raw * (len(s) / raw.sum())
    return weights


def _season(offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """Level 0 for weeks within w of this week in a past year; the rest of each year is
    cut into PERIODS - 1 equal parts, counted on from the window."""
    q = offsets % YEAR
    window = 2 * HALF_WINDOW + 1
    rest = (q - window) * (PERIODS - 1) // (YEAR - window) + 1
    levels: NDArray[np.int64] = np.where(q < window, 0, rest)
    return levels


def _fit(
    y: NDArray[np.float64],
    x: NDArray[np.float64],
    weights: NDArray[np.float64],
    start: NDArray[np.float64] | None = None,
) -> tuple[Any, float] | None:
    import statsmodels.api as sm  # heavy: only when Farrington runs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = sm.GLM(y, x, family=sm.families.Poisson(), var_weights=weights)
            result = model.fit(scale="X2", maxiter=50, start_params=start)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            return None
    return result, max(1.0, float(result.scale))


def _design(time: NDArray[Any], levels: NDArray[Any], trend: bool) -> NDArray[np.float64]:
    used = sorted(set(levels.tolist()) - {0})
    cols = [np.ones(len(time))]
    if trend:
        cols.append(time.astype(float))
    cols.extend((levels == level).astype(float) for level in used)
    return np.column_stack(cols)


def _hat(
    x: NDArray[np.float64], mu: NDArray[np.float64], weights: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Leverages of the IRLS fit: diag(W^1/2 X (X'WX)^-1 X' W^1/2), W = weights * mu."""
    root = np.sqrt(weights * mu)[:, None] * x
    inverse = np.linalg.pinv(root.T @ root)
    leverages: NDArray[np.float64] = np.einsum("ij,jk,ik->i", root, inverse, root)
    return leverages


def farrington_at(y: NDArray[np.float64], t: int, alpha: float) -> tuple[float, float, bool] | None:
    """(upper bound, score, alarm) for week `t`, or None without PAST_YEARS of history."""
    first = t - PAST_YEARS * YEAR - HALF_WINDOW
    last = t - NOT_INCLUDED
    if first < 0:
        return None
    index = np.arange(first, last + 1)
    ref = y[index]
    if ref.sum() == 0:
        return None
    levels = _season(index - first)
    ones = np.ones(len(ref))
    for trend in (True, False):
        x = _design(index, levels, trend)
        fitted = _fit(ref, x, ones)
        if fitted is None:
            continue
        result, phi = fitted
        mu = np.asarray(result.fittedvalues)
        hat = np.clip(_hat(x, mu, ones), 0, 0.999)
        residual = (
            1.5 * (ref ** (2 / 3) - mu ** (2 / 3)) / (mu ** (1 / 6) * np.sqrt(phi * (1 - hat)))
        )
        refit = _fit(ref, x, anscombe_weights(residual, REWEIGHT_ABOVE), result.params)
        if refit is None:
            continue
        result, phi = refit
        params = np.asarray(result.params)
        row = np.zeros(x.shape[1])
        row[0] = 1.0  # season level 0 is the baseline level: no indicator column
        if trend:
            row[1] = t
        eta = float(row @ params)
        mu0 = math.exp(eta) if eta < 700 else math.inf
        if trend:
            p_trend = float(np.asarray(result.pvalues)[1])
            if p_trend > TREND_P or mu0 > ref.max():
                continue  # no real trend, or it extrapolates past what was seen: drop it
        if not math.isfinite(mu0) or mu0 <= 0:
            return None
        covariance = np.asarray(result.cov_params())
        se = mu0 * math.sqrt(max(0.0, float(row @ covariance @ row)))  # delta method
        upper, score = threshold(mu0, se, phi, alpha, float(y[t]), 2 / 3)
        recent = y[max(0, t - LIMIT[1] + 1) : t + 1].sum()
        return upper, score, bool(score > 1 and recent >= LIMIT[0])
    return None


# One entry point --------------------------------------------------------------------


def check_weeks(periods: Sequence[str]) -> None:
    """Periods must be consecutive ISO weeks, oldest first."""
    for i, period in enumerate(periods):
        try:
            weeks.parse(period)
        except ValueError as exc:
            raise InvalidInput("period {n}: {reason}", n=i + 1, reason=str(exc)) from None
        if i and weeks.shift(periods[i - 1], 1) != period:
            raise InvalidInput(
                "periods must be consecutive ISO weeks: {expected} should follow {before}, "
                "not {found}",
                expected=weeks.shift(periods[i - 1], 1),
                before=periods[i - 1],
                found=period,
            )


def detect(
    periods: Sequence[str],
    counts: Sequence[int],
    method: str,
    alpha: float | None = None,
    *,
    first: int = 0,
) -> list[Point]:
    """One Point per week; weeks before `first` are not evaluated (their baseline may
    still serve later weeks)."""
    if method not in METHODS:
        raise InvalidInput(
            "unknown method {method!r}; choose one of: {methods}",
            method=method,
            methods=", ".join(METHODS),
        )
    if alpha is not None and not 0 < alpha < 1:
        raise InvalidInput("alpha must lie between 0 and 1")
    if len(periods) != len(counts):
        raise InvalidInput("there must be one count per period")
    if any(c < 0 for c in counts):
        raise InvalidInput("counts cannot be negative")
    check_weeks(periods)
    level = DEFAULT_ALPHA[method] if alpha is None else alpha
    bounds: list[float | None]
    scores: list[float | None] = [None] * len(counts)
    if method.startswith("ears-"):
        variant: Literal["C1", "C2", "C3"] = method[5:].upper()  # type: ignore[assignment]
        bounds, alarms = ears(counts, variant, level)
    else:
        y = np.asarray(counts, dtype=float)
        bounds, alarms = [None] * len(counts), [False] * len(counts)
        for t in range(max(first, 0), len(counts)):
            found = farrington_at(y, t, level)
            if found is not None:
                bounds[t], scores[t], alarms[t] = found
    return [
        Point(
            period,
            int(count),
            bounds[i] if i >= first else None,
            alarms[i] if i >= first else False,
            scores[i] if i >= first else None,
        )
        for i, (period, count) in enumerate(zip(periods, counts, strict=True))
    ]
