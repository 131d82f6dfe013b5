"""Service gateway: the demo's sample service (IDN-KEMENKES's immunization API) called
directly, and through the two nodes, in one run.

Five processes, each served by uvicorn as in production: the registry, the provider's
node (IDN-KEMENKES, `jembatan serve`), the consumer's node (MYS-MOH, `jembatan serve`),
the sample service, and this one, which drives the load:

- direct (the baseline): `GET /v1/status/{id}` on the service;
- gateway: `GET /r1/ASEAN/GOV/IDN-KEMENKES/health/immunization/v1/status/{id}` on the
  consumer's node with `X-Road-Client` and an API token: that node signs and forwards the
  call, the provider's node verifies it, checks the access right and the agreement, calls
  the service and signs the answer, and both ledgers hold the call.

Each side gets CLIENTS concurrent keep-alive connections for SECONDS (after a warm-up),
then one client alone for SOLO_SECONDS (latency without queueing). The load comes from a
minimal asyncio HTTP/1.1 client, so that the client's own cost (httpx costs several times
more per call) takes as little of the two cores as possible from the servers.

Settings: JEMBATAN_BENCH_GATEWAY_SECONDS (15), JEMBATAN_BENCH_GATEWAY_CLIENTS (32),
JEMBATAN_BENCH_GATEWAY_SOLO_SECONDS (5); JEMBATAN_BENCH_GATEWAY_PYSPY names a folder to
write py-spy samples (of the thread holding the GIL) of both nodes during the loaded
gateway run (py-spy must be on PATH).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO

import httpx

from bench.harness import Result
from jembatan.accounts.services import create_user
from jembatan.accounts.tokens import create_token
from jembatan.agreements import services as agreements
from jembatan.config import load_settings
from jembatan.demo.immunization import OPENAPI, status_of
from jembatan.errors import NotFound
from jembatan.gateway import services as gateway
from jembatan.node.context import Node
from jembatan.node.services import init_node
from jembatan.registry import authority, membership

SECONDS = float(os.environ.get("JEMBATAN_BENCH_GATEWAY_SECONDS", "15"))
CLIENTS = int(os.environ.get("JEMBATAN_BENCH_GATEWAY_CLIENTS", "32"))
SOLO_SECONDS = float(os.environ.get("JEMBATAN_BENCH_GATEWAY_SOLO_SECONDS", "5"))
PYSPY = os.environ.get("JEMBATAN_BENCH_GATEWAY_PYSPY", "")
WARMUP = 2.0

HOST = "127.0.0.1"
PASSPHRASE = "bench-passphrase"  # noqa: S105  (throwaway nodes')
REGISTRY, PROVIDER, CONSUMER = "ASEAN/ORG/REGISTRY", "ASEAN/GOV/IDN-KEMENKES", "ASEAN/GOV/MYS-MOH"
SUBSYSTEM, CODE = "health", "immunization"
CLIENT = f"{CONSUMER}/portal"
GATEWAY_PREFIX = f"/r1/{PROVIDER}/{SUBSYSTEM}/{CODE}"
ANSWER = b'{"id":"P'  # how every answer of the sample service starts


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Spec:
    member: str
    name: str
    country: str
    port: int = field(default_factory=_free_port)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def folder(self, root: Path) -> Path:
        return root / self.member.rsplit("/", 1)[1]


def _env() -> dict[str, str]:
    """The nodes' environment: none of the caller's JEMBATAN_* settings (nor ours)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEMBATAN_")}
    env["JEMBATAN_KEY_PASSPHRASE"] = PASSPHRASE
    env["JEMBATAN_LOG_FORMAT"] = "json"
    return env


def _init(root: Path, spec: Spec) -> None:
    settings = load_settings(spec.folder(root), port=spec.port, host=HOST, database_url=None)
    init_node(
        settings,
        spec.member,
        spec.name,
        PASSPHRASE,
        {"public_url": spec.url, "require_two_factor": False},
    )


def _open(root: Path, spec: Spec) -> Node:
    return Node.open(load_settings(spec.folder(root), key_passphrase=PASSPHRASE))


