"""The CLI as an operator uses it: real processes, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import PASSWORD


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("JEMBATAN_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "jembatan", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=stdin,
        timeout=60,
    )


@pytest.fixture
def folder(tmp_path: Path, new_database_url: Callable[[], str]) -> tuple[Path, dict[str, str]]:
    data = tmp_path / "node"
    env = {"JEMBATAN_DATABASE_URL": new_database_url(), "JEMBATAN_KEY_PASSPHRASE": "cli-passphrase"}
    done = run(
        "init", "--data-dir", str(data), "--member", "ASEAN/GOV/MYS-MOH", "--name", "MOH", env=env
    )
    assert done.returncode == 0, done.stderr
    assert "initialised ASEAN/GOV/MYS-MOH" in done.stdout
    return data, env


def test_second_init_refuses_and_keeps_the_node(folder: tuple[Path, dict[str, str]]) -> None:
    data, env = folder
    before = (data / "secret.key").read_bytes()
    again = run("init", "-d", str(data), "--member", "ASEAN/GOV/X", "--name", "Other", env=env)
    assert again.returncode == 4
    assert (
        again.stderr.strip()
        == f"error: data folder {data} is already initialised; refusing to overwrite it"
    )
    assert (data / "secret.key").read_bytes() == before


def test_init_on_a_database_that_holds_a_node_refuses(
    folder: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = folder
    other = tmp_path / "other"
    again = run("init", "-d", str(other), "--member", "ASEAN/GOV/X", "--name", "Other", env=env)
    assert again.returncode == 4
    assert "already holds node ASEAN/GOV/MYS-MOH" in again.stderr
    assert not other.exists()


def test_bad_member_id_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    done = run("init", "-d", str(tmp_path / "n"), "--member", "ASEAN/GOV", "--name", "X")
    assert done.returncode == 2
    assert "must have the form INSTANCE/CLASS/CODE" in done.stderr
    assert not (tmp_path / "n").exists()


def test_users_and_tokens(folder: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    data, env = folder
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    d = ["-d", str(data)]
    added = run("user", "add", *d, "siti", "--role", "officer", "--password-file", str(pw), env=env)
    assert added.returncode == 0, added.stderr
    prompted = run(
        "user", "add", *d, "budi", "--role", "analyst", env=env, stdin=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert prompted.returncode == 0, prompted.stderr
    listed = json.loads(run("user", "list", *d, "--json", env=env).stdout)
    assert [(u["username"], u["role"]) for u in listed] == [
        ("budi", "analyst"),
        ("siti", "officer"),
    ]

    bad_role = run("user", "add", *d, "x1", "--role", "king", "--password-file", str(pw), env=env)
    assert bad_role.returncode == 2
    assert bad_role.stderr.startswith("error: unknown role 'king'")

    made = run("token", "create", *d, "--user", "siti", "--expires", "7d", "--json", env=env)
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]
    assert token.startswith("jbt_")
    tokens = json.loads(run("token", "list", *d, "--user", "siti", "--json", env=env).stdout)
    assert tokens[0]["status"] == "active"
    assert "token" not in tokens[0]
    assert token not in run("token", "list", *d, "--user", "siti", env=env).stdout

    revoked = run("token", "revoke", *d, token, env=env)
    assert revoked.returncode == 0, revoked.stderr
    tokens = json.loads(run("token", "list", *d, "--user", "siti", "--json", env=env).stdout)
    assert tokens[0]["status"] == "revoked"

    beyond = run("token", "create", *d, "--user", "siti", "--scope", "users:write", env=env)
    assert beyond.returncode == 5
    assert "may not hold scope 'users:write'" in beyond.stderr

    disabled = run("user", "disable", *d, "siti", env=env)
    assert disabled.returncode == 0
    assert "disabled" in json.dumps(json.loads(run("user", "list", *d, "--json", env=env).stdout))


def test_db_upgrade_is_idempotent_and_status_reports(folder: tuple[Path, dict[str, str]]) -> None:
    data, env = folder
    up = run("db", "upgrade", "-d", str(data), env=env)
    assert up.returncode == 0, up.stderr
    status = json.loads(run("db", "status", "-d", str(data), "--json", env=env).stdout)
    assert status["up_to_date"] is True
    assert status["current"] == status["expected"]


def test_bad_setting_and_unreachable_database_are_one_line(
    folder: tuple[Path, dict[str, str]],
) -> None:
    data, env = folder
    bad = run("serve", "-d", str(data), env={**env, "JEMBATAN_PORT": "abc"})
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("error: setting JEMBATAN_PORT is invalid")

    down = run(
        "serve",
        "-d",
        str(data),
        env={"JEMBATAN_DATABASE_URL": "postgresql://u:pw-secret@127.0.0.1:1/none"},
    )
    assert down.returncode == 6
    assert down.stderr.count("\n") == 1
    assert down.stderr.startswith(
        "error: database unreachable at postgresql+psycopg://u:***@127.0.0.1:1/none"
    )


def test_version_and_help() -> None:
    out = json.loads(run("version", "--json").stdout)
    assert out["version"]
    for sub in ([], ["user"], ["token"], ["db"], ["init"], ["serve"], ["demo"]):
        helped = run(*sub, "--help")
        assert helped.returncode == 0
        assert "Usage" in helped.stdout
