"""API for agencies' systems: own profile and tokens, user administration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, Field

from jembatan.accounts import services, tokens
from jembatan.accounts.models import ApiToken, User
from jembatan.errors import Conflict
from jembatan.ledger.entries import user_actor
from jembatan.web.security import ApiCaller, node_of, require_scope

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    clearance: str
    disabled: bool
    two_factor: bool
    last_login_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            clearance=user.clearance,
            disabled=user.disabled,
            two_factor=user.totp_enabled,
            last_login_at=user.last_login_at,
            created_at=user.created_at,
        )


class TokenOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    status: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, record: ApiToken) -> TokenOut:
        return cls(
            id=record.token_id,
            name=record.name,
            scopes=record.scope_list,
            status=tokens.token_status(record),
            created_at=record.created_at,
            expires_at=record.expires_at,
            last_used_at=record.last_used_at,
        )


class MeOut(UserOut):
    via: str
    scopes: list[str]


class NewUser(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    role: str
    display_name: str = Field(default="", max_length=200)


class UserChange(BaseModel):
    role: str | None = None
    disabled: bool | None = None
    clearance: str | None = Field(default=None, description="Highest TLP label the user reads")


@router.get("/me", response_model=MeOut, summary="The caller's own account")
def me(caller: Annotated[ApiCaller, Depends(require_scope("profile:read"))]) -> MeOut:
    return MeOut(
        **UserOut.of(caller.user).model_dump(), via=caller.via, scopes=sorted(caller.scopes)
    )


@router.get("/me/tokens", response_model=list[TokenOut], summary="The caller's API tokens")
def my_tokens(
    request: Request, caller: Annotated[ApiCaller, Depends(require_scope("profile:read"))]
) -> list[TokenOut]:
    return [TokenOut.of(t) for t in tokens.list_tokens(node_of(request), caller.user.id)]


@router.delete(
    "/me/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke one of the caller's tokens (a system can revoke its own token)",
)
def revoke_my_token(
    request: Request,
    token_id: str,
    caller: Annotated[ApiCaller, Depends(require_scope("profile:read"))],
) -> None:
    tokens.revoke_token(node_of(request), token_id, owner_id=caller.user.id)


@router.get("/users", response_model=list[UserOut], summary="All accounts on this node")
def list_users(
    request: Request, caller: Annotated[ApiCaller, Depends(require_scope("users:read"))]
) -> list[UserOut]:
    return [UserOut.of(u) for u in services.list_users(node_of(request))]


@router.post("/users", response_model=UserOut, status_code=201, summary="Create an account")
def create_user(
    request: Request,
    body: NewUser,
    caller: Annotated[ApiCaller, Depends(require_scope("users:write"))],
) -> UserOut:
    node = node_of(request)
    user = services.create_user(
        node,
        body.username,
        body.password,
        body.role,
        body.display_name,
        user_actor(node.member_id, caller.user.username),
    )
    return UserOut.of(user)


@router.patch("/users/{username}", response_model=UserOut, summary="Change role or disable")
def change_user(
    request: Request,
    username: str,
    body: UserChange,
    caller: Annotated[ApiCaller, Depends(require_scope("users:write"))],
) -> UserOut:
    node = node_of(request)
    user = services.find_user(node, username)
    if user.id == caller.user.id and (
        body.role is not None or body.disabled or body.clearance is not None
    ):
        raise Conflict("you cannot disable yourself or change your own role or clearance")
    actor = user_actor(node.member_id, caller.user.username)
    changed = services.update_user(node, user.id, body.role, body.disabled, actor, body.clearance)
    return UserOut.of(changed)
