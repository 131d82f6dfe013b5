"""The JSON shapes of reports, series, points and signals that the API and the CLI
both give, and the plain `period,count` CSV both read."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from jembatan.errors import InvalidInput
from jembatan.health import codes, detect, services


def point_doc(point: detect.Point) -> dict[str, Any]:
    return {
        "period": point.period,
        "count": point.count,
        "threshold": None if point.threshold is None else round(point.threshold, 6),
        "alarm": point.alarm,
    }


def read_series_csv(data: bytes) -> tuple[list[str], list[int]]:
    """The `period` and `count` columns of a CSV (other columns are ignored)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text") from None
    rows = csv.DictReader(io.StringIO(text))
    if not rows.fieldnames or not {"period", "count"} <= set(rows.fieldnames):
        raise InvalidInput("the CSV needs a header with the columns 'period' and 'count'")
    periods, counts = [], []
    for line, row in enumerate(rows, start=2):
        try:
            counts.append(int((row["count"] or "").strip()))
        except ValueError:
            raise InvalidInput(
                "line {line}, column count: {value!r} is not a whole number",
                line=line,
                value=row["count"],
            ) from None
        periods.append((row["period"] or "").strip())
    if not periods:
        raise InvalidInput("the CSV holds no rows")
    return periods, counts


def report_doc(report: Any) -> dict[str, Any]:
    return {
        "id": report.id,
        "member": report.member,
        "source": report.source,
        "format": report.format,
        "filename": report.filename,
        "sha256": report.sha256,
        "classification": report.classification,
        "observations": report.observations,
        "changed": report.changed,
        "message_id": report.message_id,
        "agreement_id": report.agreement_id,
        "created_at": report.created_at,
        "problems": json.loads(report.problems) if report.problems else None,
    }


def series_doc(info: services.SeriesInfo) -> dict[str, Any]:
    return {
        "member": info.key.member,
        "disease": info.key.disease,
        "disease_name": codes.disease_name(info.key.disease),
        "area": info.key.area,
        "area_name": codes.area_name(info.key.area),
        "first": info.first,
        "last": info.last,
        "weeks": info.weeks,
        "latest": info.latest,
    }


def signal_doc(signal: Any) -> dict[str, Any]:
    return {
        "id": signal.id,
        "member": signal.member,
        "disease": signal.disease,
        "area": signal.area,
        "period": signal.period,
        "method": signal.method,
        "count": signal.count,
        "threshold": signal.threshold,
        "score": signal.score,
        "status": signal.status,
        "note": signal.note,
        "reviewed_by": signal.reviewed_by,
        "reviewed_at": signal.reviewed_at,
        "sent": services.sent_to(signal),
        "message_id": signal.message_id,
    }
