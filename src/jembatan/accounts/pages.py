"""Portal pages for logging in, two-factor, one's own profile and tokens, and user admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jembatan.accounts import services, sessions, tokens, totp
from jembatan.accounts.passwords import verify_password
from jembatan.accounts.roles import PERMISSIONS, SCOPES, Role
from jembatan.accounts.throttle import LoginThrottle
from jembatan.errors import (
    Conflict,
    InvalidInput,
    JembatanError,
    TooManyAttempts,
    Unauthenticated,
)
from jembatan.exchange.envelope import TLP
from jembatan.ledger.entries import user_actor
from jembatan.web import i18n
from jembatan.web.pages import Pages, error_text, redirect
from jembatan.web.security import (
    PortalUser,
    csrf_protect,
    half_logged_in,
    jar,
    node_of,
    optional_user,
    portal_user,
    require_role,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
Admin = Annotated[PortalUser, Depends(require_role(Role.ADMIN))]
Official = Annotated[PortalUser, Depends(portal_user)]


def pages(request: Request) -> Pages:
    p: Pages = request.app.state.pages
    return p


def _throttle(request: Request) -> LoginThrottle:
    state = request.app.state
    if not hasattr(state, "login_throttle"):
        state.login_throttle = LoginThrottle(node_of(request).settings.login_ip_limit_per_minute)
    throttle: LoginThrottle = state.login_throttle
    return throttle


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(value: str | None) -> str:
    """Only a local path: never an open redirect to another site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _start(request: Request, response: Response, raw_session: str) -> Response:
    cookies = jar(request)
    cookies.set(request, response, cookies.session_name, raw_session, cookies.max_age)
    return response


