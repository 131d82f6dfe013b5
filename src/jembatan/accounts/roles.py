"""Roles and the permissions each carries. API-token scopes use the same names."""

from __future__ import annotations

from enum import StrEnum

from jembatan.errors import InvalidInput


def N_(message: str) -> str:  # noqa: N802  (marks text for translation)
    return message


class Role(StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"
    ANALYST = "analyst"
    AUDITOR = "auditor"


ROLE_LABELS = {
    Role.ADMIN.value: N_("Administrator"),
    Role.OFFICER.value: N_("Officer"),
    Role.ANALYST.value: N_("Analyst"),
    Role.AUDITOR.value: N_("Auditor"),
}

# Scope name -> what it allows; capabilities add theirs as they land.
SCOPES: dict[str, str] = {
    "profile:read": N_("read the token owner's own profile"),
    "users:read": N_("list the node's user accounts"),
    "users:write": N_("create, change and disable user accounts"),
    "directory:read": N_("read the federation's member directory"),
    "messages:send": N_("send messages to other governments"),
    "messages:read": N_("read the inbox and outbox and download messages"),
    "ledger:read": N_("read the ledger's entries and proofs"),
    "agreements:read": N_("read the node's data-sharing agreements"),
    "agreements:write": N_("draft, sign, suspend and revoke agreements (if the role may sign)"),
    "services:call": N_("call other members' services through the gateway (/r1/)"),
    "services:read": N_("read this node's services, access rights and call log"),
    "services:write": N_("register services, enable endpoints, grant and revoke access"),
    "health:read": N_("read surveillance series, reports and signals"),
    "health:write": N_("import and share surveillance counts, run detection, review signals"),
    "workspaces:read": N_("read the shared workspaces one is admitted to"),
    "workspaces:write": N_(
        "create workspaces, accept invitations and work in them as one's workspace role allows"
    ),
}

PERMISSIONS: dict[Role, frozenset[str]] = {
    # Administrators run the node; auditors alone read its ledger (separation of duties).
    Role.ADMIN: frozenset(SCOPES) - {"ledger:read"},
    Role.OFFICER: frozenset(
        {
            "profile:read",
            "directory:read",
            "messages:send",
            "messages:read",
            "agreements:read",
            "agreements:write",
            "services:call",
            "services:read",
            "health:read",
            "health:write",
            "workspaces:read",
            "workspaces:write",
        }
    ),
    Role.ANALYST: frozenset(
        {
            "profile:read",
            "directory:read",
            "messages:read",
            "agreements:read",
            "health:read",
            "workspaces:read",
            "workspaces:write",
        }
    ),
    Role.AUDITOR: frozenset(
        {"profile:read", "directory:read", "ledger:read", "agreements:read", "services:read"}
    ),
}


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(
            "unknown role {role!r}; choose one of: {choices}",
            role=value,
            choices=", ".join(r.value for r in Role),
        ) from None


def parse_scopes(values: list[str] | str) -> list[str]:
    items = values.replace(",", " ").split() if isinstance(values, str) else values
    scopes = sorted({s.strip() for s in items if s.strip()})
    if not scopes:
        raise InvalidInput("a token needs at least one scope")
    for scope in scopes:
        if scope not in SCOPES:
            raise InvalidInput(
                "unknown scope {scope!r}; known scopes: {known}",
                scope=scope,
                known=", ".join(SCOPES),
            )
    return scopes


def allows(role: str, permission: str) -> bool:
    try:
        return permission in PERMISSIONS[Role(role)]
    except ValueError:
        return False
