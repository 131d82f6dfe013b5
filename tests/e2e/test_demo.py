"""`jembatan demo` as a user runs it: three nodes come up, answer, and stop on Ctrl-C."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from jwcrypto import jwk, jws

from tests.conftest import POSTGRES
from tests.ledger.c2sp import check_note_independently
from tests.ledger.rfc9162 import mth, path

# The demo always runs on SQLite: the PostgreSQL pass of the suite has nothing to add here.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(POSTGRES), reason="the demo federation runs on SQLite only"),
]


def _free_base_port() -> int:
    import random

    start = random.randrange(20000, 50000)  # noqa: S311  (runs in parallel must not collide)
    for base in range(start, 60000, 97):
        try:
            sockets = []
            # the registry, three nodes and (base + 9) the sample immunization service
            for port in (*range(base, base + 4), base + 9):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                sockets.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free ports")


def _start(folder: Path, base: int) -> tuple[subprocess.Popen[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEMBATAN_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jembatan", "demo", "--dir", str(folder), "--base-port", str(base)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Press Ctrl-C to stop" in line:
            return proc, lines
    proc.kill()
    raise AssertionError("demo did not come up:\n" + "".join(lines))


def _stop(proc: subprocess.Popen[str], lines: list[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    return "".join(lines) + out


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEMBATAN_")}
    env["JEMBATAN_KEY_PASSPHRASE"] = "jembatan-demo"
    return subprocess.run(
        [sys.executable, "-m", "jembatan", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def _sent_from_idn_reaches_mys(folder: Path) -> None:
    idn, mys = str(folder / "IDN-KEMENKES"), str(folder / "MYS-MOH")
    sent = _cli(
        "send",
        "--data-dir",
        idn,
        "--to",
        "ASEAN/GOV/MYS-MOH",
        "--subject",
        "Demo check",
        "--text",
        "hello from the test",
    )
    assert sent.returncode == 0, sent.stderr
    mid = sent.stdout.strip()
    deadline = time.monotonic() + 30
    status = None
    while time.monotonic() < deadline:
        shown = json.loads(_cli("message", "show", mid, "--data-dir", idn, "--json").stdout)
        status = shown["deliveries"][0]["status"]
        if status == "delivered":
            break
        time.sleep(0.5)
    assert status == "delivered"
    assert shown["deliveries"][0]["receipt"]
    assert shown["agreement_id"]  # went under the Indonesia-Malaysia agreement
    inbox = json.loads(_cli("inbox", "--data-dir", mys, "--json").stdout)
    assert mid in {m["id"] for m in inbox}
    # The sample messages of the first start were delivered too.
    assert "Dengue situation, epidemiological week 47" in {m["subject"] for m in inbox}


CODES = ("IDN-KEMENKES", "MYS-MOH", "SGP-MOH")


def _cosigned_checkpoint(url: str, others: list[str]) -> str:
    """Wait for the node's latest checkpoint to carry every other node's cosignature."""
    deadline = time.monotonic() + 60
    text = ""
    while time.monotonic() < deadline:
        text = httpx.get(url + "/api/v1/ledger/checkpoint").text
        if all(f"\u2014 ASEAN/GOV/{other} " in text for other in others):
            return text
        time.sleep(1)
    raise AssertionError(f"checkpoint of {url} not cosigned by {others}:\n{text}")


def _ledgers_verify(folder: Path, base: int) -> None:
    for offset, code in enumerate(CODES, start=1):
        url = f"http://127.0.0.1:{base + offset}"
        others = [c for c in CODES if c != code]
        text = _cosigned_checkpoint(url, others)
        jwks = httpx.get(url + "/.well-known/jembatan").json()["jwks"]["keys"]
        check_note_independently(text, f"ASEAN/GOV/{code}", jwks)
        size, root = int(text.split("\n")[1]), base64.b64decode(text.split("\n")[2])
        made = _cli(
            "token",
            "create",
            "--data-dir",
            str(folder / code),
            "--user",
            "auditor",
            "--scope",
            "ledger:read",
            "--expires",
            "1d",
        )
        assert made.returncode == 0, made.stderr
        auth = {"Authorization": f"Bearer {made.stdout.strip()}"}
        data: list[bytes] = []
        while len(data) < size:
            page = httpx.get(
                f"{url}/api/v1/ledger/entries?start={len(data)}&end={size}", headers=auth
            ).json()["entries"]
            data += [base64.b64decode(e["data"]) for e in page]
        assert mth(data) == root
        for index in {0, size // 2, size - 1}:
            answer = httpx.get(
                f"{url}/api/v1/ledger/proof/inclusion?index={index}&size={size}", headers=auth
            ).json()
            assert [base64.b64decode(h) for h in answer["hashes"]] == path(index, data)
        # The product's own check, run by another node against this one, agrees. It takes
        # the node's latest checkpoint, which may be newer than the one above (the token
        # made an entry) and not cosigned yet: the witnesses come round every 10 s.
        peer = folder / others[0]
        deadline = time.monotonic() + 60
        while True:
            checked = _cli("ledger", "verify", "--url", url, "--data-dir", str(peer), "--json")
            assert checked.returncode == 0, checked.stdout + checked.stderr
            report = json.loads(checked.stdout)
            if {f"ASEAN/GOV/{o}" for o in others} <= set(report["cosigned_by"]):
                break
            assert time.monotonic() < deadline, f"not cosigned by {others}: {report}"
            time.sleep(1)


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 45
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def _mys_to_sgp_needs_an_agreement(folder: Path) -> None:
    mys, sgp = ["--data-dir", str(folder / "MYS-MOH")], ["--data-dir", str(folder / "SGP-MOH")]
    message = ["--to", "ASEAN/GOV/SGP-MOH", "--subject", "Haze", "--text", "PM2.5 rising"]
    refused = _cli("send", *mys, *message)
    assert refused.returncode == 5
    # The one agreement between them covers only the shared workspace, not messages.
    assert (
        "no active agreement allows 'message' from ASEAN/GOV/MYS-MOH to ASEAN/GOV/SGP-MOH"
        in refused.stderr
    )
    assert "(ASEAN dengue response workspace) refuses it: no flow of 'message'" in refused.stderr
    made = _cli(
        "agreement",
        "create",
        *mys,
        "--title",
        "Haze cooperation",
        "--with",
        "ASEAN/GOV/SGP-MOH",
        "--purpose",
        "Air quality",
        "--legal-basis",
        "ASEAN haze agreement",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    ident = json.loads(made.stdout)["id"]
    assert _cli("agreement", "sign", ident, *mys).returncode == 0
    _until(lambda: _cli("agreement", "show", ident, *sgp).returncode == 0, "proposal at SGP")
    assert _cli("agreement", "sign", ident, *sgp).returncode == 0

    def active_at_mys() -> bool:
        shown = _cli("agreement", "show", ident, *mys, "--json")
        return bool(json.loads(shown.stdout)["status"] == "active")

    _until(active_at_mys, "agreement active at MYS")
    sent = _cli("send", *mys, *message)
    assert sent.returncode == 0, sent.stderr
    mid = sent.stdout.strip()

    def delivered() -> bool:
        shown = json.loads(_cli("message", "show", mid, *mys, "--json").stdout)
        return bool(shown["deliveries"][0]["status"] == "delivered")

    _until(delivered, "MYS to SGP delivered under the new agreement")
    assert json.loads(_cli("message", "show", mid, *mys, "--json").stdout)["agreement_id"] == ident


def _gateway_calls(folder: Path, base: int) -> None:
    """The service gateway's done-when: MYS-MOH's portal gets the vaccination status with
    X-Road's headers, SGP-MOH's is refused, and listMethods lists the service."""
    path = "/r1/ASEAN/GOV/IDN-KEMENKES/immunization/vaccination-status/v1/status/123"

    def call(code: str, offset: int, target: str) -> httpx.Response:
        token = (folder / code / "gateway-token.txt").read_text().strip()
        return httpx.get(
            f"http://127.0.0.1:{base + offset}{target}",
            headers={
                "Authorization": f"Bearer {token}",
                "X-Road-Client": f"ASEAN/GOV/{code}/portal",
            },
            timeout=30,
        )

    allowed = call("MYS-MOH", 2, path)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["id"] == "123"
    assert allowed.headers["x-road-client"] == "ASEAN/GOV/MYS-MOH/portal"
    assert allowed.headers["x-road-service"] == (
        "ASEAN/GOV/IDN-KEMENKES/immunization/vaccination-status"
    )
    for name in ("x-road-id", "x-road-request-id", "x-road-request-hash"):
        assert allowed.headers[name]
    denied = call("SGP-MOH", 3, path)
    assert denied.headers["x-road-error"] == "Server.ServerProxy.AccessDenied"
    assert denied.json()["type"] == "Server.ServerProxy.AccessDenied"
    listed = call("SGP-MOH", 3, "/r1/ASEAN/GOV/IDN-KEMENKES/immunization/listMethods").json()
    assert [s["service_code"] for s in listed["service"]] == ["vaccination-status"]
    # Both ledgers hold the call.
    request_id = allowed.headers["x-road-request-id"]
    for code in ("MYS-MOH", "IDN-KEMENKES"):
        logged = _cli("service", "calls", "--data-dir", str(folder / code), "--json")
        assert request_id in {c["request_id"] for c in json.loads(logged.stdout)}


def _surveillance(folder: Path, base: int, tmp: Path) -> None:
    """Surveillance's done-when: IDN-KEMENKES holds the three countries' dengue series,
    West Java's outbreak is flagged and the confirmed signal reaches both partners, and
    `jembatan health detect` gives the EARS thresholds an independent computation gives."""
    idn, mys, sgp = (["--data-dir", str(folder / code)] for code in CODES)

    def members_at_idn() -> set[str]:
        listed = json.loads(_cli("health", "series", *idn, "--json").stdout)
        return {s["member"] for s in listed if s["disease"] == "A90"}

    _until(lambda: len(members_at_idn()) == 3, "all three countries' series at IDN")
    confirmed = json.loads(
        _cli("health", "signals", *idn, "--status", "confirmed", "--json").stdout
    )
    [alert] = [s for s in confirmed if s["area"] == "ID-JB"]
    assert set(alert["sent"]) == {"ASEAN/GOV/MYS-MOH", "ASEAN/GOV/SGP-MOH"}
    for partner in (mys, sgp):

        def received(partner: list[str] = partner) -> bool:
            shown = _cli("health", "signals", *partner, "--status", "received", "--json")
            return any(s["area"] == "ID-JB" for s in json.loads(shown.stdout))

        _until(received, "the confirmed signal at a partner")

    client = httpx.Client(base_url=f"http://127.0.0.1:{base + 1}")
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post(
        "/login", data={"username": "officer", "password": "jembatan-demo", "csrf_token": token}
    )
    board = client.get("/health", timeout=120)
    assert board.status_code == 200
    for area in ("ID-JB", "MY-10", "SG-01"):
        assert area in board.text
    assert "<svg" in board.text

    weeks = json.loads(
        _cli("health", "series", *idn, "--disease", "A90", "--area", "ID-JB", "--json").stdout
    )
    counts = [w["count"] for w in weeks][-30:]
    series = tmp / "west-java.csv"
    series.write_text(
        "period,count\n" + "".join(f"{w['period']},{w['count']}\n" for w in weeks[-30:])
    )
    done = _cli("health", "detect", "--input", str(series), "--method", "ears-c1", "--json")
    assert done.returncode == 0, done.stderr
    points = json.loads(done.stdout)
    z = statistics.NormalDist().inv_cdf(1 - 0.001)
    for t in range(7, len(counts)):
        window = counts[t - 7 : t]
        expected = statistics.mean(window) + z * statistics.stdev(window)
        assert points[t]["threshold"] == pytest.approx(expected, rel=1e-6)
    assert any(p["alarm"] for p in points[-3:])  # the injected outbreak


def _workspace(folder: Path) -> None:
    """Workspaces' done-when: the demo workspace is on all three nodes with one state hash;
    a task added on one node appears on the other two, and the hashes agree again."""
    dirs = [["--data-dir", str(folder / code)] for code in CODES]

    def listed(where: list[str]) -> dict[str, Any]:
        found = json.loads(_cli("workspace", "list", *where, "--json").stdout)
        [ws] = [w for w in found if w["name"] == "ASEAN dengue response"]
        return dict(ws)

    def one_state() -> bool:
        return len({listed(d)["state_hash"] for d in dirs}) == 1

    _until(one_state, "one state of the demo workspace on all three nodes")
    wid = listed(dirs[0])["id"]
    shown = json.loads(_cli("workspace", "show", wid, *dirs[2], "--json").stdout)
    [guide] = shown["documents"]
    assert len(guide["versions"]) == 2
    assert len(shown["tasks"]) == 3
    assert len(shown["milestones"]) == 1
    assert len(shown["comments"]) == 3
    before = listed(dirs[0])["state_hash"]
    added = _cli("workspace", "task", "add", wid, "--title", "Check larvicide stock", *dirs[1])
    assert added.returncode == 0, added.stderr

    def everywhere() -> bool:
        for d in dirs:
            listed = _cli("workspace", "task", "list", wid, *d, "--json")
            assert listed.returncode == 0, listed.stderr
            tasks = json.loads(listed.stdout)
            if "Check larvicide stock" not in {t["title"] for t in tasks}:
                return False
        return True

    _until(everywhere, "the new task on all three nodes")
    _until(one_state, "one state again")
    assert listed(dirs[0])["state_hash"] != before


def test_demo_federation_comes_up_reuses_data_and_stops_cleanly(tmp_path: Path) -> None:
    base = _free_base_port()
    folder = tmp_path / "demo"
    proc, lines = _start(folder, base)
    try:
        for offset, code in ((1, "IDN-KEMENKES"), (2, "MYS-MOH"), (3, "SGP-MOH")):
            url = f"http://127.0.0.1:{base + offset}"
            assert httpx.get(url + "/healthz").json()["status"] == "alive"
            login = httpx.get(url + "/login", headers={"Accept-Language": "id"})
            assert "<h1>Masuk</h1>" in login.text
            assert f"ASEAN/GOV/{code}" in login.text
            assert (folder / code / "jembatan.db").is_file()
            facts = httpx.get(url + "/.well-known/jembatan").json()
            assert facts["member"] == f"ASEAN/GOV/{code}"
            assert {k["use"] for k in facts["jwks"]["keys"]} == {"sig", "enc"}
            unsigned = httpx.post(url + "/fed/v1/envelopes", content=b"{}")
            assert unsigned.status_code == 401
            assert unsigned.headers["content-type"] == "application/problem+json"
        registry = f"http://127.0.0.1:{base}"
        signed = httpx.get(registry + "/registry/v1/directory")
        assert signed.headers["content-type"] == "application/jose"
        anchor = json.loads((folder / "registry" / "anchor.json").read_text())
        key = jwk.JWK(**{k: anchor["key"][k] for k in ("kty", "crv", "x")})
        checked = jws.JWS()
        checked.deserialize(signed.text)
        checked.verify(key, alg="EdDSA")
        members = {m["id"] for m in json.loads(checked.payload)["members"]}
        assert members >= {"ASEAN/GOV/IDN-KEMENKES", "ASEAN/GOV/MYS-MOH", "ASEAN/GOV/SGP-MOH"}
        _sent_from_idn_reaches_mys(folder)
        _mys_to_sgp_needs_an_agreement(folder)
        _ledgers_verify(folder, base)
        _gateway_calls(folder, base)
        _surveillance(folder, base, tmp_path)
        _workspace(folder)
    finally:
        output = _stop(proc, lines)
    assert proc.returncode == 0, output
    assert "password 'jembatan-demo'" in output
    assert f"http://127.0.0.1:{base + 1}/" in output
    assert "all demo nodes stopped" in output
    for offset in (1, 2, 3):
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{base + offset}/healthz", timeout=1)

    # Run again: the same data is reused and the demo login still works.
    proc, lines = _start(folder, base)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{base + 2}")
        page = client.get("/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        answer = client.post(
            "/login",
            data={"username": "admin", "password": "jembatan-demo", "csrf_token": token},
        )
        assert answer.status_code == 303
        assert "Demo administrator" in client.get("/").text
    finally:
        output = _stop(proc, lines)
    assert "reused data" in output
    assert proc.returncode == 0, output
