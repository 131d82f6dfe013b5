"""`jembatan demo`: start the local federation and stop it cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import httpx
import typer

from jembatan.cli.common import clear_errors, fail
from jembatan.demo import federation
from jembatan.errors import Unavailable


def _wait_healthy(
    url: str, proc: subprocess.Popen[bytes], timeout: float, path: str = "/healthz"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Unavailable(f"node at {url} exited with code {proc.returncode}")
        try:
            if httpx.get(url + path, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise Unavailable(f"node at {url} did not answer /healthz within {timeout:.0f}s")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@clear_errors
def demo(
    folder: Annotated[
        Path, typer.Option("--dir", help="Where the demo nodes keep their data.")
    ] = Path(".demo"),
    base_port: Annotated[int, typer.Option(help="Registry port; nodes use the next ports.")] = 8700,
    smoke: Annotated[
        bool, typer.Option(help="Start, check every node answers, then stop.")
    ] = False,
) -> None:
    """Run a local federation of three government nodes with sample data."""
    # The demo is always SQLite in its own folders: the caller's JEMBATAN_* settings
    # (a PostgreSQL URL, say) must not leak into it.
    for name in [k for k in os.environ if k.startswith("JEMBATAN_")]:
        del os.environ[name]
    root = folder.resolve()
    root.mkdir(parents=True, exist_ok=True)
    prepared = federation.prepare(root, base_port)
    env = federation.demo_env()
    procs: list[subprocess.Popen[bytes]] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for spec, _created in prepared:
            log = (spec.folder(root) / "serve.log").open("ab")
            procs.append(
                subprocess.Popen(  # noqa: S603  (our own interpreter and arguments)
                    [
                        sys.executable,
                        "-m",
                        "jembatan",
                        "serve",
                        "--data-dir",
                        str(spec.folder(root)),
                        "--host",
                        federation.HOST,
                        "--port",
                        str(spec.port(base_port)),
                    ],
                    env={**env, "JEMBATAN_PUBLIC_URL": spec.url(base_port)},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        sample_log = (root / "immunization-service.log").open("ab")
        sample = subprocess.Popen(  # noqa: S603  (our own interpreter and arguments)
            [
                sys.executable,
                "-m",
                "uvicorn",
                "jembatan.demo.immunization:app",
                "--host",
                federation.HOST,
                "--port",
                str(base_port + federation.SAMPLE_SERVICE_OFFSET),
                "--no-access-log",
            ],
            env=env,
            stdout=sample_log,
            stderr=subprocess.STDOUT,
        )
        procs.append(sample)
        for (spec, _created), proc in zip(prepared, procs, strict=False):
            _wait_healthy(spec.url(base_port), proc, timeout=60)
        _wait_healthy(
            federation.sample_service_url(base_port), sample, timeout=60, path="/v1/status/1"
        )
        nodes = [spec for spec, _ in prepared if spec is not federation.REGISTRY]
        for step in federation.AFTER_START_STEPS:
            step(nodes, root, base_port)
        typer.echo("Jembatan demo federation is up:\n")
        for spec, created in prepared:
            state = "new" if created else "reused"
            typer.echo(
                f"  {spec.member:<26} {spec.url(base_port)}/"
                f"   ({state} data in {spec.folder(root)})"
            )
        typer.echo(
            f"\nThe registry's trust anchor: {federation.REGISTRY.folder(root) / 'anchor.json'}"
        )
        typer.echo(
            f"Keys are sealed with the passphrase '{federation.PASSWORD}': CLI commands work "
            f"against a running node with\n  JEMBATAN_KEY_PASSPHRASE={federation.PASSWORD} "
            f"jembatan ... --data-dir {root}/<CODE>"
        )
        idn = federation.NODES[0]
        typer.echo(
            "\nService gateway (X-Road pr-rest): MYS-MOH's portal may call IDN-KEMENKES's "
            "vaccination-status service, SGP-MOH's may not. Each ministry's API token is in "
            f"{root}/<CODE>/{federation.GATEWAY_TOKEN_FILE}; try:\n"
            f'  curl -H "Authorization: Bearer $(cat {root}/MYS-MOH/'
            f"{federation.GATEWAY_TOKEN_FILE})\" -H 'X-Road-Client: ASEAN/GOV/MYS-MOH/portal' "
            f"{federation.NODES[1].url(base_port)}/r1/{idn.member}/immunization/"
            "vaccination-status/v1/status/123"
        )
        typer.echo(
            f"\nLog in to any portal as 'admin' (or 'officer', 'auditor'), password "
            f"'{federation.PASSWORD}'.\nLogs: {root}/<CODE>/serve.log. Press Ctrl-C to stop."
        )
        if smoke:
            return
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        fail("a demo node stopped unexpectedly; see its serve.log", 1)
    except KeyboardInterrupt:
        typer.echo("\nstopping the demo nodes ...")
    finally:
        _stop(procs)
        typer.echo("all demo nodes stopped")
