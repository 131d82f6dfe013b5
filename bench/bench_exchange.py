"""Secure exchange: 1 KiB messages between two real node processes.

- ceiling: seal + open per second in this process, same code, no I/O;
- end to end: messages delivered per second with receipts stored (the sender node's own
  worker), and p50/p99 latency at a fixed offered load;
- baseline: the same number of plain POSTs, each inserted into SQLite, with no security.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.harness import Result
from jembatan.config import load_settings
from jembatan.crypto import keys
from jembatan.crypto.keys import public_key
from jembatan.exchange import envelope, services
from jembatan.identifiers import uuid7
from jembatan.node.context import Node

PAYLOAD = os.urandom(1024)
BURST = 2000
LOAD_RATE, LOAD_SECONDS = 50, 10


def _ceiling(seconds: float = 3.0) -> float:
    signer, mine = keys.generate("sig"), keys.generate("enc")
    now = datetime.now(UTC).replace(microsecond=0)
    sender = public_key(signer.public_jwk())
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        letter = envelope.Letter(
            uuid7(),
            "c",
            "B/G/A",
            ("B/G/B",),
            now,
            now + timedelta(days=1),
            "bench",
            "TLP:GREEN",
            "text/plain",
        )
        sealed = envelope.seal(letter, PAYLOAD, signer, [mine.public_jwk()])
        envelope.open_envelope(sealed, [mine], lambda kid, member, created: sender)
        done += 1
    return done / (time.perf_counter() - started)


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def _delivered(db: Path) -> dict[str, datetime]:
    with sqlite3.connect(db, timeout=30) as conn:
        rows = conn.execute(
            "SELECT message_id, delivered_at FROM deliveries WHERE status = 'delivered'"
        ).fetchall()
    return {mid: datetime.fromisoformat(at).replace(tzinfo=UTC) for mid, at in rows}


def _pending(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        total, done = conn.execute(
            "SELECT count(*), sum(status = 'delivered') FROM deliveries"
        ).fetchone()
    return int(total - (done or 0)) if total else 1


def _end_to_end(root: Path) -> tuple[float, float, float]:
    base = 20000 + os.getpid() % 20000
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEMBATAN_")}
    demo = subprocess.Popen(
        [sys.executable, "-m", "jembatan", "demo", "--dir", str(root), "--base-port", str(base)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            if "Press Ctrl-C" in line:
                break
        idn = Node.open(load_settings(root / "IDN-KEMENKES", key_passphrase="jembatan-demo"))  # noqa: S106
        db = root / "IDN-KEMENKES" / "jembatan.db"
        while _pending(db):  # the demo's own sample messages go first
            time.sleep(0.2)
        before = set(_delivered(db))
        # Throughput: a burst, delivered by the node's worker.
        started = time.perf_counter()
        mids = {
            services.send(idn, ["ASEAN/GOV/MYS-MOH"], "bench", PAYLOAD).id for _ in range(BURST)
        }
        while not mids <= set(_delivered(db)):
            time.sleep(0.05)
        rate = BURST / (time.perf_counter() - started)
        # Latency at a fixed offered load.
        sent_at: dict[str, datetime] = {}
        interval = 1 / LOAD_RATE
        next_at = time.perf_counter()
        for _ in range(LOAD_RATE * LOAD_SECONDS):
            m = services.send(idn, ["ASEAN/GOV/MYS-MOH"], "bench", PAYLOAD)
            sent_at[m.id] = datetime.now(UTC)
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
        while not set(sent_at) <= set(_delivered(db)):
            time.sleep(0.05)
        done = _delivered(db)
        waits = sorted(
            (done[m] - t).total_seconds() * 1000 for m, t in sent_at.items() if m not in before
        )
        idn.close()
        return rate, statistics.median(waits), waits[int(len(waits) * 0.99) - 1]
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)


BASELINE_APP = """
import sqlite3, sys
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
db = sqlite3.connect(sys.argv[2], check_same_thread=False, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE IF NOT EXISTS inbox (id INTEGER PRIMARY KEY, body BLOB)")
async def receive(request: Request):
    db.execute("INSERT INTO inbox (body) VALUES (?)", (await request.body(),))
    return JSONResponse({"ok": True})
app = Starlette(routes=[Route("/in", receive, methods=["POST"])])
import uvicorn
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _baseline(root: Path) -> float:
    port = 40000 + os.getpid() % 20000
    server = subprocess.Popen([sys.executable, "-c", BASELINE_APP, str(port), str(root / "b.db")])
    try:
        _wait_plain(f"http://127.0.0.1:{port}/in")
        with httpx.Client() as client:
            started = time.perf_counter()
            for _ in range(BURST):
                client.post(f"http://127.0.0.1:{port}/in", content=PAYLOAD)
            return BURST / (time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_plain(url: str) -> None:
    for _ in range(100):
        try:
            httpx.post(url, content=b"")
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("baseline server did not start")


def run() -> list[Result]:
    ceiling = _ceiling()
    with tempfile.TemporaryDirectory() as tmp:
        rate, p50, p99 = _end_to_end(Path(tmp) / "demo")
        baseline = _baseline(Path(tmp))
    return [
        Result(
            "exchange",
            "ceiling: seal + open, 1 KiB, one process, no I/O",
            ceiling,
            "msg/s",
            None,
            "end to end ≥ half of this",
        ),
        Result(
            "exchange",
            f"end to end: {BURST} x 1 KiB delivered with receipts",
            rate,
            "msg/s",
            baseline,
            "≥ 1,000 msg/s; security ≤ 2x the baseline (ratio ≥ 0.5)",
        ),
        Result("exchange", "end to end vs ceiling", rate, "msg/s", ceiling, "ratio ≥ 0.5"),
        Result("exchange", f"latency p50 at {LOAD_RATE} msg/s offered", p50, "ms", None, ""),
        Result("exchange", f"latency p99 at {LOAD_RATE} msg/s offered", p99, "ms", None, ""),
    ]
