"""The ledger as users and peers meet it: entries written with the changes they record,
checkpoints that verify against the published key, proofs that an independent RFC 9162
verifier accepts, tamper detection by `ledger verify`, and witnesses catching a fork."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update

from jembatan.accounts import services as accounts
from jembatan.accounts.tokens import create_token
from jembatan.errors import Conflict
from jembatan.exchange import delivery, services
from jembatan.ledger import services as ledger
from jembatan.ledger import verify, witness
from jembatan.ledger.entries import Event, record
from jembatan.ledger.models import Checkpoint, LedgerEntry, LedgerTile, LedgerTree
from jembatan.node.context import Node
from jembatan.registry.peers import send_signed
from jembatan.web.app import create_app
from tests.conftest import add_user, login
from tests.exchange.test_interfaces import _env
from tests.fed import Federation, FederationFactory
from tests.ledger.c2sp import check_note_independently
from tests.ledger.rfc9162 import mth, path, proof
from tests.node.test_cli import run


def _types(node: Node) -> list[str]:
    with node.db() as s:
        return list(s.scalars(select(LedgerEntry.type).order_by(LedgerEntry.leaf_index)))


def _size(node: Node) -> int:
    with node.db() as s:
        return int(s.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def test_entry_and_change_commit_together_or_not_at_all(node: Node) -> None:
    accounts.create_user(node, "siti", "correct horse battery", "officer", actor="ops")
    assert _types(node) == ["user.created"]
    with pytest.raises(Conflict):
        accounts.create_user(node, "siti", "correct horse battery", "officer")

    def failing_change() -> None:
        with node.transaction() as s:
            record(s, Event("test.note", "ops", "x"))
            raise RuntimeError("the change failed after its entry was written")

    with pytest.raises(RuntimeError):
        failing_change()
    assert _types(node) == ["user.created"]
    [entry] = ledger.search(node, ledger.Filters())
    data = json.loads(entry.data)
    assert data["actor"] == "ops"
    assert data["subject"] == "ASEAN/GOV/IDN-KEMENKES/user/siti"
    assert data["details"] == {"role": "officer"}
    # The exact bytes are RFC 8785 canonical JSON.
    assert entry.data == json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def test_exchange_steps_are_in_both_ledgers(asean: Federation) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    sent = services.send(idn, ["ASEAN/GOV/MYS"], "Week 47", b"Riau 412")
    assert delivery.run_once(idn) == 1
    mine = [e.type for e in ledger.entries_about(idn, sent.id)]
    theirs = ledger.entries_about(mys, sent.id)
    assert mine == ["message.sent", "message.delivered"]
    assert [e.type for e in theirs] == ["message.received"]
    received = json.loads(theirs[0].data)
    assert received["hashes"]["envelope"] == sent.envelope_sha256
    assert received["details"]["classification"] == "TLP:AMBER"
    assert b"Riau" not in theirs[0].data
    assert b"Week 47" not in theirs[0].data
    # A refusal stores no message, but the ledger keeps that it happened and why.
    answer = send_signed(idn, "POST", mys.settings.base_url + "/fed/v1/envelopes", b"{}")
    assert answer.status_code == 422
    refused = ledger.search(mys, ledger.Filters(type="message.refused"))
    assert refused
    assert refused[0].actor == "ASEAN/GOV/IDN"


def test_checkpoint_and_proofs_verify_independently(asean: Federation) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    for i in range(5):
        services.send(idn, ["ASEAN/GOV/MYS"], f"n{i}", b"x")
    first = ledger.issue_checkpoint(idn, force=True)
    assert first is not None
    for i in range(12):
        services.send(idn, ["ASEAN/GOV/MYS"], f"m{i}", b"y")
    ledger.issue_checkpoint(idn, force=True)
    url = idn.settings.base_url
    text = httpx.get(url + "/api/v1/ledger/checkpoint").text
    jwks = httpx.get(url + "/.well-known/jembatan").json()["jwks"]["keys"]
    check_note_independently(text, "ASEAN/GOV/IDN", jwks)
    size = int(text.split("\n")[1])
    root = _b64(text.split("\n")[2])
    # A peer reads entries and proofs with signed requests.
    got = send_signed(mys, "GET", f"{url}/api/v1/ledger/entries?start=0&end={size}")
    assert got.status_code == 200, got.text
    data = [_b64(e["data"]) for e in got.json()["entries"]]
    assert [e["index"] for e in got.json()["entries"]] == list(range(size))
    assert mth(data) == root
    for index in range(size):
        answer = send_signed(
            mys, "GET", f"{url}/api/v1/ledger/proof/inclusion?index={index}&size={size}"
        ).json()
        assert [_b64(h) for h in answer["hashes"]] == path(index, data)
    old = first.size
    answer = send_signed(
        mys, "GET", f"{url}/api/v1/ledger/proof/consistency?from={old}&to={size}"
    ).json()
    assert answer == {"from": old, "to": size, "hashes": answer["hashes"]}
    assert [_b64(h) for h in answer["hashes"]] == proof(old, data)
    assert mth(data[:old]) == first.root


def test_ledger_api_is_for_auditors_and_peers(node: Node, client: TestClient) -> None:
    auditor = add_user(node, "audra", "auditor")
    officer = add_user(node, "omar", "officer")
    for i in range(3):
        with node.transaction() as s:
            record(s, Event("test.note", "ops", f"n{i}"))
    ledger.issue_checkpoint(node, force=True)
    assert client.get("/api/v1/ledger/checkpoint").status_code == 200
    anonymous = client.get("/api/v1/ledger/entries?start=0&end=3")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    weak = create_token(node, officer, "t", "messages:read", timedelta(days=1)).token
    denied = client.get(
        "/api/v1/ledger/entries?start=0&end=3", headers={"Authorization": f"Bearer {weak}"}
    )
    assert denied.status_code == 403
    token = create_token(node, auditor, "t", "ledger:read", timedelta(days=1)).token
    auth = {"Authorization": f"Bearer {token}"}
    ok = client.get("/api/v1/ledger/entries?start=1&end=3", headers=auth)
    assert [e["index"] for e in ok.json()["entries"]] == [1, 2]
    for bad in (
        "/api/v1/ledger/entries?start=2&end=1",
        "/api/v1/ledger/entries?start=9&end=12",
        "/api/v1/ledger/proof/inclusion?index=3&size=3",
        "/api/v1/ledger/proof/inclusion?index=0&size=99",
        "/api/v1/ledger/proof/consistency?from=3&to=2",
    ):
        answer = client.get(bad, headers=auth)
        assert answer.status_code == 422, bad
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["detail"]
    # An administrator runs the node but does not read its audit trail.
    with pytest.raises(Exception, match="scope"):
        create_token(node, add_user(node, "ada", "admin"), "t", "ledger:read", timedelta(days=1))


def _tamper(node: Node, statement: object) -> None:
    with node.transaction() as s:
        s.execute(statement)  # type: ignore[call-overload]


def test_verify_names_the_first_bad_index(node: Node) -> None:
    for i in range(600):
        with node.transaction() as s:
            record(s, Event("test.note", "ops", f"n{i}"))
        if i in (99, 400):
            ledger.issue_checkpoint(node, force=True)
    ledger.issue_checkpoint(node, force=True)
    assert verify.verify_local(node).ok
    env, d = _env(node), ["-d", str(node.data_dir)]
    done = run("ledger", "verify", *d, env=env)
    assert done.returncode == 0, done.stderr
    assert "ok: ASEAN/GOV/IDN-KEMENKES, 600 entries" in done.stdout

    # One entry changed: named exactly.
    with node.db() as s:
        original = s.get(LedgerEntry, 321)
        assert original is not None
        kept = bytes(original.data)
    _tamper(node, update(LedgerEntry).where(LedgerEntry.leaf_index == 321).values(data=b"{}"))
    done = run("ledger", "verify", *d, "--json", env=env)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["first_bad_index"] == 321
    assert not report["ok"]
    _tamper(node, update(LedgerEntry).where(LedgerEntry.leaf_index == 321).values(data=kept))

    # One stored leaf hash changed: named exactly.
    with node.db() as s:
        tile = bytes(
            s.scalar(
                select(LedgerTile.hashes).where(LedgerTile.level == 0, LedgerTile.tile_index == 1)
            )
            or b""
        )
    bad = tile[: 7 * 32] + bytes(32) + tile[8 * 32 :]
    where = (LedgerTile.level == 0) & (LedgerTile.tile_index == 1)
    _tamper(node, update(LedgerTile).where(where).values(hashes=bad))
    assert verify.verify_local(node).first_bad_index == 256 + 7
    _tamper(node, update(LedgerTile).where(where).values(hashes=tile))
    assert verify.verify_local(node).ok

    # Entries and tree rewritten together from index 150: the signed checkpoints catch it.
    _tamper(node, update(LedgerEntry).where(LedgerEntry.leaf_index == 150).values(data=b"[]"))
    _tamper(node, delete(LedgerTile))
    _tamper(node, update(LedgerTree).values(size=0))
    ledger.integrate(node)
    report = verify.verify_local(node)
    assert not report.ok
    assert report.first_bad_index == 100  # between the checkpoints at 100 and 401
    done = run("ledger", "verify", *d, env=env)
    assert done.returncode == 1
    assert "first bad index: 100" in done.stderr


def test_prove_and_checkpoint_commands(node: Node) -> None:
    for i in range(10):
        with node.transaction() as s:
            record(s, Event("test.note", "ops", f"n{i}"))
    env, d = _env(node), ["-d", str(node.data_dir)]
    early = run("ledger", "prove", *d, "--index", "3", env=env)
    assert early.returncode == 2
    assert "not in a signed checkpoint" in early.stderr
    issued = run("ledger", "checkpoint", *d, "--issue", env=env)
    assert issued.returncode == 0, issued.stderr
    assert issued.stdout.startswith("ASEAN/GOV/IDN-KEMENKES\n10\n")
    proved = json.loads(run("ledger", "prove", *d, "--index", "3", "--json", env=env).stdout)
    with node.db() as s:
        data = [bytes(d) for d in s.scalars(select(LedgerEntry.data).order_by("leaf_index"))]
    assert [_b64(h) for h in proved["hashes"]] == path(3, data)
    assert proved["entry"]["subject"] == "n3"
    listed = json.loads(
        run("ledger", "entries", *d, "--type", "test.note", "--json", env=env).stdout
    )
    assert [e["subject"] for e in listed][:2] == ["n9", "n8"]


@pytest.fixture
def trio(federations: FederationFactory) -> Federation:
    return federations.build("ASEAN", ("IDN", "MYS", "SGP"))


def test_witnesses_cosign_and_catch_a_fork(trio: Federation) -> None:
    nodes = [trio.node(c) for c in ("IDN", "MYS", "SGP")]
    idn, mys, sgp = nodes
    services.send(idn, ["ASEAN/GOV/MYS"], "hello", b"x")
    for n in [*nodes, trio.registry]:  # the registry is a member with a ledger too
        ledger.issue_checkpoint(n, force=True)
    for n in nodes:
        outcomes = {o.peer: o.status for o in witness.witness_all(n)}
        assert all(status == "cosigned" for status in outcomes.values()), outcomes
    text = ledger.current_checkpoint(idn)
    report = verify.verify_remote(
        idn.settings.base_url,
        httpx.Client(),
        lambda target: send_signed(mys, "GET", target),
        mys,
    )
    assert report.ok, report.problems
    assert {"ASEAN/GOV/MYS", "ASEAN/GOV/SGP"} <= set(report.cosigned_by)
    assert "\u2014 ASEAN/GOV/SGP " in text
    assert "\u2014 ASEAN/GOV/MYS " in text

    # IDN grows honestly; the witnesses check consistency and cosign again.
    services.send(idn, ["ASEAN/GOV/SGP"], "again", b"y")
    ledger.issue_checkpoint(idn, force=True)
    assert witness.witness_peer(mys, "ASEAN/GOV/IDN").status == "cosigned"

    # Then IDN rewrites its history and signs a different tree of the same size: a fork.
    with idn.db() as s:
        size = ledger.tree_size(s)
    _tamper(idn, update(LedgerEntry).where(LedgerEntry.leaf_index == 0).values(data=b"{}"))
    _tamper(idn, delete(LedgerTile))
    _tamper(idn, update(LedgerTree).values(size=0))
    _tamper(idn, delete(Checkpoint))
    ledger.issue_checkpoint(idn, force=True)
    with idn.db() as s:
        assert ledger.tree_size(s) == size
    # MYS saw the honest tree of this size: two roots for one size is a fork. SGP last saw
    # a smaller tree, and the new one does not extend it.
    outcome = witness.witness_peer(mys, "ASEAN/GOV/IDN")
    assert (outcome.status, outcome.detail) == ("alert", "fork")
    outcome = witness.witness_peer(sgp, "ASEAN/GOV/IDN")
    assert (outcome.status, outcome.detail) == ("alert", "inconsistent")
    [alert] = witness.alerts(mys)
    assert alert.kind == "fork"
    assert alert.seen_note != alert.new_note
    assert witness.witness_peer(mys, "ASEAN/GOV/IDN").status == "alert"
    assert len(witness.alerts(mys)) == 1  # the same evidence is kept once
    assert ledger.search(sgp, ledger.Filters(type="ledger.alert"))
    metrics = httpx.get(mys.settings.base_url + "/metrics").text
    assert "jembatan_ledger_alerts 1.0" in metrics
    # Once IDN's operators have explained it, MYS starts afresh from the new tree.
    assert witness.forget(mys, "ASEAN/GOV/IDN")
    assert witness.witness_peer(mys, "ASEAN/GOV/IDN").status == "cosigned"
    forked = ledger.current_checkpoint(idn)  # SGP still refuses to cosign the fork
    assert "\u2014 ASEAN/GOV/SGP " not in forked
    assert "\u2014 ASEAN/GOV/MYS " in forked


def test_audit_explorer_pages(asean: Federation) -> None:
    idn = asean.node("IDN")
    sent = services.send(idn, ["ASEAN/GOV/MYS"], "Week 47", b"Riau 412")
    delivery.run_once(idn)
    ledger.issue_checkpoint(idn, force=True)
    add_user(idn, "audra", "auditor")
    add_user(idn, "omar", "officer")
    with TestClient(create_app(idn)) as client:
        login(client, "audra")
        page = client.get("/ledger?type=message.sent")
        assert page.status_code == 200
        cells = page.text.split("<tbody>")[1]
        assert "message.sent" in cells
        assert "message.delivered" not in cells
        [index] = [e.leaf_index for e in ledger.entries_about(idn, sent.id)][:1]
        detail = client.get(f"/ledger/entries/{index}")
        assert "Verified" in detail.text
        assert sent.envelope_sha256 in detail.text
        assert "ASEAN/GOV/IDN" in client.get("/ledger/checkpoints").text
        assert client.get("/ledger?since=yesterday").status_code == 422
    with TestClient(create_app(idn)) as client:
        login(client, "omar")
        assert client.get("/ledger").status_code == 403
        message = client.get(f"/messages/{sent.id}")
        assert f'href="/ledger/entries/{index}"' in message.text
        assert client.get(f"/ledger/entries/{index}").status_code == 200
        login_entry = ledger.search(idn, ledger.Filters(type="user.login"))[0].leaf_index
        assert client.get(f"/ledger/entries/{login_entry}").status_code == 403
