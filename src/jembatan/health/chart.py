"""A weekly series as server-rendered SVG: counts as bars, the detection threshold as a
dashed line (broken where a week was not evaluated), alarms marked, axes with a few week
labels and count ticks. Readable without JavaScript or a stylesheet, with a text
alternative; a pure function over plain data."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from jembatan.health.detect import Point

MAX_WEEKS = 104  # drawn unless the caller asks for more (the series page shows five years)
LARGE = (720, 220, 46, 12, 10, 30)  # width, height, left, right, top, bottom
SMALL = (360, 120, 32, 8, 8, 20)
BAR, ALARM, THRESHOLD, AXIS, GRID, INK = "#7a9cc6", "#b3261e", "#222", "#666", "#e4e4e4", "#333"


@dataclass(frozen=True)
class Words:
    """The chart's text in the reader's language; the caller translates, `{name}` fields
    are filled here."""

    summary: str = "{weeks} weeks from {first} to {last}; latest count {latest}; alarms: {alarms}"
    alarm_weeks: str = "Alarm weeks: {periods}"
    empty: str = "No weeks reported."
    week: str = "{period}: {count} cases"
    threshold: str = "threshold {threshold}"
    alarm: str = "alarm"


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def ticks(peak: float, most: int = 4) -> list[float]:
    """Round count ticks from 0 up to at least `peak`: steps of 1, 2 or 5 times a power of
    ten, at most `most` steps."""
    peak = max(peak, 1.0)
    step = 1.0
    for power in range(int(math.log10(peak)) + 1, -1, -1):
        for factor in (5, 2, 1):
            candidate = factor * 10.0**power
            if candidate >= 1 and math.ceil(peak / candidate) <= most:
                step = candidate
    return [i * step for i in range(math.ceil(peak / step) + 1)]


def _label_positions(n: int, most: int) -> list[int]:
    if n <= 1:
        return list(range(n))
    most = max(2, min(most, n))
    return sorted({round(k * (n - 1) / (most - 1)) for k in range(most)})


def _usable(threshold: float | None) -> float | None:
    return threshold if threshold is not None and math.isfinite(threshold) else None


def svg(
    points: Sequence[Point],
    title: str,
    *,
    words: Words | None = None,
    small: bool = False,
    limit: int = MAX_WEEKS,
    top: float | None = None,
) -> str:
    """`points` oldest first, of which the last `limit` are drawn; `title` names the series.
    `top`: the count at the top of the scale, shared by small multiples (default: what
    this series needs)."""
    words = words or Words()
    points = list(points[-limit:]) if limit > 0 else []
    width, height, left, right, upper, bottom = SMALL if small else LARGE
    plot_w, plot_h = width - left - right, height - upper - bottom
    alarms = [p for p in points if p.alarm]
    if points:
        desc = words.summary.format(
            weeks=len(points),
            first=points[0].period,
            last=points[-1].period,
            latest=points[-1].count,
            alarms=len(alarms),
        )
        if alarms:
            shown = ", ".join(p.period for p in alarms[-12:])
            desc += ". " + words.alarm_weeks.format(periods=shown)
    else:
        desc = words.empty
    seed = f"{title}|{small}|{points[0].period if points else ''}|{len(points)}"
    ident = "chart-" + hashlib.sha256(seed.encode()).hexdigest()[:10]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{ident}-t {ident}-d" font-family="sans-serif" font-size="10">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(desc)}</desc>',
    ]
    if not points:
        parts.append("</svg>")
        return "".join(parts)

    peak = max([p.count for p in points] + [1])
    limits = [t for t in (_usable(p.threshold) for p in points) if t is not None]
    # A threshold far above every count would flatten the bars: the scale stops at twice
    # the peak and such a line runs along the top.
    reach = max([peak] + [min(t, 2 * peak) for t in limits]) if top is None else max(top, 1)
    scale = ticks(reach, 2 if small else 4)
    high = scale[-1]
    step = plot_w / len(points)

    def y(value: float) -> float:
        return upper + plot_h - min(max(value, 0.0), high) / high * plot_h

    def mid(i: int) -> float:
        return left + (i + 0.5) * step

    for value in scale:  # count ticks, with light grid lines
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{left - 4}" y="{y(value) + 3.5:.1f}" text-anchor="end" fill="{INK}">'
            f"{_number(value)}</text>"
        )
    for i, p in enumerate(points):
        says = [words.week.format(period=p.period, count=p.count)]
        limit_here = _usable(p.threshold)
        if limit_here is not None:
            says.append(words.threshold.format(threshold=f"{limit_here:.1f}"))
        if p.alarm:
            says.append(words.alarm)
        tip = escape("; ".join(says))
        gap = 1 if step > 3 else 0
        mark = ' class="alarm"' if p.alarm else ""
        parts.append(
            f'<rect{mark} x="{left + i * step:.1f}" y="{y(p.count):.1f}" '
            f'width="{max(step - gap, 0.5):.1f}" height="{upper + plot_h - y(p.count):.1f}" '
            f'fill="{ALARM if p.alarm else BAR}"><title>{tip}</title></rect>'
        )
    path: list[str] = []
    run: list[str] = []
    for i, p in enumerate([*points, Point("", 0, None, False)]):  # the end closes a run
        bound = _usable(p.threshold)
        if bound is None:
            if len(run) == 1:  # a single evaluated week: a short stroke across its bar
                x, at = (float(v) for v in run[0].split(","))
                run = [f"{x - step / 2:.1f},{at:.1f}", f"{x + step / 2:.1f},{at:.1f}"]
            if run:
                path.append("M" + " L".join(run))
            run = []
            continue
        run.append(f"{mid(i):.1f},{y(bound):.1f}")
    if path:
        parts.append(
            f'<path class="threshold" d="{" ".join(path)}" fill="none" stroke="{THRESHOLD}" '
            f'stroke-width="1.5" stroke-dasharray="4 2"/>'
        )
    for i, p in enumerate(points):
        if p.alarm:
            tip = escape(words.week.format(period=p.period, count=p.count) + "; " + words.alarm)
            parts.append(
                f'<circle class="alarm" cx="{mid(i):.1f}" cy="{max(y(p.count) - 5, 4):.1f}" '
                f'r="{2.5 if small else 3.5}" fill="{ALARM}"><title>{tip}</title></circle>'
            )
    base = upper + plot_h
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{base}" y2="{base}" stroke="{AXIS}"/>'
        f'<line x1="{left}" x2="{left}" y1="{upper}" y2="{base}" stroke="{AXIS}"/>'
    )
    last = len(points) - 1
    for i in _label_positions(len(points), 3 if small else 6):
        anchor = "start" if i == 0 and last else "end" if i == last and last else "middle"
        x = left if anchor == "start" else width - right if anchor == "end" else mid(i)
        parts.append(
            f'<line x1="{mid(i):.1f}" x2="{mid(i):.1f}" y1="{base}" y2="{base + 3}" '
            f'stroke="{AXIS}"/><text x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}" '
            f'fill="{INK}">{escape(points[i].period)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
