"""Liveness, readiness and metrics for operators and orchestrators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import jembatan
from jembatan.errors import JembatanError
from jembatan.ledger import services as ledger_services
from jembatan.ledger import witness
from jembatan.registry import membership
from jembatan.store import migrations
from jembatan.store.db import check_reachable
from jembatan.web.security import node_of

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "alive", "version": jembatan.__version__}


def readiness(request: Request) -> tuple[bool, dict[str, Any]]:
    node = node_of(request)
    checks: dict[str, Any] = {}
    try:
        check_reachable(node.engine)
        checks["database"] = {"ok": True, "backend": node.engine.dialect.name}
    except JembatanError as exc:
        checks["database"] = {"ok": False, "error": exc.detail}
    if checks["database"]["ok"]:
        current, head = migrations.current(node.engine), migrations.head()
        checks["migrations"] = {"ok": current == head, "current": current, "expected": head}
    else:
        checks["migrations"] = {"ok": False, "error": "database unreachable"}
    if checks["migrations"]["ok"]:
        checks["directory"] = membership.directory_status(node)
    return all(c["ok"] for c in checks.values()), checks


@router.get("/readyz", summary="The node can serve: database reachable, schema current")
def readyz(request: Request) -> JSONResponse:
    ok, checks = readiness(request)
    if ok:
        return JSONResponse({"status": "ready", "checks": checks})
    failed = ", ".join(name for name, c in checks.items() if not c["ok"])
    return JSONResponse(
        {
            "type": "https://jembatan.dev/problems/not-ready",
            "title": "Not ready",
            "status": 503,
            "detail": f"failing checks: {failed}",
            "checks": checks,
        },
        status_code=503,
        media_type="application/problem+json",
    )


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    state = request.app.state.metrics
    node = node_of(request)
    stats = ledger_services.stats(node)
    state.ledger_entries.set(stats["entries"])
    state.ledger_checkpoint.set(stats["checkpoint"])
    state.ledger_alerts.set(witness.alert_count(node))
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
