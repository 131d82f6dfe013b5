"""Portal pages of surveillance: the dashboard of series with thresholds and alarms, one
series week by week with its versions, the regional comparison, the signal queue with
review, imports with their problem report, and sharing with partners."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from jembatan.accounts.roles import allows
from jembatan.errors import Forbidden, InvalidInput, JembatanError
from jembatan.exchange.envelope import TLP, cleared_labels
from jembatan.health import chart, codes, detect, reports, services, weeks
from jembatan.ledger.entries import user_actor
from jembatan.web.pages import Pages, error_text, redirect
from jembatan.web.security import PortalUser, csrf_protect, node_of, portal_user

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
Official = Annotated[PortalUser, Depends(portal_user)]
READ, WRITE = "health:read", "health:write"
BOARD_WEEKS = 52  # drawn per series on the dashboard
BOARD_CHECKED = 8  # of which the latest get thresholds (Farrington fits a model per week)
BOARD_SERIES = 24  # charts on one dashboard page
STATUSES = ("open", "confirmed", "dismissed", "received")


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def _may(who: PortalUser, permission: str) -> tuple[str, ...]:
    if not allows(who.user.role, permission):
        raise Forbidden("your role may not do this")
    return cleared_labels(str(who.user.clearance))


def _title(key: services.SeriesKey) -> str:
    return (
        f"{codes.disease_name(key.disease)}, {codes.area_name(key.area)} ({key.area}), {key.member}"
    )


def _drawn(
    node: Any,
    key: services.SeriesKey,
    labels: tuple[str, ...],
    shown: int,
    method: str,
    checked: int | None = None,
) -> list[detect.Point]:
    points = services.analyse(node, key, method, recent=checked or shown, labels=labels)
    return points[-shown:]


@router.get("/health", response_class=HTMLResponse)
def dashboard(request: Request, who: Official, disease: str = "", page: int = 1) -> Response:
    labels = _may(who, READ)
    node = node_of(request)
    services.ingest(node)
    held = services.catalogue(node, labels)
    diseases = sorted({i.key.disease for i in held})
    chosen = [i for i in held if not disease or i.key.disease == disease]
    page = max(1, page)
    shown = chosen[(page - 1) * BOARD_SERIES : page * BOARD_SERIES]
    method = node.settings.health_method
    cards = []
    for info in shown:
        try:
            points = _drawn(node, info.key, labels, BOARD_WEEKS, method, BOARD_CHECKED)
        except JembatanError:
            points = []
        cards.append(
            {
                "info": info,
                "title": _title(info.key),
                "area_name": codes.area_name(info.key.area),
                "svg": chart.svg(points, _title(info.key), small=True),
                "alarms": sum(p.alarm for p in points),
            }
        )
    return _pages(request).render(
        request,
        "health/dashboard.html",
        cards=cards,
        diseases=[(d, codes.disease_name(d)) for d in diseases],
        disease=disease,
        page=page,
        more=len(chosen) > page * BOARD_SERIES,
        method=method,
        checked=BOARD_CHECKED,
        open_signals=len(services.signals(node, "open")),
        may_write=allows(who.user.role, WRITE),
    )


@router.get("/health/series", response_class=HTMLResponse)
def series_page(
    request: Request,
    who: Official,
    member: str,
    disease: str,
    area: str,
    method: str = "",
    weeks_shown: Annotated[int, Query(alias="weeks")] = 104,
    period: str = "",
) -> Response:
    labels = _may(who, READ)
    node = node_of(request)
    key = services.SeriesKey(member, disease, area)
    method = method if method in detect.METHODS else node.settings.health_method
    shown = weeks_shown if weeks_shown in (52, 104, 260) else 104
    points = _drawn(node, key, labels, shown, method)
    if not points:
        raise InvalidInput("no series {d} in {a} from {m}", d=disease, a=area, m=member)
    versions = services.history(node, key, period) if period else []
    versions = [(c, r) for c, r in versions if r.classification in labels]
    return _pages(request).render(
        request,
        "health/series.html",
        key=key,
        title=_title(key),
        svg=chart.svg(points, _title(key)),
        points=list(reversed(points)),
        method=method,
        methods=detect.METHODS,
        shown=shown,
        period=period,
        versions=versions,
    )


@router.get("/health/regional", response_class=HTMLResponse)
def regional(
    request: Request, who: Official, disease: str = "A90", weeks_shown: int = 12
) -> Response:
    labels = _may(who, READ)
    node = node_of(request)
    services.ingest(node)
    shown = min(max(weeks_shown, 4), 52)
    held = [i for i in services.catalogue(node, labels) if i.key.disease == disease]
    last = max((i.last for i in held), default=None)
    periods = weeks.span(weeks.shift(last, 1 - shown), last) if last else []
    rows = []
    for info in held:
        by_week = {
            w.period: w for w in services.series(node, info.key, labels) if w.period in periods
        }
        cells = []
        for p in periods:
            w = by_week.get(p)
            rate = (
                round(w.count / w.population * 100_000, 1)
                if w is not None and w.population
                else None
            )
            cells.append({"count": w.count if w else None, "rate": rate})
        rows.append({"info": info, "area_name": codes.area_name(info.key.area), "cells": cells})
    return _pages(request).render(
        request,
        "health/regional.html",
        rows=rows,
        periods=periods,
        disease=disease,
        disease_name=codes.disease_name(disease),
        may_write=allows(who.user.role, WRITE),
        diseases=sorted(
            {
                (i.key.disease, codes.disease_name(i.key.disease))
                for i in services.catalogue(node, labels)
            }
        ),
        shown=shown,
    )


@router.get("/health/signals", response_class=HTMLResponse)
def signal_queue(request: Request, who: Official, status: str = "open") -> Response:
    _may(who, READ)
    node = node_of(request)
    services.ingest(node)
    status = status if status in STATUSES else "open"
    items = [
        {
            "signal": s,
            "disease_name": codes.disease_name(s.disease),
            "area_name": codes.area_name(s.area),
            "sent": services.sent_to(s),
        }
        for s in services.signals(node, status)
    ]
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
    _may(who, WRITE)
    node = node_of(request)
    services.review(
        node,
        signal_id,
        decision,
        note,
        user_actor(node.member_id, who.user.username),
        who.user.id,
    )
    return redirect(
        f"/health/signals?status={'confirmed' if decision == 'confirm' else 'dismissed'}", "saved"
    )


@router.post("/health/run")
def run_now(request: Request, who: Official) -> Response:
    _may(who, WRITE)
    node = node_of(request)
    services.ingest(node)
    services.run_detection(node)
    return redirect("/health/signals", "saved")


@router.get("/health/import", response_class=HTMLResponse)
def import_form(request: Request, who: Official) -> Response:
    _may(who, WRITE)
    return _pages(request).render(request, "health/import.html", labels=TLP, problems=[], error="")


@router.post("/health/import", response_class=HTMLResponse)
async def import_file(
    request: Request,
    who: Official,
    file: UploadFile,
    classification: Annotated[str, Form()] = "TLP:AMBER",
) -> Response:
    _may(who, WRITE)
    node = node_of(request)
    data = await file.read(reports.MAX_BYTES + 1)
    try:
        report = services.import_report(
            node,
            data,
            file.filename or "upload",
            classification,
            user_actor(node.member_id, who.user.username),
            who.user.id,
        )
    except reports.ReportInvalid as exc:
        return _pages(request).render(
            request,
            "health/import.html",
            status=422,
            labels=TLP,
            problems=exc.problems,
            error=error_text(request, exc),
        )
    except JembatanError as exc:
        return _pages(request).render(
            request,
            "health/import.html",
            status=exc.status,
            labels=TLP,
            problems=[],
            error=error_text(request, exc),
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


@router.get("/health/reports/{report_id}", response_class=HTMLResponse)
def report_detail(request: Request, who: Official, report_id: str) -> Response:
    labels = _may(who, READ)
    report = services.get_report(node_of(request), report_id)
    if report.classification not in labels:
        raise Forbidden("your clearance is below this report's classification")
    problems = json.loads(report.problems) if report.problems else []
    return _pages(request).render(request, "health/report.html", report=report, problems=problems)


@router.get("/health/share", response_class=HTMLResponse)
def share_form(request: Request, who: Official) -> Response:
    _may(who, WRITE)
    return _share_form(request)


def _share_form(
    request: Request, status: int = 200, error: str = "", form: dict[str, Any] | None = None
) -> Response:
    node = node_of(request)
    own = sorted(
        {i.key.disease for i in services.catalogue(node) if i.key.member == node.member_id}
    )
    return _pages(request).render(
        request,
        "health/share.html",
        status=status,
        error=error,
        partners=services.partners(node),
        diseases=[(d, codes.disease_name(d)) for d in own],
        labels=TLP,
        form=form or {},
    )


@router.post("/health/share")
def share(
    request: Request,
    who: Official,
    to: Annotated[list[str] | None, Form()] = None,
    disease: Annotated[str, Form()] = "",
    first: Annotated[str, Form(max_length=8)] = "",
    last: Annotated[str, Form(max_length=8)] = "",
    classification: Annotated[str, Form()] = "TLP:AMBER",
) -> Response:
    _may(who, WRITE)
    node = node_of(request)
    try:
        services.share(
            node,
            to or [],
            disease or None,
            first or None,
            last or None,
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
        return _share_form(request, exc.status, error_text(request, exc), form)
    return redirect("/outbox", "sent")
