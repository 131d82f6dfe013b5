"""A weekly series as server-rendered SVG: counts as bars, the detection threshold as a
line, alarms marked; readable without JavaScript, with a text alternative."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from html import escape

from jembatan.health.detect import Point

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 10, 24


def svg(points: Sequence[Point], title: str, small: bool = False) -> str:
    """`points` oldest first; `title` names the series (area, disease, member)."""
    width, height = (320, 90) if small else (WIDTH, HEIGHT)
    left, bottom = (4, 4) if small else (LEFT, BOTTOM)
    plot_w, plot_h = width - left - RIGHT, height - TOP - bottom
    alarms = [p for p in points if p.alarm]
    desc = (
        f"{len(points)} weeks from {points[0].period} to {points[-1].period}; "
        f"latest {points[-1].count}; {len(alarms)} alarm(s)"
        + (": " + ", ".join(p.period for p in alarms[:10]) if alarms else "")
        if points
        else "no weeks"
    )
    ident = "c" + hashlib.sha256(title.encode()).hexdigest()[:8]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" class="chart" aria-labelledby="{ident}t {ident}d">',
        f'<title id="{ident}t">{escape(title)}</title><desc id="{ident}d">{escape(desc)}</desc>',
    ]
    if points:
        top = max([p.count for p in points] + [p.threshold or 0 for p in points] + [1])
        step = plot_w / len(points)

        def y(value: float) -> float:
            return TOP + plot_h - value / top * plot_h

        for i, p in enumerate(points):
            x, h = left + i * step, p.count / top * plot_h
            mark = ' class="alarm"' if p.alarm else ""
            parts.append(
                f'<rect{mark} x="{x:.1f}" y="{y(p.count):.1f}" width="{max(step - 1, 0.5):.1f}" '
                f'height="{h:.1f}"><title>{escape(p.period)}: {p.count}'
                f"{' (alarm)' if p.alarm else ''}</title></rect>"
            )
        line: list[str] = []
        path: list[str] = []
        for i, p in enumerate(points):
            if p.threshold is None:
                if line:
                    path.append("M" + " L".join(line))
                line = []
                continue
            line.append(f"{left + (i + 0.5) * step:.1f},{y(min(p.threshold, top)):.1f}")
        if line:
            path.append("M" + " L".join(line))
        if path:
            parts.append(f'<path class="threshold" d="{" ".join(path)}"/>')
        for i, p in enumerate(points):
            if p.alarm:
                parts.append(
                    f'<circle class="alarm" cx="{left + (i + 0.5) * step:.1f}" '
                    f'cy="{max(y(p.count) - 4, 3):.1f}" r="3"/>'
                )
        if not small:
            parts.append(
                f'<text x="{left - 4}" y="{TOP + 8}" text-anchor="end">{top:.0f}</text>'
                f'<text x="{left - 4}" y="{TOP + plot_h}" text-anchor="end">0</text>'
            )
            for i in range(0, len(points), max(1, len(points) // 6)):
                label = escape(points[i].period)
                parts.append(f'<text x="{left + i * step:.1f}" y="{height - 6}">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)