def _spawn(args: list[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=_env(), stdout=log, stderr=subprocess.STDOUT)


def _serve(root: Path, spec: Spec) -> subprocess.Popen[bytes]:
    with (spec.folder(root) / "serve.log").open("ab") as log:
        return _spawn(
            [
                sys.executable,
                "-m",
                "jembatan",
                "serve",
                "--data-dir",
                str(spec.folder(root)),
                "--host",
                HOST,
                "--port",
                str(spec.port),
            ],
            log,
        )


def _serve_service(root: Path, port: int) -> subprocess.Popen[bytes]:
    """The sample service as a deployment would run it: uvicorn, one process."""
    with (root / "service.log").open("ab") as log:
        return _spawn(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "jembatan.demo.immunization:app",
                "--host",
                HOST,
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            log,
        )


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def _until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.2)


def _holds(node: Node, ident: str) -> bool:
    try:
        agreements.get(node, ident)
    except NotFound:
        return False
    return True


def _federate(root: Path, specs: dict[str, Spec], service_url: str) -> str:
    """Members, subsystems, an agreement, the service, its access right and an API token,
    all the real way (the running nodes' workers carry the agreement). The token."""
    registry, idn, mys = (_open(root, specs[m]) for m in (REGISTRY, PROVIDER, CONSUMER))
    try:
        anchor = membership.own_anchor(registry)
        assert anchor is not None
        for node, country in ((idn, "ID"), (mys, "MY")):
            answer = membership.join(node, anchor, country)
            authority.approve(registry, int(answer["id"]), "bench")
        authority.set_subsystem(registry, f"{PROVIDER}/{SUBSYSTEM}")
        authority.set_subsystem(registry, CLIENT)
        for node in (registry, idn, mys):
            membership.refresh(node)
        held = agreements.draft(
            idn,
            title="Immunization status lookups",
            parties=[CONSUMER],
            kinds=[gateway.service_kind(SUBSYSTEM, CODE)],
            purpose="Checking travellers' vaccination status",
            legal_basis="benchmark",
            ceiling="TLP:AMBER",
            valid_days=30,
            actor=f"{PROVIDER}/user/admin",
        )
        ident = held.terms.id
        agreements.sign(idn, ident, f"{PROVIDER}/user/admin")
        _until(lambda: _holds(mys, ident), "the proposal reaching MYS-MOH")
        agreements.sign(mys, ident, f"{CONSUMER}/user/admin")
        for node in (idn, mys):
            _until(
                lambda n=node: agreements.get(n, ident).status == "active",  # type: ignore[misc]
                f"the agreement in force at {node.member_id}",
            )
        gateway.add_service(idn, SUBSYSTEM, CODE, service_url, openapi=OPENAPI)
        gateway.grant(idn, f"{SUBSYSTEM}/{CODE}", CLIENT, f"{PROVIDER}/user/admin")
        user = create_user(mys, "portal-system", "a long enough password 1", "officer")
        return create_token(mys, user.id, "bench", "services:call", timedelta(days=1)).token
    finally:
        for node in (registry, idn, mys):
            node.close()


# The load ---------------------------------------------------------------------------------


@dataclass
class Run:
    calls: int
    seconds: float
    latencies: list[float]  # seconds
    errors: list[str]
    cpu: dict[str, float] = field(default_factory=dict)  # ms of CPU per call, by process

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def percentile(self, p: float) -> float:
        """In milliseconds."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """One HTTP/1.1 response: status, body, whether the server closes the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, close = 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value
        elif name == b"connection":
            close = value == b"close"
    if not chunked:
        return status, await reader.readexactly(length), close
    body = bytearray()
    while True:
        size = int((await reader.readline()).split(b";", 1)[0], 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            return status, bytes(body), close
        body += (await reader.readexactly(size + 2))[:-2]


async def _client(port: int, make: Callable[[int], bytes], deadline: float, run: Run) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    i = 0
    try:
        while time.perf_counter() < deadline:
            request = make(i)
            i += 1
            started = time.perf_counter()
            writer.write(request)
            status, body, close = await _response(reader)
            run.latencies.append(time.perf_counter() - started)
            run.calls += 1
            if status != 200 or not (body.startswith(ANSWER) and body.endswith(b"}")):
                run.errors.append(f"{status}: {body[:300]!r}")
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
    finally:
        writer.close()


def _drive(port: int, make: Callable[[int, int], bytes], clients: int, seconds: float) -> Run:
    """`clients` keep-alive connections, each calling in a loop for `seconds`."""
    run = Run(0, 0.0, [], [])

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _client(port, lambda i, c=c: make(c, i), deadline, run)  # type: ignore[misc]
                for c in range(clients)
            )
        )

    started = time.perf_counter()
    asyncio.run(main())
    run.seconds = time.perf_counter() - started
    return run