# Login and logout ---------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    if optional_user(request):
        return redirect(_safe_next(next))
    return pages(request).render(request, "accounts/login.html", next=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    node, metrics = node_of(request), request.app.state.metrics
    throttle, address = _throttle(request), _client(request)
    try:
        if throttle.blocked(address):
            raise TooManyAttempts("too many failed logins from your address; wait a minute")
        result = services.check_password_login(node, username, password)
    except JembatanError as exc:
        if isinstance(exc, Unauthenticated):
            throttle.failed(address)
        metrics.logins.labels("locked" if isinstance(exc, TooManyAttempts) else "failed").inc()
        return pages(request).render(
            request,
            "accounts/login.html",
            status=exc.status,
            error=error_text(request, exc),
            next=_safe_next(next),
            username=username,
        )
    raw = sessions.start_session(node, result.user.id, not result.needs_second_factor)
    if result.needs_second_factor:
        target = "/login/two-factor?next=" + _safe_next(next)
    else:
        metrics.logins.labels("success").inc()
        target = _safe_next(next)
    return _start(request, redirect(target), raw)


@router.get("/login/two-factor", response_class=HTMLResponse)
def second_factor_form(
    request: Request, who: Annotated[PortalUser, Depends(half_logged_in)], next: str = "/"
) -> Response:
    return pages(request).render(request, "accounts/two_factor.html", next=_safe_next(next))


@router.post("/login/two-factor")
def second_factor(
    request: Request,
    who: Annotated[PortalUser, Depends(half_logged_in)],
    code: Annotated[str, Form(max_length=40)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    node = node_of(request)
    try:
        used_recovery = services.check_second_factor(node, who.user.id, code)
    except JembatanError as exc:
        request.app.state.metrics.logins.labels("failed").inc()
        if isinstance(exc, TooManyAttempts):
            sessions.end_session(node, who.session.id)
        return pages(request).render(
            request,
            "accounts/two_factor.html",
            status=exc.status,
            error=error_text(request, exc),
            next=_safe_next(next),
        )
    request.app.state.metrics.logins.labels("success").inc()
    raw = sessions.complete_two_factor(node, who.session.id)
    target = "/profile/two-factor?recovery-used=1" if used_recovery else _safe_next(next)
    return _start(request, redirect(target), raw)


@router.post("/logout")
def logout(request: Request) -> Response:
    who = optional_user(request)
    if who is None and getattr(request.state, "portal", None):
        who = PortalUser(request.state.portal[1], request.state.portal[0])
    if who is not None:
        sessions.end_session(node_of(request), who.session.id)
    response = redirect("/login", "logged-out")
    response.delete_cookie(jar(request).session_name, path="/")
    return response


@router.post("/language")
def choose_language(
    request: Request, language: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    """Anyone may switch language; a logged-in official's choice is remembered."""
    if language not in i18n.LANGUAGES:
        language = i18n.DEFAULT
    who = optional_user(request)
    if who is not None:
        services.set_language(node_of(request), who.user.id, language)
    response = redirect(_safe_next(next))
    cookies = jar(request)
    cookies.set(request, response, cookies.lang_name, language, 365 * 86400)
    return response


# Own profile --------------------------------------------------------------------------------


def _profile(request: Request, who: PortalUser, status: int = 200, **extra: object) -> Response:
    node = node_of(request)
    return pages(request).render(
        request,
        "accounts/profile.html",
        status=status,
        tokens=tokens.list_tokens(node, who.user.id),
        token_status=tokens.token_status,
        scopes={s: SCOPES[s] for s in sorted(PERMISSIONS[Role(who.user.role)])},
        recovery_left=services.unused_recovery_codes(node, who.user.id),
        **extra,
    )


@router.get("/profile", response_class=HTMLResponse)
def profile(request: Request, who: Official) -> Response:
    return _profile(request, who)


@router.post("/profile/password")
def change_password(
    request: Request,
    who: Official,
    current: Annotated[str, Form(max_length=256)],
    new: Annotated[str, Form(max_length=256)],
    confirm: Annotated[str, Form(max_length=256)],
) -> Response:
    try:
        if new != confirm:
            raise InvalidInput("the new password and its confirmation differ")
        services.change_password(node_of(request), who.user.id, current, new)
    except JembatanError as exc:
        return _profile(request, who, exc.status, password_error=error_text(request, exc))
    return redirect("/profile", "password")


@router.post("/profile/tokens")
def create_token(
    request: Request,
    who: Official,
    name: Annotated[str, Form(max_length=100)],
    expires: Annotated[str, Form(max_length=10)] = "30d",
    scope: Annotated[list[str] | None, Form()] = None,
) -> Response:
    try:
        issued = tokens.create_token(
            node_of(request), who.user.id, name, scope or [], tokens.parse_duration(expires)
        )
    except JembatanError as exc:
        return _profile(request, who, exc.status, token_error=error_text(request, exc))
    return _profile(request, who, new_token=issued.token)


@router.post("/profile/tokens/{token_id}/revoke")
def revoke_token(request: Request, who: Official, token_id: str) -> Response:
    tokens.revoke_token(node_of(request), token_id, owner_id=who.user.id)
    return redirect("/profile", "revoked")


# Two-factor enrolment -------------------------------------------------------------------------


@router.get("/profile/two-factor", response_class=HTMLResponse)
def two_factor_page(request: Request, who: Official) -> Response:
    node = node_of(request)
    if who.user.totp_enabled:
        return pages(request).render(
            request,
            "accounts/enrol.html",
            recovery_left=services.unused_recovery_codes(node, who.user.id),
        )
    return _enrolment(request, who)


def _enrolment(request: Request, who: PortalUser, status: int = 200, error: str = "") -> Response:
    node = node_of(request)
    secret = services.begin_totp_enrolment(node, who.user.id)
    return pages(request).render(
        request,
        "accounts/enrol.html",
        status=status,
        error=error,
        secret=secret,
        uri=totp.provisioning_uri(secret, who.user.username, f"Jembatan {node.member_id}"),
    )


@router.post("/profile/two-factor")
def confirm_two_factor(
    request: Request, who: Official, code: Annotated[str, Form(max_length=20)]
) -> Response:
    node = node_of(request)
    try:
        codes = services.confirm_totp_enrolment(node, who.user.id, code)
    except JembatanError as exc:
        return _enrolment(request, who, exc.status, error_text(request, exc))
    return pages(request).render(request, "accounts/recovery_codes.html", codes=codes)


@router.post("/profile/two-factor/disable")
def disable_two_factor(
    request: Request, who: Official, password: Annotated[str, Form(max_length=256)]
) -> Response:
    node = node_of(request)
    if not verify_password(who.user.password_hash, password):
        return _profile(
            request,
            who,
            400,
            two_factor_error=error_text(request, InvalidInput("the password is wrong")),
        )
    services.disable_totp(node, who.user.id, user_actor(node.member_id, who.user.username))
    return redirect("/profile", "two-factor-off")


# User administration ------------------------------------------------------------------------


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, who: Admin) -> Response:
    return pages(request).render(
        request,
        "accounts/users.html",
        users=services.list_users(node_of(request)),
        roles=list(Role),
        tlp_labels=TLP,
    )


@router.post("/users")
def add_user(
    request: Request,
    who: Admin,
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=256)],
    display_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    node = node_of(request)
    try:
        services.create_user(
            node,
            username,
            password,
            role,
            display_name,
            user_actor(node.member_id, who.user.username),
        )
    except JembatanError as exc:
        return pages(request).render(
            request,
            "accounts/users.html",
            status=exc.status,
            users=services.list_users(node),
            roles=list(Role),
            tlp_labels=TLP,
            error=error_text(request, exc),
            form={"username": username, "display_name": display_name, "role": role},
        )
    return redirect("/users", "created")


@router.post("/users/{user_id}")
def change_user(
    request: Request,
    who: Admin,
    user_id: int,
    action: Annotated[str, Form()],
    role: Annotated[str, Form(max_length=20)] = "",
    clearance: Annotated[str, Form(max_length=20)] = "",
) -> RedirectResponse:
    node = node_of(request)
    actor = user_actor(node.member_id, who.user.username)
    if user_id == who.user.id and action in ("disable", "role", "clearance"):
        raise Conflict("you cannot disable yourself or change your own role or clearance")
    if action == "role":
        services.update_user(node, user_id, role=role, actor=actor)
    elif action in ("disable", "enable"):
        services.update_user(node, user_id, disabled=action == "disable", actor=actor)
    elif action == "reset-two-factor":
        services.disable_totp(node, user_id, actor)
    elif action == "unlock":
        services.unlock(node, user_id, actor)
    elif action == "clearance":
        services.update_user(node, user_id, actor=actor, clearance=clearance)
    else:
        raise InvalidInput("unknown action {action!r}", action=action)
    return redirect("/users", "saved")
