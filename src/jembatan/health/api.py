"""Surveillance over HTTP: reports in, series out, detection, sharing, and the signal
queue (`/api/v1/health/...`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from jembatan.errors import InvalidInput
from jembatan.exchange.envelope import cleared_labels
from jembatan.health import detect, services
from jembatan.health.documents import point_doc, read_series_csv, report_doc, series_doc, signal_doc
from jembatan.ledger.entries import user_actor
from jembatan.web.security import ApiCaller, node_of, require_scope

router = APIRouter(prefix="/api/v1/health", tags=["health"])
Reader = Annotated[ApiCaller, Depends(require_scope("health:read"))]
Writer = Annotated[ApiCaller, Depends(require_scope("health:write"))]
MAX_UPLOAD = 50 * 1024 * 1024


def _labels(caller: ApiCaller) -> tuple[str, ...]:
    return cleared_labels(str(caller.user.clearance))


async def _body(request: Request) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_UPLOAD:
            raise InvalidInput("the file is larger than {n} bytes", n=MAX_UPLOAD)
    return bytes(data)


@router.post("/reports", status_code=201, summary="Import a file of our own weekly counts")
async def import_report(
    request: Request,
    caller: Writer,
    classification: Annotated[str, Query()] = "TLP:AMBER",
    filename: Annotated[str | None, Query(max_length=255)] = None,
) -> dict[str, Any]:
    """The body is a FHIR R4 MeasureReport or Bundle (`application/fhir+json`) or CSV
    (`text/csv`). A bad file gets 422 with `problems`: every problem and its location."""
    node = node_of(request)
    data = await _body(request)
    kind = request.headers.get("content-type", "")
    report = await run_in_threadpool(
        services.import_report,
        node,
        data,
        filename or ("report.csv" if "csv" in kind else "report.json"),
        classification,
        user_actor(node.member_id, caller.user.username),
        caller.user.id,
    )
    return report_doc(report)


@router.get("/reports", summary="Reports held: imported here and received from partners")
def list_reports(request: Request, caller: Reader) -> list[dict[str, Any]]:
    node = node_of(request)
    services.ingest(node)
    labels = _labels(caller)
    return [report_doc(r) for r in services.reports_held(node) if r.classification in labels]


@router.get("/series", summary="Series held, or one series week by week")
def get_series(
    request: Request,
    caller: Reader,
    member: str | None = None,
    disease: str | None = None,
    area: str | None = None,
    method: str | None = None,
    alpha: float | None = None,
) -> list[dict[str, Any]]:
    """Without `disease` and `area`: every series (ours and partners'). With them: one
    series (`member` defaults to ours), with thresholds and alarms when `method` is given."""
    node = node_of(request)
    services.ingest(node)
    labels = _labels(caller)
    if not (disease and area):
        return [series_doc(i) for i in services.catalogue(node, labels)]
    key = services.SeriesKey(member or node.member_id, disease, area)
    rows = services.series(node, key, labels)
    points = (
        {p.period: p for p in services.analyse(node, key, method, alpha, labels=labels)}
        if method
        else {}
    )
    out = []
    for w in rows:
        doc: dict[str, Any] = {"period": w.period, "count": w.count, "population": w.population}
        if w.period in points:
            doc.update(point_doc(points[w.period]))
        out.append(doc)
    return out


class Series(BaseModel):
    periods: list[str] = Field(min_length=1, max_length=5000, description="ISO weeks, in order")
    counts: list[int] = Field(min_length=1, max_length=5000)
    method: str = Field(default="ears-c1", description="ears-c1, ears-c2, ears-c3, farrington")
    alpha: float | None = None


@router.post("/detect", summary="Run a detection method over a series given in the body")
async def run_method(request: Request, caller: Reader) -> list[dict[str, Any]]:
    """JSON (`Series`), or CSV with the columns `period` and `count` and the method and
    alpha as query parameters."""
    kind = request.headers.get("content-type", "")
    data = await _body(request)
    if "csv" in kind:
        periods, counts = read_series_csv(data)
        method = request.query_params.get("method", "ears-c1")
        raw_alpha = request.query_params.get("alpha")
        try:
            alpha = float(raw_alpha) if raw_alpha else None
        except ValueError:
            raise InvalidInput("alpha must be a number") from None
    else:
        try:
            body = Series.model_validate_json(data)
        except ValueError as exc:
            raise InvalidInput("body: {reason}", reason=str(exc).splitlines()[0]) from None
        periods, counts, method, alpha = body.periods, body.counts, body.method, body.alpha
    if len(periods) != len(counts):
        raise InvalidInput("periods and counts must be of the same length")
    points = await run_in_threadpool(detect.detect, periods, counts, method, alpha)
    return [point_doc(p) for p in points]


class Share(BaseModel):
    to: list[str] = Field(min_length=1, max_length=50, description="Partner member ids")
    disease: str | None = None
    first: str | None = Field(default=None, alias="from", description="First ISO week")
    last: str | None = Field(default=None, alias="until", description="Last ISO week")
    classification: str = "TLP:AMBER"
    agreement: str | None = None


@router.post("/share", status_code=201, summary="Send our counts to partners, under agreement")
def share(request: Request, caller: Writer, body: Share) -> list[dict[str, Any]]:
    node = node_of(request)
    sent = services.share(
        node,
        body.to,
        body.disease,
        body.first,
        body.last,
        body.classification,
        body.agreement,
        caller.user.id,
    )
    return [{"id": m.id, "to": m.recipients, "agreement": m.agreement_id} for m in sent]


@router.post("/detection-runs", summary="Check our own series now; alarms become signals")
def detection_run(
    request: Request, caller: Writer, method: str | None = None
) -> list[dict[str, Any]]:
    node = node_of(request)
    services.ingest(node)
    return [signal_doc(s) for s in services.run_detection(node, method)]


@router.get("/signals", summary="The signal queue")
def list_signals(
    request: Request, caller: Reader, status: str | None = None
) -> list[dict[str, Any]]:
    node = node_of(request)
    services.ingest(node)
    return [signal_doc(s) for s in services.signals(node, status)]


@router.get("/signals/{signal_id}", summary="One signal")
def get_signal(request: Request, caller: Reader, signal_id: str) -> dict[str, Any]:
    return signal_doc(services.get_signal(node_of(request), signal_id))


class Review(BaseModel):
    decision: str = Field(description="confirm or dismiss")
    note: str = Field(default="", max_length=4000)


@router.post("/signals/{signal_id}/review", summary="Confirm (and tell partners) or dismiss")
def review(request: Request, caller: Writer, signal_id: str, body: Review) -> dict[str, Any]:
    node = node_of(request)
    signal = services.review(
        node,
        signal_id,
        body.decision,
        body.note,
        user_actor(node.member_id, caller.user.username),
        caller.user.id,
    )
    return signal_doc(signal)


@router.post("/cases", status_code=201, summary="Send case-level data for contact tracing")
async def send_cases(
    request: Request,
    caller: Writer,
    to: Annotated[str, Query(description="The partner member id")],
    agreement: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """A FHIR R4 Bundle of Patient and Condition resources; it goes only under an
    agreement whose field rules pseudonymise the patients' identifiers."""
    node = node_of(request)
    data = await _body(request)
    message = await run_in_threadpool(
        services.send_cases, node, data, to, agreement, caller.user.id
    )
    return {"id": message.id, "to": to, "agreement": message.agreement_id}