def _person(client: int, i: int) -> str:
    return f"P{client:03d}{i:07d}"


def _requests(service_port: int, node_port: int, token: str) -> tuple[Callable, Callable]:  # type: ignore[type-arg]
    direct_host = f"Host: {HOST}:{service_port}\r\n".encode()
    node_host = f"Host: {HOST}:{node_port}\r\n".encode()
    extra = f"X-Road-Client: {CLIENT}\r\nAuthorization: Bearer {token}\r\n".encode()

    def direct(c: int, i: int) -> bytes:
        return b"GET /v1/status/%s HTTP/1.1\r\n%s\r\n" % (_person(c, i).encode(), direct_host)

    def through(c: int, i: int) -> bytes:
        path = f"{GATEWAY_PREFIX}/v1/status/{_person(c, i)}".encode()
        return b"GET %s HTTP/1.1\r\n%s%s\r\n" % (path, node_host, extra)

    return direct, through


def _check(service_url: str, node_url: str, token: str) -> None:
    """One call each way, read with httpx: the same answer, and the gateway's headers."""
    person = _person(0, 0)
    direct = httpx.get(f"{service_url}/v1/status/{person}", timeout=30)
    through = httpx.get(
        f"{node_url}{GATEWAY_PREFIX}/v1/status/{person}",
        headers={"X-Road-Client": CLIENT, "Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if through.status_code != 200 or through.json() != direct.json() != status_of(person):
        raise RuntimeError(f"the gateway's answer differs: {through.status_code} {through.text}")
    if not through.headers.get("x-road-request-hash"):
        raise RuntimeError("the gateway's answer has no X-Road-Request-Hash")


def _logged(db: Path) -> tuple[int, int]:
    """Calls in the node's call log, and its service.* ledger entries."""
    with sqlite3.connect(db, timeout=30) as conn:
        calls = conn.execute("SELECT count(*) FROM gateway_calls").fetchone()
        entries = conn.execute(
            "SELECT count(*) FROM ledger_entries WHERE type LIKE 'service.%'"
        ).fetchone()
    return int(calls[0]), int(entries[0])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(
    port: int,
    make: Callable[[int, int], bytes],
    clients: int,
    seconds: float,
    pids: dict[str, int],
) -> Run:
    """A run, with the CPU each process spent per call (ms) in `run.cpu`."""
    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    mine = time.process_time()
    run = _drive(port, make, clients, seconds)
    spent = {name: _cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    spent["load client"] = time.process_time() - mine
    run.cpu = {name: 1000 * value / max(run.calls, 1) for name, value in spent.items()}
    return run


def _pyspy(pids: dict[str, int], seconds: float) -> list[subprocess.Popen[bytes]]:
    """Sample the nodes during the loaded gateway run, when asked and py-spy is there."""
    spy = shutil.which("py-spy")
    if not PYSPY or spy is None:
        return []
    folder = Path(PYSPY)
    folder.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(max(1, int(seconds) - 1)),
                "--rate",
                "200",
                "--format",
                "raw",
                "--threads",
                "--gil",  # only the thread holding the GIL: where the CPU goes
                "--output",
                str(folder / f"{name.split()[0]}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        for name, pid in pids.items()
    ]


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _report(name: str, run: Run) -> None:
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in run.cpu.items() if v >= 0.005)
    print(
        f"  {name:<32} {run.rate:8,.0f} calls/s  p50 {run.percentile(0.5):8.2f} ms  "
        f"p99 {run.percentile(0.99):8.2f} ms  ({run.calls:,} calls, {len(run.errors)} failed)"
        + (f"\n  {'':<32} CPU ms per call: {cpu}" if cpu else ""),
        flush=True,
    )


def _setup(
    root: Path, specs: dict[str, Spec], service_port: int
) -> tuple[list[subprocess.Popen[bytes]], dict[str, int], str]:
    """Start everything; the processes (to stop), their pids by role, the API token."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for spec in specs.values():
            _init(root, spec)
        registry = _open(root, specs[REGISTRY])
        try:
            membership.set_anchor(registry, authority.init_registry(registry, "ASEAN", "ID"))
        finally:
            registry.close()
        nodes = {member: _serve(root, specs[member]) for member in specs}
        procs += nodes.values()
        service = _serve_service(root, service_port)
        procs.append(service)
        for member, proc in nodes.items():
            _wait_ready(specs[member].url + "/healthz", proc)
        service_url = f"http://{HOST}:{service_port}"
        _wait_ready(f"{service_url}/v1/status/x", service)
        token = _federate(root, specs, service_url)
        _check(service_url, specs[CONSUMER].url, token)
    except BaseException:
        _stop(procs)
        raise
    pids = {
        "consumer node": nodes[CONSUMER].pid,
        "provider node": nodes[PROVIDER].pid,
        "service": service.pid,
        "registry": nodes[REGISTRY].pid,
    }
    return procs, pids, token


def run() -> list[Result]:
    specs = {
        REGISTRY: Spec(REGISTRY, "ASEAN Jembatan Registry", "ID"),
        PROVIDER: Spec(PROVIDER, "Kementerian Kesehatan Republik Indonesia", "ID"),
        CONSUMER: Spec(CONSUMER, "Ministry of Health Malaysia", "MY"),
    }
    consumer, service_port = specs[CONSUMER], _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        procs, pids, token = _setup(root, specs, service_port)
        try:
            print(
                f"  set up in {time.perf_counter() - started:.0f} s; {CLIENTS} clients for "
                f"{SECONDS:.0f} s each way, then one for {SOLO_SECONDS:.0f} s; load average "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )
            direct, through = _requests(service_port, consumer.port, token)
            _drive(service_port, direct, CLIENTS, WARMUP)
            base = _measure(service_port, direct, CLIENTS, SECONDS, pids)
            _report("direct", base)
            warm = _drive(consumer.port, through, CLIENTS, WARMUP)
            spies = _pyspy({k: pids[k] for k in ("consumer node", "provider node")}, SECONDS)
            gw = _measure(consumer.port, through, CLIENTS, SECONDS, pids)
            for spy in spies:
                spy.wait()
            _report("through the gateway", gw)
            solo_base = _measure(service_port, direct, 1, SOLO_SECONDS, pids)
            _report("direct, one client", solo_base)
            solo_gw = _measure(consumer.port, through, 1, SOLO_SECONDS, pids)
            _report("through the gateway, one client", solo_gw)
            print(f"  load average at the end {os.getloadavg()[0]:.1f}", flush=True)
        finally:
            _stop(procs)
        runs = (base, warm, gw, solo_base, solo_gw)
        failed = [e for r in runs for e in r.errors]
        if len(failed) * 100 > sum(r.calls for r in runs):
            raise RuntimeError(f"{len(failed)} calls failed, the first: {failed[0]}")
        if failed:
            print(f"  {len(failed)} calls failed, the first: {failed[0]}")
        # Every call made is in both call logs and both ledgers (+1: the check call).
        made = 1 + warm.calls + gw.calls + solo_gw.calls
        for spec in (specs[PROVIDER], consumer):
            logged = _logged(spec.folder(root) / "jembatan.db")
            if logged != (made, made):
                raise RuntimeError(f"{spec.member} logged {logged} of {made} calls")
    ratio = gw.rate / base.rate
    print(
        f"  gateway / direct: throughput {ratio:.2f}, p50 "
        f"{gw.percentile(0.5) / base.percentile(0.5):.2f}x, p99 "
        f"{gw.percentile(0.99) / base.percentile(0.99):.2f}x; one client: p50 "
        f"{solo_gw.percentile(0.5) / solo_base.percentile(0.5):.2f}x",
        flush=True,
    )
    loaded = f"{CLIENTS} keep-alive clients"
    return [
        Result(
            "gateway",
            f"calls/s through consumer + provider node, {loaded} (baseline: direct)",
            gw.rate,
            "calls/s",
            base.rate,
            "≥ 1,000 calls/s; gateway ≤ 3x the direct call (ratio ≥ 0.33)",
        ),
        Result(
            "gateway",
            f"latency p50, {loaded}",
            gw.percentile(0.5),
            "ms",
            base.percentile(0.5),
            "ratio ≤ 3",
        ),
        Result(
            "gateway",
            f"latency p99, {loaded}",
            gw.percentile(0.99),
            "ms",
            base.percentile(0.99),
            "ratio ≤ 3",
        ),
        Result(
            "gateway",
            "latency p50, one client alone",
            solo_gw.percentile(0.5),
            "ms",
            solo_base.percentile(0.5),
            "ratio ≤ 3",
        ),
        Result(
            "gateway",
            "latency p99, one client alone",
            solo_gw.percentile(0.99),
            "ms",
            solo_base.percentile(0.99),
            "ratio ≤ 3",
        ),
    ]
