"""Errors as RFC 9457 problem details (application/problem+json), or an HTML page."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from jembatan.errors import JembatanError, NotFound
from jembatan.logs import get_logger
from jembatan.web import i18n
from jembatan.web.i18n import N_

PROBLEM_TYPE_BASE = "https://jembatan.dev/problems/"
_MACHINE_PREFIXES = (
    "/api/",
    "/fed/",
    "/registry/v1/",
    "/r1/",
    "/.well-known/",
    "/healthz",
    "/readyz",
)
log = get_logger("jembatan.web")


class LoginRequired(Exception):
    """Raised by portal dependencies: the browser is sent to the login page."""

    def __init__(self, next_url: str, to: str = "/login") -> None:
        self.next_url = next_url
        self.to = to


def wants_html(request: Request) -> bool:
    if request.url.path.startswith(_MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def problem(
    request: Request, status: int, title: str, detail: str, slug: str, **extra: Any
) -> Response:
    body = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
        **extra,
    }
    if wants_html(request) and hasattr(request.app.state, "pages"):
        page: Response = request.app.state.pages.render(
            request, "error.html", status=status, problem=body
        )
        return page
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


_STATUS_TITLES = {
    400: (N_("Bad request"), "bad-request"),
    401: (N_("Authentication required"), "unauthenticated"),
    403: (N_("Forbidden"), "forbidden"),
    404: (N_("Not found"), "not-found"),
    405: (N_("Method not allowed"), "method-not-allowed"),
    413: (N_("Content too large"), "too-large"),
    415: (N_("Unsupported media type"), "unsupported-media-type"),
    429: (N_("Too many requests"), "too-many-attempts"),
}


def install(app: FastAPI) -> None:
    @app.exception_handler(JembatanError)
    async def _domain(request: Request, exc: JembatanError) -> Response:
        return _domain_problem(request, exc)

    def _domain_problem(request: Request, exc: JembatanError) -> Response:
        lang = getattr(request.state, "lang", i18n.DEFAULT)
        detail = i18n.error_text(exc, lang) if wants_html(request) else exc.detail
        response = problem(request, exc.status, exc.title, detail, exc.slug, **exc.extra)
        if exc.status == 401 and not wants_html(request):
            response.headers["WWW-Authenticate"] = 'Bearer realm="jembatan"'
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"location": "?", "message": "invalid"}
        detail = f"{first['location']}: {first['message']}"
        return problem(request, 422, "Invalid input", detail, "invalid-input", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and exc.detail == "Not Found":
            return _domain_problem(request, NotFound("nothing here: {path}", path=request.url.path))
        title, slug = _STATUS_TITLES.get(exc.status_code, ("Error", "error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        response = problem(request, exc.status_code, title, detail, slug)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        from urllib.parse import quote

        target = exc.to if exc.to != "/login" else f"/login?next={quote(exc.next_url, safe='/')}"
        return Response(status_code=303, headers={"Location": target})
