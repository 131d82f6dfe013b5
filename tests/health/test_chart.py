"""The series chart as SVG: well-formed and named for assistive technology, text escaped,
alarms marked one by one, the threshold broken where weeks were not evaluated, a few
axis labels, and no more weeks than asked for."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

from jembatan.health import weeks
from jembatan.health.chart import MAX_WEEKS, Words, svg, ticks
from jembatan.health.detect import Point

NS = {"s": "http://www.w3.org/2000/svg"}


def _weeks(n: int, start: str = "2025-W01") -> list[str]:
    return weeks.span(start, weeks.shift(start, n - 1))


def _series(counts: list[int], thresholds: list[float | None] | None = None) -> list[Point]:
    limits = thresholds or [None] * len(counts)
    return [
        Point(p, c, t, t is not None and c > t)
        for p, c, t in zip(_weeks(len(counts)), counts, limits, strict=True)
    ]


def _tree(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314  (our own output, parsed to check it is well-formed)


def test_named_image_with_a_summary() -> None:
    points = _series([3, 4, 4, 20], [None, 4.0, 4.5, 6.0])
    root = _tree(svg(points, "Dengue fever, Jakarta Raya (ID-JK), ASEAN/GOV/IDN"))
    assert root.get("role") == "img"
    title, desc = root.find("s:title", NS), root.find("s:desc", NS)
    assert title is not None
    assert desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert title.text == "Dengue fever, Jakarta Raya (ID-JK), ASEAN/GOV/IDN"
    assert desc.text == (
        "4 weeks from 2025-W01 to 2025-W04; latest count 20; alarms: 1. Alarm weeks: 2025-W04"
    )


def test_every_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & Co'
    points = [Point("2025-W01<b>", 1, None, True)]
    text = svg(points, hostile)
    assert "<script" not in text
    assert "<b>" not in text
    root = _tree(text)
    assert root.find("s:title", NS).text == hostile  # type: ignore[union-attr]


def test_each_alarm_has_a_marker_with_its_own_title() -> None:
    points = _series([5, 5, 30, 5, 40], [None, 6.0, 6.0, 7.0, 7.0])
    root = _tree(svg(points, "s"))
    markers = root.findall("s:circle[@class='alarm']", NS)
    assert [m.find("s:title", NS).text for m in markers] == [  # type: ignore[union-attr]
        "2025-W03: 30 cases; alarm",
        "2025-W05: 40 cases; alarm",
    ]
    bars = root.findall("s:rect", NS)
    assert len(bars) == 5
    assert [b.get("class") for b in bars] == [None, None, "alarm", None, "alarm"]
    assert bars[2].find("s:title", NS).text == (  # type: ignore[union-attr]
        "2025-W03: 30 cases; threshold 6.0; alarm"
    )


def test_threshold_line_breaks_where_weeks_were_not_evaluated() -> None:
    points = _series([5] * 8, [None, 6.0, 6.5, None, None, 7.0, 7.5, 8.0])
    path = _tree(svg(points, "s")).find("s:path[@class='threshold']", NS)
    assert path is not None
    runs = path.get("d", "").split("M")[1:]
    assert [len(r.split("L")) for r in runs] == [2, 3]  # two runs, a gap between them


def test_a_single_evaluated_week_still_shows_its_threshold() -> None:
    path = _tree(svg(_series([5, 5, 5], [None, None, 6.0]), "s")).find("s:path", NS)
    assert path is not None
    assert len(path.get("d", "").split("L")) == 2


def test_no_threshold_no_line_and_bad_thresholds_ignored() -> None:
    assert _tree(svg(_series([1, 2, 3]), "s")).find("s:path", NS) is None
    points = _series([1, 2, 3], [math.inf, math.nan, None])
    assert _tree(svg(points, "s")).find("s:path", NS) is None


def test_scale_has_round_ticks_covering_the_counts() -> None:
    assert ticks(60) == [0, 20, 40, 60]
    assert ticks(84) == [0, 50, 100]
    assert ticks(7, most=2) == [0, 5, 10]
    assert ticks(0) == [0, 1]
    assert ticks(1234) == [0, 500, 1000, 1500]
    root = _tree(svg(_series([12, 84, 40]), "s"))
    labels = [t.text for t in root.findall("s:text", NS)]
    assert labels[:3] == ["0", "50", "100"]


def test_a_far_threshold_does_not_flatten_the_bars() -> None:
    root = _tree(svg(_series([10, 10, 10], [None, 1e9, 12.0]), "s"))
    counts = [t.text for t in root.findall("s:text", NS) if t.text and t.text.isdigit()]
    assert max(int(c) for c in counts) <= 20  # the scale stops at twice the peak


def test_a_few_week_labels_first_and_last_included() -> None:
    points = _series(list(range(52)))
    labels = [
        t.text for t in _tree(svg(points, "s")).findall("s:text", NS) if t.text and "-W" in t.text
    ]
    assert 3 <= len(labels) <= 6
    assert labels[0] == "2025-W01"
    assert labels[-1] == points[-1].period
    small = [
        t.text
        for t in _tree(svg(points, "s", small=True)).findall("s:text", NS)
        if t.text and "-W" in t.text
    ]
    assert len(small) == 3


def test_draws_the_last_weeks_only() -> None:
    points = _series([1] * 300)
    assert len(_tree(svg(points, "s")).findall("s:rect", NS)) == MAX_WEEKS
    root = _tree(svg(points, "s", limit=260))
    assert len(root.findall("s:rect", NS)) == 260
    assert points[-1].period in (root.find("s:desc", NS).text or "")  # type: ignore[union-attr]


def test_small_multiples_share_a_scale() -> None:
    root = _tree(svg(_series([1, 2, 3]), "s", small=True, top=400))
    assert "400" in [t.text for t in root.findall("s:text", NS)]


def test_empty_series_and_words_in_another_language() -> None:
    words = Words(
        summary="{weeks} minggu dari {first} sampai {last}; terakhir {latest}; alarm: {alarms}",
        alarm_weeks="Minggu alarm: {periods}",
        empty="Tidak ada minggu yang dilaporkan.",
        week="{period}: {count} kasus",
        threshold="ambang {threshold}",
        alarm="alarm",
    )
    empty = _tree(svg([], "kosong", words=words))
    assert empty.find("s:desc", NS).text == "Tidak ada minggu yang dilaporkan."  # type: ignore[union-attr]
    assert empty.find("s:rect", NS) is None
    text = svg(_series([2, 9], [None, 3.0]), "s", words=words)
    assert "2 minggu dari 2025-W01 sampai 2025-W02" in text
    assert "2025-W02: 9 kasus; ambang 3.0; alarm" in text


def test_ids_differ_between_charts_on_one_page() -> None:
    one = svg(_series([1, 2]), "Jakarta")
    two = svg(_series([1, 2]), "Bandung")
    ids = re.findall(r'id="([^"]+)"', one) + re.findall(r'id="([^"]+)"', two)
    assert len(ids) == len(set(ids)) == 4
