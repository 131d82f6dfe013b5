"""`jembatan user ...` and `jembatan token ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jembatan.accounts import services, tokens
from jembatan.accounts.api import TokenOut, UserOut
from jembatan.cli.common import DataDir, Json, clear_errors, open_node, print_json
from jembatan.errors import InvalidInput
from jembatan.ledger.entries import console

user_app = typer.Typer(help="Officials' accounts on this node.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for agencies' own systems.", no_args_is_help=True)


def _read_password(password_file: Path | None) -> str:
    if password_file is None:
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    try:
        lines = password_file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(
            "cannot read --password-file {file}: {reason}", file=password_file, reason=exc.strerror
        ) from None
    if not lines:
        raise InvalidInput("--password-file {file} is empty", file=password_file)
    return lines[0]


@user_app.command("add")
@clear_errors
def add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="admin, officer, analyst or auditor.")],
    data_dir: DataDir = None,
    password_file: Annotated[
        Path | None, typer.Option(help="File whose first line is the password (else a prompt).")
    ] = None,
    display_name: Annotated[str, typer.Option(help="Full name shown in the portal.")] = "",
    as_json: Json = False,
) -> None:
    """Create an account."""
    node = open_node(data_dir)
    user = services.create_user(
        node, username, _read_password(password_file), role, display_name, console(node)
    )
    if as_json:
        print_json(UserOut.of(user).model_dump(mode="json"))
    else:
        typer.echo(f"created {user.username} ({user.role})")


@user_app.command("list")
@clear_errors
def list_(data_dir: DataDir = None, as_json: Json = False) -> None:
    """List accounts."""
    users = services.list_users(open_node(data_dir))
    if as_json:
        print_json([UserOut.of(u).model_dump(mode="json") for u in users])
        return
    for u in users:
        flags = ["disabled"] if u.disabled else []
        flags += ["2fa"] if u.totp_enabled else []
        typer.echo(f"{u.username:<24} {u.role:<8} {' '.join(flags)}".rstrip())


def _set_disabled(data_dir: Path | None, username: str, disabled: bool) -> None:
    node = open_node(data_dir)
    user = services.update_user(
        node, services.find_user(node, username).id, disabled=disabled, actor=console(node)
    )
    typer.echo(f"{user.username} {'disabled' if disabled else 'enabled'}")


@user_app.command("disable")
@clear_errors
def disable(username: str, data_dir: DataDir = None) -> None:
    """Disable an account: its sessions end and its tokens stop working."""
    _set_disabled(data_dir, username, True)


@user_app.command("enable")
@clear_errors
def enable(username: str, data_dir: DataDir = None) -> None:
    """Enable a disabled account again."""
    _set_disabled(data_dir, username, False)


@user_app.command("role")
@clear_errors
def role(
    username: str,
    new_role: Annotated[str, typer.Argument(metavar="ROLE")],
    data_dir: DataDir = None,
) -> None:
    """Change an account's role."""
    node = open_node(data_dir)
    user = services.update_user(
        node, services.find_user(node, username).id, role=new_role, actor=console(node)
    )
    typer.echo(f"{user.username} is now {user.role}")


@user_app.command("password")
@clear_errors
def password(
    username: str,
    data_dir: DataDir = None,
    password_file: Annotated[
        Path | None, typer.Option(help="File whose first line is the password (else a prompt).")
    ] = None,
) -> None:
    """Set a new password for a user (also lifts a lockout and ends their sessions)."""
    node = open_node(data_dir)
    user = services.reset_password(
        node, services.find_user(node, username).id, _read_password(password_file), console(node)
    )
    typer.echo(f"new password set for {user.username}")


@user_app.command("clearance")
@clear_errors
def clearance(
    username: str,
    label: Annotated[str, typer.Argument(help="Highest TLP 2.0 label the user may read.")],
    data_dir: DataDir = None,
) -> None:
    """Set the highest classification a user may read (TLP:RED needs this grant)."""
    node = open_node(data_dir)
    user = services.update_user(
        node, services.find_user(node, username).id, actor=console(node), clearance=label
    )
    typer.echo(f"{user.username} may read up to {user.clearance}")


@user_app.command("email")
@clear_errors
def email(
    username: str,
    address: Annotated[str, typer.Argument(help="E-mail address; '' removes it.")],
    data_dir: DataDir = None,
) -> None:
    """Set where a user's notifications go by e-mail (when the node has a mail server)."""
    node = open_node(data_dir)
    user = services.update_user(
        node, services.find_user(node, username).id, actor=console(node), email=address
    )
    typer.echo(f"{user.username}: {user.email or 'no e-mail address'}")


@user_app.command("unlock")
@clear_errors
def unlock(username: str, data_dir: DataDir = None) -> None:
    """Lift a temporary lockout after failed logins."""
    node = open_node(data_dir)
    services.unlock(node, services.find_user(node, username).id, console(node))
    typer.echo(f"{username} unlocked")


@user_app.command("reset-two-factor")
@clear_errors
def reset_two_factor(username: str, data_dir: DataDir = None) -> None:
    """Remove a user's two-factor enrolment (lost phone); they enrol again at next login."""
    node = open_node(data_dir)
    services.disable_totp(node, services.find_user(node, username).id, console(node))
    typer.echo(f"two-factor login reset for {username}")


@token_app.command("create")
@clear_errors
def create(
    user: Annotated[str, typer.Option(help="Owner of the token.")],
    data_dir: DataDir = None,
    scope: Annotated[list[str] | None, typer.Option(help="Scope; repeat for more.")] = None,
    expires: Annotated[str, typer.Option(help="Lifetime: 12h, 30d, 8w ...")] = "30d",
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    as_json: Json = False,
) -> None:
    """Create an API token. The token is printed once and never stored."""
    node = open_node(data_dir)
    owner = services.find_user(node, user)
    issued = tokens.create_token(
        node, owner.id, name, scope or ["profile:read"], tokens.parse_duration(expires)
    )
    if as_json:
        print_json({"token": issued.token, **TokenOut.of(issued.record).model_dump(mode="json")})
    else:
        typer.echo(issued.token)


@token_app.command("list")
@clear_errors
def list_tokens(
    user: Annotated[str, typer.Option(help="Owner of the tokens.")],
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """List a user's tokens (never the secrets)."""
    node = open_node(data_dir)
    records = tokens.list_tokens(node, services.find_user(node, user).id)
    if as_json:
        print_json([TokenOut.of(r).model_dump(mode="json") for r in records])
        return
    for r in records:
        typer.echo(
            f"{r.token_id}  {tokens.token_status(r):<8} "
            f"{r.expires_at:%Y-%m-%d}  {r.scopes}  {r.name}"
        )


@token_app.command("revoke")
@clear_errors
def revoke(
    token_id: Annotated[
        str, typer.Argument(help="Token id (the part after 'jbt_'), or the whole token.")
    ],
    data_dir: DataDir = None,
) -> None:
    """Revoke a token at once."""
    node = open_node(data_dir)
    ident = token_id.split("_")[1] if token_id.startswith("jbt_") else token_id
    record = tokens.revoke_token(node, ident)
    typer.echo(f"revoked {record.token_id} ({record.name})")
