"""Portal pages of surveillance: the dashboard of series with thresholds and alarms, one
series week by week with its versions, the regional comparison, the signal queue with
review, imports with their problem report, and sharing with partners.

Everyone reads only counts (and signals) up to their clearance."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from itertools import groupby
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from jembatan.accounts.roles import allows
from jembatan.errors import Forbidden, JembatanError, NotFound
from jembatan.exchange import services as exchange
from jembatan.exchange.envelope import cleared_labels
from jembatan.health import chart, codes, detect, reports, services, weeks
from jembatan.health.models import Count, Signal
from jembatan.ledger.entries import user_actor
from jembatan.node.context import Node
from jembatan.web import i18n
from jembatan.web.i18n import N_
from jembatan.web.pages import Pages, error_text, redirect
from jembatan.web.security import PortalUser, csrf_protect, node_of, pick_language, portal_user

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
Official = Annotated[PortalUser, Depends(portal_user)]
READ, WRITE = "health:read", "health:write"
BOARD_WEEKS = 52  # drawn per series on the dashboard
BOARD_SERIES = 24  # charts on one dashboard page
# Farrington fits a model for each week it evaluates (about 10 ms): a dashboard page
# evaluates at most this many weeks in all, so a cold page stays within a few seconds.
BOARD_FITS = 320
SERIES_WEEKS = (52, 104, 260)
REGIONAL_WEEKS = (8, 13, 26, 52)
STATUSES = ("open", "confirmed", "dismissed", "received")
REPORT_COUNTS = 1000  # rows of a report's counts listed on its page
QUEUED_SHOWN = 50


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def _may(who: PortalUser, permission: str) -> tuple[str, ...]:
    """Refuse a role without `permission`; the labels this person may read."""
    if not allows(who.user.role, permission):
        raise Forbidden("your role may not do this")
    return cleared_labels(str(who.user.clearance))


def _title(key: services.SeriesKey) -> str:
    return (
        f"{codes.disease_name(key.disease)}, {codes.area_name(key.area)} ({key.area}), {key.member}"
    )


def _words(request: Request) -> chart.Words:
    """The chart's text in the reader's language."""
    gettext = i18n.translations(pick_language(request)).gettext
    return chart.Words(
        summary=gettext(
            N_("{weeks} weeks from {first} to {last}; latest count {latest}; alarms: {alarms}")
        ),
        alarm_weeks=gettext(N_("Alarm weeks: {periods}")),
        empty=gettext(N_("No weeks reported.")),
        week=gettext(N_("{period}: {count} cases")),
        threshold=gettext(N_("threshold {threshold}")),
        alarm=gettext(N_("alarm")),
    )


def _checked(method: str, shown: int, charts: int) -> int:
    """Weeks evaluated per chart: every drawn week, within Farrington's budget."""
    if method != "farrington":
        return shown
    return max(4, min(shown, BOARD_FITS // max(charts, 1)))


def _points(
    node: Node,
    key: services.SeriesKey,
    labels: Collection[str],
    shown: int,
    method: str,
    checked: int | None = None,
) -> list[detect.Point]:
    """The last `shown` weeks, of which the last `checked` (default: all) evaluated."""
    points = services.analyse(node, key, method, recent=checked or shown, labels=labels)
    return points[-shown:]


def _plain(node: Node, key: services.SeriesKey, labels: Collection[str]) -> list[detect.Point]:
    """The weeks without detection, as when the method refuses the series."""
    periods, counts = services.filled(services.series(node, key, labels))
    return [detect.Point(p, c, None, False) for p, c in zip(periods, counts, strict=True)]


def _series_url(key: services.SeriesKey, **more: object) -> str:
    query = {"member": key.member, "disease": key.disease, "area": key.area, **more}
    return "/health/series?" + urlencode(query)


def _visible_signals(node: Node, found: Iterable[Signal], labels: Collection[str]) -> list[Signal]:
    """Signals this person may see: ours where they may read that week's count, a
    partner's where they may read the message it came in."""
    out = []
    weeks_seen: dict[services.SeriesKey, set[str]] = {}
    for signal in found:
        if signal.message_id:
            try:
                message, _ = exchange.get_message(node, signal.message_id)
            except JembatanError:
                continue
            if message.classification in labels:
                out.append(signal)
            continue
        key = services.SeriesKey(signal.member, signal.disease, signal.area)
        if key not in weeks_seen:
            weeks_seen[key] = {w.period for w in services.series(node, key, labels)}
        if signal.period in weeks_seen[key]:
            out.append(signal)
    return out


# The dashboard ------------------------------------------------------------------------


@router.get("/health", response_class=HTMLResponse)
def dashboard(request: Request, who: Official, disease: str = "", page: int = 1) -> Response:
    labels = _may(who, READ)
    node = node_of(request)
    services.ingest(node)
    held = services.catalogue(node, labels)
    diseases = sorted({i.key.disease for i in held})
    own = node.member_id
    chosen = sorted(
        (i for i in held if not disease or i.key.disease == disease),
        key=lambda i: (i.key.disease, i.key.member != own, i.key.member, i.key.area),
    )
    pages_count = max(1, -(-len(chosen) // BOARD_SERIES))
    page = min(max(1, page), pages_count)
    shown = chosen[(page - 1) * BOARD_SERIES : page * BOARD_SERIES]
    method = node.settings.health_method
    checked = _checked(method, BOARD_WEEKS, len(shown))
    words = _words(request)
    groups = []
    for code, infos in groupby(shown, key=lambda i: i.key.disease):
        cards = []
        for info in infos:
            try:
                points = _points(node, info.key, labels, BOARD_WEEKS, method, checked)
            except JembatanError:
                points = _plain(node, info.key, labels)[-BOARD_WEEKS:]
            cards.append(
                {
                    "info": info,
                    "own": info.key.member == own,
                    "area_name": codes.area_name(info.key.area),
                    "url": _series_url(info.key),
                    "svg": chart.svg(points, _title(info.key), words=words, small=True),
                    "alarms": sum(p.alarm for p in points),
                }
            )
        groups.append({"code": code, "name": codes.disease_name(code), "cards": cards})
    return _pages(request).render(
        request,
        "health/dashboard.html",
        groups=groups,
        diseases=[(d, codes.disease_name(d)) for d in diseases],
        disease=disease,
        page=page,
        pages_count=pages_count,
        total=len(chosen),
        method=method,
        drawn=BOARD_WEEKS,
        checked=checked,
        open_signals=len(_visible_signals(node, services.signals(node, "open"), labels)),
        may_write=allows(who.user.role, WRITE),
    )


# One series ---------------------------------------------------------------------------


@router.get("/health/series", response_class=HTMLResponse)
def series_page(
    request: Request,
    who: Official,
    member: Annotated[str, Query(max_length=800)],
    disease: Annotated[str, Query(max_length=16)],
    area: Annotated[str, Query(max_length=16)],
    method: str = "",
    weeks_shown: Annotated[int, Query(alias="weeks")] = 104,
    period: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    labels = _may(who, READ)
    node = node_of(request)
    key = services.SeriesKey(member, disease, area)
    method = method if method in detect.METHODS else node.settings.health_method
    shown = weeks_shown if weeks_shown in SERIES_WEEKS else 104
    error = ""
    try:
        points = _points(node, key, labels, shown, method)
    except JembatanError as exc:
        points, error = _plain(node, key, labels)[-shown:], error_text(request, exc)
    if not points:
        raise NotFound("no series of {d} in {a} from {m}", d=disease, a=area, m=member)
    versions = [
        (c, r)
        for c, r in (services.history(node, key, period) if period else [])
        if r.classification in labels
    ]
    return _pages(request).render(
        request,
        "health/series.html",
        key=key,
        title=_title(key),
        own=key.member == node.member_id,
        svg=chart.svg(points, _title(key), words=_words(request), limit=shown),
        points=list(reversed(points)),
        alarms=sum(p.alarm for p in points),
        method=method,
        methods=detect.METHODS,
        shown=shown,
        choices=SERIES_WEEKS,
        period=period,
        versions=versions,
        error=error,
        url=_series_url(key, method=method, weeks=shown),
    )


# Regional comparison ------------------------------------------------------------------


@router.get("/health/regional", response_class=HTMLResponse)
def regional(
    request: Request,
    who: Official,
    disease: Annotated[str, Query(max_length=16)] = "A90",
    weeks_shown: Annotated[int, Query(alias="weeks")] = 26,
) -> Response:
    labels = _may(who, READ)
    node = node_of(request)
    services.ingest(node)
    shown = weeks_shown if weeks_shown in REGIONAL_WEEKS else 26
    catalogue = services.catalogue(node, labels)
    held = [i for i in catalogue if i.key.disease == disease]
    last = max((i.last for i in held), default=None)
    periods = weeks.span(weeks.shift(last, 1 - shown), last) if last else []
    rows: list[dict[str, Any]] = []
    drawn: list[list[detect.Point]] = []
    for info in held:
        by_week = {w.period: w for w in services.series(node, info.key, labels)}
        cells, points = [], []
        for p in periods:
            w = by_week.get(p)
            rate = round(w.count / w.population * 100_000, 1) if w and w.population else None
            cells.append({"count": w.count if w else None, "rate": rate})
            points.append(detect.Point(p, w.count if w else 0, None, False))
        drawn.append(points)
        rows.append(
            {
                "info": info,
                "own": info.key.member == node.member_id,
                "area_name": codes.area_name(info.key.area),
                "url": _series_url(info.key),
                "cells": cells,
            }
        )
    # Small multiples on one scale, so the areas compare at a glance.
    top = max((p.count for points in drawn for p in points), default=0)
    words = _words(request)
    for row, info, points in zip(rows, held, drawn, strict=True):
        row["svg"] = chart.svg(points, _title(info.key), words=words, small=True, top=top)
    return _pages(request).render(
        request,
        "health/regional.html",
        rows=rows,
        periods=periods,
        disease=disease,
        disease_name=codes.disease_name(disease),
        diseases=sorted({(i.key.disease, codes.disease_name(i.key.disease)) for i in catalogue}),
        shown=shown,
        choices=REGIONAL_WEEKS,
        may_write=allows(who.user.role, WRITE),
    )


# Signals ------------------------------------------------------------------------------


@router.get("/health/signals", response_class=HTMLResponse)
def signal_queue(request: Request, who: Official, status: str = "open") -> Response:
    labels = _may(who, READ)
    node = node_of(request)
    services.ingest(node)
    status = status if status in STATUSES else "open"
    items = []
    for s in _visible_signals(node, services.signals(node, status), labels):
        key = services.SeriesKey(s.member, s.disease, s.area)
        items.append(
            {
                "signal": s,
                "disease_name": codes.disease_name(s.disease),
                "area_name": codes.area_name(s.area),
                "sent": sorted(services.sent_to(s).items()),
                "url": _series_url(key, method=s.method, period=s.period),
            }
        )
    return _pages(request).render(
        request,
        "health/signals.html",
        items=items,
        chosen=status,
        statuses=STATUSES,
        node_member=node.member_id,
        may_write=allows(who.user.role, WRITE),
    )


@router.post("/health/signals/{signal_id}/review")
def review(
    request: Request,
    who: Official,
    signal_id: str,
    decision: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    labels = _may(who, WRITE)
    node = node_of(request)
    if not _visible_signals(node, [services.get_signal(node, signal_id)], labels):
        raise Forbidden("your clearance is below the counts of this signal")
    signal = services.review(
        node,
        signal_id,
        decision,
        note,
        user_actor(node.member_id, who.user.username),
        who.user.id,
    )
    return redirect(f"/health/signals?status={signal.status}", "saved")


@router.post("/health/run")
def run_now(request: Request, who: Official) -> Response:
    _may(who, WRITE)
    node = node_of(request)
    services.ingest(node)
    services.run_detection(node)
    return redirect("/health/signals", "saved")


# Reports ------------------------------------------------------------------------------


def _import_form(
    request: Request,
    labels: Collection[str],
    status: int = 200,
    error: str = "",
    problems: list[reports.Problem] | None = None,
    classification: str = "TLP:AMBER",
) -> Response:
    return _pages(request).render(
        request,
        "health/import.html",
        status=status,
        labels=labels,
        chosen=classification,
        problems=problems or [],
        error=error,
    )


@router.get("/health/import", response_class=HTMLResponse)
def import_form(request: Request, who: Official) -> Response:
    labels = _may(who, WRITE)
    return _import_form(request, labels)


@router.post("/health/import", response_class=HTMLResponse)
async def import_file(
    request: Request,
    who: Official,
    file: UploadFile,
    classification: Annotated[str, Form()] = "TLP:AMBER",
) -> Response:
    labels = _may(who, WRITE)
    node = node_of(request)
    data = await file.read(reports.MAX_BYTES + 1)
    try:
        if classification not in labels:
            raise Forbidden(
                "you may not classify counts above your clearance ({clearance})",
                clearance=who.user.clearance,
            )
        # Validating a large FHIR file takes a while: off the event loop.
        report = await run_in_threadpool(
            services.import_report,
            node,
            data,
            file.filename or "upload",
            classification,
            user_actor(node.member_id, who.user.username),
            who.user.id,
        )
    except reports.ReportInvalid as exc:
        return _import_form(
            request, labels, 422, error_text(request, exc), exc.problems, classification
        )
    except JembatanError as exc:
        return _import_form(
            request, labels, exc.status, error_text(request, exc), None, classification
        )
    return redirect(f"/health/reports/{report.id}", "created")


@router.get("/health/reports", response_class=HTMLResponse)
def report_list(request: Request, who: Official) -> Response:
    labels = _may(who, READ)
    node = node_of(request)
    services.ingest(node)
    items = [r for r in services.reports_held(node) if r.classification in labels]
    return _pages(request).render(
        request, "health/reports.html", items=items, may_write=allows(who.user.role, WRITE)
    )


def _counts_of(node: Node, report_id: str) -> list[Count]:
    """The counts a report brought (each a version of its week), in series order."""
    with node.db() as s:
        return list(
            s.scalars(
                select(Count)
                .where(Count.report_id == report_id)
                .order_by(Count.disease, Count.area, Count.period)
                .limit(REPORT_COUNTS)
            )
        )


@router.get("/health/reports/{report_id}", response_class=HTMLResponse)
def report_detail(request: Request, who: Official, report_id: str) -> Response:
    labels = _may(who, READ)
    node = node_of(request)
    report = services.get_report(node, report_id)
    if report.classification not in labels:
        raise Forbidden("your clearance is below this report's classification")
    problems = json.loads(report.problems) if report.problems else []
    counts = [
        {
            "count": c,
            "area_name": codes.area_name(c.area),
            "url": _series_url(services.SeriesKey(c.member, c.disease, c.area), period=c.period),
        }
        for c in _counts_of(node, report.id)
    ]
    return _pages(request).render(
        request,
        "health/report.html",
        report=report,
        problems=problems,
        counts=counts,
        limit=REPORT_COUNTS,
    )


# Sharing ------------------------------------------------------------------------------


def _queued(node: Node, who: PortalUser, ids: Iterable[str]) -> list[Any]:
    """The messages a share just queued (ids from the redirect), as far as this person may
    see them; anything else in the URL is ignored."""
    viewer = exchange.Viewer.of(node, who.user)
    found = []
    for mid in list(ids)[:QUEUED_SHOWN]:
        try:
            message, _ = exchange.get_message(node, mid, viewer)
        except JembatanError:
            continue
        if message.box == "outbox" and message.kind == services.KIND:
            found.append(
                {"message": message, "recipients": ", ".join(json.loads(message.recipients))}
            )
    return found


def _share_form(
    request: Request,
    who: PortalUser,
    labels: Collection[str],
    status: int = 200,
    error: str = "",
    form: dict[str, Any] | None = None,
    queued: list[Any] | None = None,
) -> Response:
    node = node_of(request)
    own = sorted(
        {i.key.disease for i in services.catalogue(node, labels) if i.key.member == node.member_id}
    )
    return _pages(request).render(
        request,
        "health/share.html",
        status=status,
        error=error,
        partners=services.partners(node),
        diseases=[(d, codes.disease_name(d)) for d in own],
        labels=labels,
        form=form or {},
        queued=queued or [],
    )


@router.get("/health/share", response_class=HTMLResponse)
def share_form(
    request: Request, who: Official, queued: Annotated[list[str] | None, Query()] = None
) -> Response:
    labels = _may(who, WRITE)
    return _share_form(request, who, labels, queued=_queued(node_of(request), who, queued or []))


@router.post("/health/share")
def share(
    request: Request,
    who: Official,
    to: Annotated[list[str] | None, Form()] = None,
    disease: Annotated[str, Form(max_length=16)] = "",
    first: Annotated[str, Form(max_length=8)] = "",
    last: Annotated[str, Form(max_length=8)] = "",
    classification: Annotated[str, Form()] = "TLP:AMBER",
) -> Response:
    labels = _may(who, WRITE)
    node = node_of(request)
    try:
        if classification not in labels:
            raise Forbidden(
                "you may not classify counts above your clearance ({clearance})",
                clearance=who.user.clearance,
            )
        sent = services.share(
            node,
            to or [],
            disease or None,
            first.strip() or None,
            last.strip() or None,
            classification,
            user_id=who.user.id,
        )
    except JembatanError as exc:
        form = {
            "to": to or [],
            "disease": disease,
            "first": first,
            "last": last,
            "classification": classification,
        }
        return _share_form(request, who, labels, exc.status, error_text(request, exc), form)
    return redirect("/health/share?" + "&".join(f"queued={m.id}" for m in sent), "sent")
