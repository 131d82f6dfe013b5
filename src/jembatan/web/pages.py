"""Server-rendered pages: one Jinja2 environment over every capability's templates."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

import jembatan
from jembatan.accounts.roles import ROLE_LABELS
from jembatan.accounts.totp import qr_svg
from jembatan.errors import JembatanError
from jembatan.store.schema import utcnow
from jembatan.web import i18n
from jembatan.web.security import apply_cookies, csrf_token, optional_user, pick_language

PACKAGE = Path(__file__).resolve().parent.parent
STATIC = Path(__file__).parent / "static"


def _static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    text = format_datetime(value, "medium", tzinfo=UTC, locale=i18n.language.get())
    return f"{text} UTC"


def _filesize(value: int) -> str:
    return format_decimal(value / 1024 / 1024, "#,##0.0", locale=i18n.language.get()) + " MiB"


class Pages:
    def __init__(self, capabilities: list[str]) -> None:
        folders = [PACKAGE / "web" / "templates"] + [
            PACKAGE / c / "templates" for c in capabilities
        ]
        self.env = Environment(
            loader=FileSystemLoader([str(f) for f in folders if f.is_dir()]),
            autoescape=select_autoescape(["html"]),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.install_gettext_callables(  # type: ignore[attr-defined]
            i18n.gettext, i18n.ngettext, newstyle=True
        )
        self.env.filters.update(when=_when, filesize=_filesize)
        self.env.globals.update(
            qr_svg=qr_svg,
            now=utcnow,
            role_labels=ROLE_LABELS,
            version=jembatan.__version__,
            static_version=_static_version(),
            languages=i18n.LANGUAGES,
        )

    def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        who = optional_user(request)
        lang = pick_language(request)
        token = i18n.language.set(lang)
        try:
            html = self.env.get_template(name).render(
                request=request,
                user=who.user if who else getattr(request.state, "user", None),
                node=request.app.state.node,
                lang=lang,
                csrf=csrf_token(request),
                path=request.url.path,
                notice=NOTICES.get(request.query_params.get("notice", "")),
                **context,
            )
        finally:
            i18n.language.reset(token)
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Language"] = lang
        apply_cookies(request, response)
        return response


# Notices shown after a form post, by key: a URL can pick one but never supply the text.
NOTICES = {
    "saved": i18n.N_("Saved."),
    "created": i18n.N_("Created."),
    "revoked": i18n.N_("Revoked."),
    "password": i18n.N_("Your password has been changed."),
    "two-factor-off": i18n.N_("Two-factor login is now off."),
    "logged-out": i18n.N_("You have logged out."),
    "language": i18n.N_("Language changed."),
    "sent": i18n.N_("Sealed and queued for delivery."),
    "signed": i18n.N_("Signed; the other parties receive your signature."),
}


def error_text(request: Request, exc: JembatanError) -> str:
    return i18n.error_text(exc, getattr(request.state, "lang", i18n.DEFAULT))


def redirect(to: str, notice: str | None = None) -> RedirectResponse:
    """303 See Other after a form post, optionally with one of the NOTICES."""
    if notice:
        assert notice in NOTICES, notice
        to += ("&" if "?" in to else "?") + "notice=" + notice
    return RedirectResponse(to, status_code=303)
