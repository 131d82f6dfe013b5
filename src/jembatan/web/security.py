"""Who is asking: portal sessions (signed cookies) with CSRF, and API bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from jembatan.accounts import sessions, tokens
from jembatan.accounts.models import User, WebSession
from jembatan.accounts.roles import PERMISSIONS, Role
from jembatan.crypto.secretbox import derive_key
from jembatan.errors import Forbidden, Unauthenticated
from jembatan.node.context import Node
from jembatan.web import i18n
from jembatan.web.problems import LoginRequired

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def node_of(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


class CookieJar:
    """Names and signs this node's cookies. Names carry a per-node suffix because browsers
    share cookies between ports of one host, and a local federation runs on one host."""

    def __init__(self, node: Node) -> None:
        suffix = hashlib.sha256(node.settings.base_url.encode()).hexdigest()[:8]
        self.session_name = f"jb_session_{suffix}"
        self.csrf_name = f"jb_csrf_{suffix}"
        self.lang_name = f"jb_lang_{suffix}"
        self._signer = URLSafeTimedSerializer(derive_key(node.secret, "cookies"), salt="cookie")
        self._csrf_key = derive_key(node.secret, "csrf")
        self.max_age = node.settings.session_hours * 3600

    def sign(self, value: str) -> str:
        return self._signer.dumps(value)

    def unsign(self, value: str | None, max_age: int | None = None) -> str | None:
        if not value:
            return None
        try:
            out = self._signer.loads(value, max_age=max_age or self.max_age)
        except BadSignature:
            return None
        return out if isinstance(out, str) else None

    def csrf_for(self, raw: str, session_id: str | None) -> str:
        mac = hmac.new(self._csrf_key, f"{raw}|{session_id or ''}".encode(), "sha256")
        return mac.hexdigest()

    def set(self, request: Request, response: Response, name: str, value: str, age: int) -> None:
        response.set_cookie(
            name,
            self.sign(value),
            max_age=age,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )


def jar(request: Request) -> CookieJar:
    cookie_jar: CookieJar = request.app.state.cookies
    return cookie_jar


@dataclass(frozen=True)
class PortalUser:
    user: User
    session: WebSession


def _session(request: Request) -> tuple[WebSession, User] | None:
    if hasattr(request.state, "portal"):
        cached: tuple[WebSession, User] | None = request.state.portal
        return cached
    raw = jar(request).unsign(request.cookies.get(jar(request).session_name))
    found = sessions.resolve_session(node_of(request), raw) if raw else None
    request.state.portal = found
    if found and found[1].language:
        request.state.lang = found[1].language
    return found


def optional_user(request: Request) -> PortalUser | None:
    found = _session(request)
    if found is None or not found[0].two_factor_done:
        return None
    return PortalUser(found[1], found[0])


def half_logged_in(request: Request) -> PortalUser:
    """A session that passed the password step and waits for the second factor."""
    found = _session(request)
    if found is None:
        raise LoginRequired("/")
    if found[0].two_factor_done:
        raise LoginRequired("/", to="/")
    return PortalUser(found[1], found[0])


def portal_user(request: Request) -> PortalUser:
    """A fully logged-in official; a node that requires 2FA sends the un-enrolled to enrol."""
    found = _session(request)
    if found is None:
        raise LoginRequired(str(request.url.path))
    session, user = found
    if not session.two_factor_done:
        raise LoginRequired("/", to="/login/two-factor")
    enrol = "/profile/two-factor"
    if (
        node_of(request).settings.require_two_factor
        and not user.totp_enabled
        and not request.url.path.startswith(enrol)
    ):
        raise LoginRequired("/", to=enrol)
    request.state.user = user
    return PortalUser(user, session)


def require_role(*roles: Role) -> Callable[[Request], PortalUser]:
    allowed = {r.value for r in roles}

    def dependency(request: Request) -> PortalUser:
        who = portal_user(request)
        if who.user.role not in allowed:
            raise Forbidden("this page is for: {roles}", roles=", ".join(sorted(allowed)))
        return who

    return dependency


# CSRF: a signed random value in a cookie, and in each form an HMAC of it bound to the
# session, compared in constant time.


def csrf_token(request: Request) -> str:
    raw = getattr(request.state, "csrf_raw", None)
    if raw is None:
        raw = jar(request).unsign(request.cookies.get(jar(request).csrf_name), 30 * 24 * 3600)
    if raw is None:
        raw = secrets.token_urlsafe(24)
        request.state.csrf_new = True
    request.state.csrf_raw = raw
    found = _session(request)
    return jar(request).csrf_for(raw, found[0].id if found else None)


def check_csrf(request: Request, submitted: str) -> None:
    raw = jar(request).unsign(request.cookies.get(jar(request).csrf_name), 30 * 24 * 3600)
    found = _session(request)
    if raw is None or not hmac.compare_digest(
        jar(request).csrf_for(raw, found[0].id if found else None), submitted or ""
    ):
        raise Forbidden("the form has expired or did not come from this site; please try again")


async def csrf_protect(request: Request) -> None:
    """Router-wide dependency of every portal router: each unsafe request must carry the
    form's token, so no form can be added without protection."""
    if request.method in SAFE_METHODS:
        return
    form = await request.form()
    submitted = form.get("csrf_token")
    check_csrf(request, submitted if isinstance(submitted, str) else "")


def apply_cookies(request: Request, response: Response) -> None:
    """Set a CSRF cookie made while rendering."""
    if getattr(request.state, "csrf_new", False):
        jar(request).set(
            request, response, jar(request).csrf_name, request.state.csrf_raw, 30 * 86400
        )


def pick_language(request: Request) -> str:
    chosen = getattr(request.state, "lang", None)
    if chosen:
        return str(chosen)
    cookie = jar(request).unsign(request.cookies.get(jar(request).lang_name), 365 * 86400)
    lang = (
        cookie
        if cookie in i18n.LANGUAGES
        else i18n.negotiate(request.headers.get("accept-language"))
    ) or node_of(request).settings.default_language
    request.state.lang = lang
    return lang


# API: bearer tokens for systems; a portal session may read (safe methods only, so no CSRF).


@dataclass(frozen=True)
class ApiCaller:
    user: User
    scopes: frozenset[str]
    via: str  # "token:<id>" or "session"


def require_scope(scope: str) -> Callable[[Request], ApiCaller]:
    def dependency(request: Request) -> ApiCaller:
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            holder = tokens.authenticate_token(node_of(request), header[7:])
            caller = ApiCaller(holder.user, holder.scopes, "token:" + holder.token_id)
        elif request.method in SAFE_METHODS and (who := optional_user(request)) is not None:
            caller = ApiCaller(who.user, PERMISSIONS[Role(who.user.role)], "session")
        else:
            raise Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
        if scope not in caller.scopes:
            raise Forbidden("this call needs scope {scope!r}", scope=scope)
        return caller

    return dependency
