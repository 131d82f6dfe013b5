"""A 2 GiB file between two real node processes, broken midway and resumed; every node
process stays under 300 MB of resident memory (about 180 MB of it is the program itself,
statistics stack included), far below what holding the file would take."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import POSTGRES
from tests.e2e.test_demo import _cli, _free_base_port, _start, _stop

# The demo always runs on SQLite: the PostgreSQL pass of the suite has nothing to add here.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(POSTGRES), reason="the demo federation runs on SQLite only"),
]
SIZE = 2 * 1024**3
RSS_LIMIT_KIB = 300 * 1024


def _serve_peak_rss(folder: Path) -> dict[str, int]:
    """VmHWM (peak resident set) of each running `jembatan serve` of the demo, in KiB."""
    peaks = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if b"serve" in cmd and str(folder).encode() in b" ".join(cmd):
            name = Path(cmd[cmd.index(b"--data-dir") + 1].decode()).name
            peaks[name] = int(
                next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]
            )
    return peaks


def _received(folder: Path) -> int:
    with sqlite3.connect(folder / "MYS-MOH" / "jembatan.db", timeout=10) as db:
        row = db.execute("SELECT received FROM transfers").fetchone()
    return int(row[0]) if row else 0


def _status(folder: Path, mid: str) -> str:
    shown = json.loads(
        _cli("message", "show", mid, "--data-dir", str(folder / "IDN-KEMENKES"), "--json").stdout
    )
    return str(shown["deliveries"][0]["status"])


def test_two_gib_transfer_resumes_with_bounded_memory(tmp_path: Path) -> None:
    folder, base = tmp_path / "demo", _free_base_port()
    source = tmp_path / "census.bin"
    block = os.urandom(1024 * 1024)
    digest = hashlib.sha256()
    with source.open("wb") as f:
        for i in range(SIZE // len(block)):
            chunk = i.to_bytes(4, "big") + block[4:]
            digest.update(chunk)
            f.write(chunk)
    proc, lines = _start(folder, base)
    peaks: list[dict[str, int]] = []
    try:
        sent = _cli(
            "send",
            "--data-dir",
            str(folder / "IDN-KEMENKES"),
            "--to",
            "ASEAN/GOV/MYS-MOH",
            "--subject",
            "Census microdata",
            "--file",
            str(source),
            "--expires",
            "2d",
        )
        assert sent.returncode == 0, sent.stderr
        mid = sent.stdout.strip()
        deadline = time.monotonic() + 300
        while _received(folder) < SIZE // 2:
            assert time.monotonic() < deadline, "transfer did not progress"
            time.sleep(0.5)
        peaks.append(_serve_peak_rss(folder))
    finally:
        _stop(proc, lines)  # the link breaks: every node stops mid-transfer
    broken_at = _received(folder)
    assert SIZE // 2 <= broken_at < SIZE
    proc, lines = _start(folder, base)
    try:
        deadline = time.monotonic() + 600
        while _status(folder, mid) != "delivered":
            assert time.monotonic() < deadline, "transfer did not finish"
            time.sleep(1)
        peaks.append(_serve_peak_rss(folder))
    finally:
        _stop(proc, lines)
    out = tmp_path / "received.bin"
    got = _cli("message", "get", mid, "--data-dir", str(folder / "MYS-MOH"), "-o", str(out))
    assert got.returncode == 0, got.stderr
    check = hashlib.sha256()
    with out.open("rb") as f:
        while data := f.read(8 * 1024 * 1024):
            check.update(data)
    assert check.hexdigest() == digest.hexdigest()
    for run in peaks:
        assert set(run) >= {"IDN-KEMENKES", "MYS-MOH"}
        assert all(kib < RSS_LIMIT_KIB for kib in run.values()), run
    subprocess.run(["rm", "-rf", str(tmp_path)], check=False)
