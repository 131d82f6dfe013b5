"""The docs and the code must agree: a setting, a command or a wire format that is not
documented (or documented wrongly) fails here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from jembatan.cli import app
from jembatan.config import Settings
from jembatan.crypto import httpsig

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _commands(group: Any, prefix: str = "jembatan") -> list[str]:
    out = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):  # a group (Typer's own Click types)
            out.extend(_commands(command, path))
        else:
            out.append(path)
    return out


def test_every_setting_is_documented() -> None:
    text = (DOCS / "operations.md").read_text()
    missing = [
        f"JEMBATAN_{name.upper()}"
        for name in Settings.model_fields
        if f"`JEMBATAN_{name.upper()}`" not in text
    ]
    assert missing == []


def test_every_command_is_documented() -> None:
    text = (DOCS / "operations.md").read_text()
    commands = _commands(typer.main.get_command(app))
    assert "jembatan registry approve" in commands
    assert [c for c in commands if f"`{c}`" not in text] == []


def test_protocol_signature_base_example_matches_the_code() -> None:
    text = (DOCS / "protocol.md").read_text()
    block = re.search(r"Example base:\n\n```\n(.*?)\n```", text, re.S)
    assert block, "protocol.md has the example signature base"
    lines = block.group(1).split("\n")
    values: dict[str, str] = {}
    for line in lines[:-1]:
        name, _, value = line.partition(": ")
        values[name.strip('"')] = value
    params = lines[-1].split(": ", 1)[1]
    assert values["content-digest"] == httpsig.content_digest(b"{}")
    created = int(re.search(r"created=(\d+)", params).group(1))  # type: ignore[union-attr]
    keyid = re.search(r'keyid="([^"]+)"', params).group(1)  # type: ignore[union-attr]
    nonce = re.search(r'nonce="([^"]+)"', params).group(1)  # type: ignore[union-attr]
    assert params == httpsig._params(httpsig.REQUIRED, created, keyid, nonce)
    assert httpsig._base(values, params).decode() == block.group(1)


def test_protocol_key_example_kid_is_its_thumbprint() -> None:
    from joserfc.jwk import OKPKey

    text = (DOCS / "protocol.md").read_text()
    x = re.search(r'"crv": "Ed25519", "x": "([^"]{43})",\s*"kid": "([^"]{43})"', text)
    assert x, "protocol.md shows an example key with its kid"
    key = OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": x.group(1)})
    assert key.thumbprint() == x.group(2)
