"""Agreements between live nodes: signed by every party through envelopes, enforced on
send and again on arrival, with every step and decision in the ledger."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from jembatan.accounts.tokens import create_token
from jembatan.agreements import retention, rules
from jembatan.agreements import services as agreements
from jembatan.errors import Conflict, Forbidden, InvalidInput, NotFound
from jembatan.exchange import delivery, services
from jembatan.exchange.envelope import Letter, seal
from jembatan.exchange.models import Delivery, Message
from jembatan.identifiers import uuid7
from jembatan.ledger import services as ledger
from jembatan.node.context import Node
from jembatan.registry.membership import federation
from jembatan.registry.peers import send_signed
from jembatan.store.schema import utcnow
from jembatan.web.app import create_app
from tests.conftest import add_user, csrf_of, login
from tests.exchange.test_interfaces import _env
from tests.fed import Federation, FederationFactory, agree, deliver_all
from tests.node.test_cli import run


@pytest.fixture
def trio(federations: FederationFactory) -> Federation:
    return federations.build("ASEAN", ("IDN", "MYS", "SGP"), agreed=False)


def _nodes(fed: Federation) -> list[Node]:
    return [fed.node(c) for c in ("IDN", "MYS", "SGP")]


def _outbox(node: Node) -> int:
    with node.db() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.box == "outbox", Message.kind == "message")
            )
            or 0
        )


def _types(node: Node, subject: str) -> list[str]:
    return [e.type for e in ledger.entries_about(node, subject)]


def test_signed_by_every_party_then_enforced_both_ways(trio: Federation) -> None:
    idn, mys, _ = _nodes(trio)
    with pytest.raises(Forbidden, match="no active agreement between"):
        services.send(idn, ["ASEAN/GOV/MYS"], "Before", b"x")
    assert _outbox(idn) == 0
    refused = ledger.search(idn, ledger.Filters(type="agreement.refused"))
    assert json.loads(refused[0].data)["details"]["recipients"] == ["ASEAN/GOV/MYS"]

    held = agreements.draft(
        idn,
        title="Dengue surveillance",
        parties=["ASEAN/GOV/MYS"],
        kinds=["message", "health.surveillance"],
        purpose="Early warning of dengue outbreaks",
        legal_basis="IHR (2005) Article 44",
        ceiling="TLP:AMBER",
        actor="test",
    )
    ident = held.terms.id
    assert held.status == "draft"
    with pytest.raises(Forbidden, match=f"agreement {ident} is not active here"):
        services.send(idn, ["ASEAN/GOV/MYS"], "Draft only", b"x", agreement=ident)
    agreements.sign(idn, ident, "test")
    deliver_all(_nodes(trio))
    theirs = agreements.get(mys, ident)
    assert theirs.status == "proposed"
    assert theirs.missing == ["ASEAN/GOV/MYS"]
    with pytest.raises(Forbidden):  # signed by one party only
        services.send(idn, ["ASEAN/GOV/MYS"], "Half signed", b"x")
    agreements.sign(mys, ident, "test")
    deliver_all(_nodes(trio))
    assert agreements.get(idn, ident).status == "active"
    assert agreements.get(mys, ident).status == "active"
    with pytest.raises(Conflict):
        agreements.sign(mys, ident, "test")

    sent = services.send(idn, ["ASEAN/GOV/MYS"], "Week 47", b"412 cases")
    assert sent.agreement_id == ident
    deliver_all(_nodes(trio))
    [got] = services.list_messages(mys, "inbox")
    assert got.agreement_id == ident
    # Every step is in both ledgers.
    subject = f"{ident}/v1"
    assert _types(idn, subject) == [
        "agreement.drafted",
        "agreement.signed",
        "agreement.signed",
        "agreement.activated",
    ]
    assert _types(mys, subject) == ["agreement.signed", "agreement.signed", "agreement.activated"]

    # Each rule refuses with its name.
    with pytest.raises(Forbidden, match=r"no flow of 'tax\.report'"):
        services.send(idn, ["ASEAN/GOV/MYS"], "Tax", b"x", kind="tax.report")
    with pytest.raises(InvalidInput, match="reserved for agreement steps"):
        services.send(idn, ["ASEAN/GOV/MYS"], "Sneaky", b"x", kind="agreement")
    with pytest.raises(Forbidden, match="TLP:RED is above the ceiling TLP:AMBER"):
        services.send(
            idn,
            ["ASEAN/GOV/MYS"],
            "Secret",
            b"x",
            classification="TLP:RED",
            readers=["ASEAN/GOV/MYS/user/ana"],
        )
    with pytest.raises(Forbidden, match="no active agreement between"):
        services.send(idn, ["ASEAN/GOV/SGP"], "Not a party", b"x")
    later = utcnow() + timedelta(days=400)
    with pytest.raises(Forbidden, match="expired at"):
        rules.choose(idn, idn.member_id, [mys.member_id], "message", "TLP:GREEN", ident, at=later)

    # Suspended by MYS: refused on both ends, the notice travels as an envelope.
    agreements.end(mys, ident, "suspend", "audit under way", "test")
    deliver_all(_nodes(trio))
    assert agreements.get(idn, ident).status == "suspended"
    with pytest.raises(Forbidden, match="is not active here"):
        services.send(idn, ["ASEAN/GOV/MYS"], "Now", b"x", agreement=ident)
    agreements.end(idn, ident, "revoke", "replaced", "test")
    deliver_all(_nodes(trio))
    assert agreements.get(mys, ident).status == "revoked"
    assert "agreement.revoked" in _types(mys, subject)


def _forged(sender: Node, recipient: Node, payload: bytes = b"x", **fields: object) -> bytes:
    """An envelope sealed by hand, as a sender that skips its own checks would."""
    now = utcnow().replace(microsecond=0)
    view = federation(sender)
    assert view.own is not None
    key = next(iter(view.own.keys_of(recipient.member_id, "enc", now))).jwk
    letter = Letter(
        mid=uuid7(),
        conversation=uuid7(),
        sender=sender.member_id,
        recipients=(recipient.member_id,),
        created=now,
        expires=now + timedelta(days=1),
        subject="forged",
        classification=str(fields.pop("classification", "TLP:GREEN")),
        content_type=str(fields.pop("content_type", "text/plain")),
        **fields,  # type: ignore[arg-type]
    )
    return seal(letter, payload, sender.keys().signer(), [key])


def _hand_over(sender: Node, recipient: Node, envelope: bytes) -> httpx.Response:
    url = recipient.settings.base_url + "/fed/v1/envelopes"
    return send_signed(sender, "POST", url, envelope, "application/jose+json")


def test_receiver_refuses_a_sender_that_skips_its_checks(trio: Federation) -> None:
    idn, mys, _ = _nodes(trio)
    ident = agree([idn, mys], kinds=("message",), ceiling="TLP:GREEN")
    cases = [
        (_forged(idn, mys), "names no agreement"),
        (_forged(idn, mys, agreement=ident, classification="TLP:AMBER"), "above the ceiling"),
        (_forged(idn, mys, agreement=ident, kind="health.surveillance"), "no flow of"),
        (_forged(idn, mys, agreement="not-an-agreement"), "is not active here"),
    ]
    for envelope, reason in cases:
        answer = _hand_over(idn, mys, envelope)
        assert answer.status_code == 403, answer.text
        assert reason in answer.json()["detail"]
    assert services.list_messages(mys, "inbox") == []
    assert len(ledger.search(mys, ledger.Filters(type="message.refused"))) == len(cases)
    metrics = httpx.get(mys.settings.base_url + "/metrics").text
    assert 'jembatan_envelopes_refused_total{sender="ASEAN/GOV/IDN",status="403"} 4.0' in metrics


def test_cli_and_api_and_portal(trio: Federation) -> None:
    idn, mys, sgp = _nodes(trio)
    d_idn = ["-d", str(idn.data_dir)]
    made = run(
        "agreement",
        "create",
        *d_idn,
        "--title",
        "Flood relief",
        "--with",
        "ASEAN/GOV/SGP",
        "--purpose",
        "Coordinate boats",
        "--legal-basis",
        "ASEAN AADMER",
        "--json",
        env=_env(idn),
    )
    assert made.returncode == 0, made.stderr
    ident = json.loads(made.stdout)["id"]
    signed = run("agreement", "sign", ident, *d_idn, "--json", env=_env(idn))
    assert json.loads(signed.stdout)["status"] == "proposed"
    again = run("agreement", "sign", ident, *d_idn, env=_env(idn))
    assert again.returncode == 4
    assert "already signed" in again.stderr
    deliver_all(_nodes(trio))

    # SGP's administrator signs through the API; an officer may not (admin only here).
    admin = add_user(sgp, "ana", "admin")
    officer = add_user(sgp, "olu", "officer")
    weak = create_token(sgp, officer, "t", "agreements:write", timedelta(days=1)).token
    token = create_token(sgp, admin, "t", "agreements:write agreements:read", timedelta(days=1))
    with TestClient(create_app(sgp)) as client:
        denied = client.post(
            f"/api/v1/agreements/{ident}/sign", headers={"Authorization": f"Bearer {weak}"}
        )
        assert denied.status_code == 403
        auth = {"Authorization": f"Bearer {token.token}"}
        ok = client.post(f"/api/v1/agreements/{ident}/sign", headers=auth)
        assert ok.status_code == 200, ok.text
        assert ok.json()["status"] == "active"
        listed = client.get("/api/v1/agreements", headers=auth).json()
        assert [a["id"] for a in listed] == [ident]
        bad = client.post("/api/v1/agreements", headers=auth, json={"title": "x"})
        assert bad.status_code == 422
    deliver_all(_nodes(trio))
    shown = json.loads(run("agreement", "show", ident, *d_idn, "--json", env=_env(idn)).stdout)
    assert shown["status"] == "active"
    assert shown["signed_by"] == ["ASEAN/GOV/IDN", "ASEAN/GOV/SGP"]

    # MYS drafts and signs one with SGP in the portal.
    add_user(mys, "mia", "admin")
    with TestClient(create_app(mys)) as client:
        login(client, "mia")
        form = client.get("/agreements/new")
        answer = client.post(
            "/agreements",
            data={
                "csrf_token": csrf_of(form.text),
                "title": "Haze monitoring",
                "parties": ["ASEAN/GOV/SGP"],
                "kinds": "message",
                "purpose": "Air quality",
                "legal_basis": "ASEAN haze agreement",
                "ceiling": "TLP:GREEN",
                "valid_days": "90",
            },
            follow_redirects=False,
        )
        assert answer.status_code == 303
        page = client.get(answer.headers["location"])
        assert "Haze monitoring" in page.text
        assert "Sign for this node" in page.text
        detail_url = answer.headers["location"].split("?")[0]
        signed_page = client.post(detail_url + "/sign", data={"csrf_token": csrf_of(page.text)})
        assert "Awaiting signatures" in signed_page.text
        assert "Haze monitoring" in client.get("/agreements").text
    with pytest.raises(Forbidden):
        services.send(mys, ["ASEAN/GOV/SGP"], "Haze", b"x")
    deliver_all(_nodes(trio))
    haze = next(h for h in agreements.list_agreements(sgp) if h.terms.title == "Haze monitoring")
    agreements.sign(sgp, haze.terms.id, "test")
    deliver_all(_nodes(trio))
    haze_sent = services.send(mys, ["ASEAN/GOV/SGP"], "Haze", b"x", classification="TLP:GREEN")
    assert haze_sent.agreement_id == haze.terms.id

    # Amending in the portal: the form comes filled in with the terms in force, and saving
    # drafts version 2 of the same agreement (which the parties then sign).
    with TestClient(create_app(mys)) as client:
        login(client, "mia")
        detail = client.get(f"/agreements/{haze.terms.id}")
        assert f'href="/agreements/{haze.terms.id}/amend"' in detail.text
        form = client.get(f"/agreements/{haze.terms.id}/amend")
        assert 'value="Haze monitoring"' in form.text
        assert f'name="amends" value="{haze.terms.id}"' in form.text
        answer = client.post(
            "/agreements",
            data={
                "csrf_token": csrf_of(form.text),
                "amends": haze.terms.id,
                "title": "Haze monitoring",
                "parties": ["ASEAN/GOV/SGP"],
                "kinds": "message air.quality",
                "one_way": "ASEAN/GOV/SGP>ASEAN/GOV/MYS:hotspot.report",
                "purpose": "Air quality",
                "legal_basis": "ASEAN haze agreement",
                "ceiling": "TLP:GREEN",
                "valid_days": "90",
            },
            follow_redirects=False,
        )
        assert answer.status_code == 303
        # A one-way flow written wrong is refused with the form kept as typed.
        bad = client.post(
            "/agreements",
            data={
                "csrf_token": csrf_of(form.text),
                "title": "Haze hotspots",
                "parties": ["ASEAN/GOV/SGP"],
                "kinds": "",
                "one_way": "ASEAN/GOV/SGP to MYS",
                "purpose": "Air quality",
                "legal_basis": "ASEAN haze agreement",
            },
        )
        assert bad.status_code == 422
        assert "FROM&gt;TO:kind,kind" in bad.text
        assert "ASEAN/GOV/SGP to MYS</textarea>" in bad.text
        again = client.get(f"/agreements/{haze.terms.id}/amend")
        assert "ASEAN/GOV/SGP&gt;ASEAN/GOV/MYS:hotspot.report</textarea>" in again.text
    amended = agreements.get(mys, haze.terms.id)
    assert (amended.terms.version, amended.status) == (2, "draft")
    assert "air.quality" in amended.terms.flows[0].kinds
    assert [(f.sender, f.recipient, f.kinds) for f in amended.terms.flows[1:]] == [
        ("ASEAN/GOV/SGP", "ASEAN/GOV/MYS", ("hotspot.report",))
    ]
    assert agreements.get(mys, haze.terms.id, 1).status == "active"  # until v2 is signed


def _agreement(a: Node, b: Node, nodes: list[Node], **rules: object) -> str:
    held = agreements.draft(
        a,
        title="Case exchange",
        parties=[b.member_id],
        kinds=["health.cases"],
        purpose="Cross-border contact tracing",
        legal_basis="IHR (2005)",
        actor="test",
        **rules,  # type: ignore[arg-type]
    )
    agreements.sign(a, held.terms.id, "test")
    deliver_all(nodes)
    agreements.sign(b, held.terms.id, "test")
    deliver_all(nodes)
    return held.terms.id


def test_field_rules_hold_on_what_the_receiver_stores(trio: Federation) -> None:
    idn, mys, sgp = nodes = _nodes(trio)
    strict = _agreement(
        idn, mys, nodes, deny_fields=["patient.name"], pseudonymise_fields=["patient.nik"]
    )
    lenient = _agreement(
        idn,
        mys,
        nodes,
        allow_fields=["week", "patient.age"],
        pseudonymise_fields=["patient.nik"],
        denied="remove",
    )
    other = _agreement(idn, sgp, nodes, pseudonymise_fields=["patient.nik"])
    case = {"week": "2026-W47", "patient": {"nik": "3171012345670001", "name": "Budi", "age": 34}}
    raw = json.dumps(case).encode()

    def send(
        to: Node, agreement: str, payload: bytes = raw, content_type: str = "application/json"
    ) -> Message:
        return services.send(
            idn,
            [to.member_id],
            "Case",
            payload,
            content_type,
            kind="health.cases",
            agreement=agreement,
        )

    with pytest.raises(Forbidden, match=r"field patient\.name may not leave"):
        send(mys, strict)
    with pytest.raises(Exception, match="must be JSON"):
        send(mys, strict, b"name,nik\nBudi,3171", "text/csv")
    first, second = send(mys, lenient), send(mys, lenient)
    third = send(sgp, other)
    deliver_all(nodes)
    stored = [
        json.loads(services.read_payload(mys, m)) for m in services.list_messages(mys, "inbox")
    ]
    assert {m.id for m in services.list_messages(mys, "inbox")} == {first.id, second.id}
    for body in stored:
        assert set(body) == {"week", "patient"}
        assert set(body["patient"]) == {"nik", "age"}  # the name was removed
        assert body["patient"]["nik"].startswith("pse_")
        assert "3171012345670001" not in json.dumps(body)
    assert stored[0]["patient"]["nik"] == stored[1]["patient"]["nik"]  # stable within one
    at_sgp = json.loads(services.read_payload(sgp, services.list_messages(sgp, "inbox")[0]))
    assert at_sgp["patient"]["nik"] != stored[0]["patient"]["nik"]  # differs across them
    assert third.agreement_id == other

    # A sender that skips the rules is refused by the receiver: nothing stored.
    raw_nik = json.dumps({"patient": {"nik": "3171012345670001"}}).encode()
    envelope = _forged(
        idn,
        mys,
        raw_nik,
        classification="TLP:AMBER",
        content_type="application/json",
        agreement=strict,
        kind="health.cases",
    )
    answer = _hand_over(idn, mys, envelope)
    assert answer.status_code == 403
    assert "must arrive pseudonymised" in answer.json()["detail"]
    assert len(services.list_messages(mys, "inbox")) == 2


def test_retention_and_revocation_purge_content_and_log_it(trio: Federation) -> None:
    idn, mys, _ = nodes = _nodes(trio)
    kept = agreements.draft(
        idn,
        title="Short-lived",
        parties=[mys.member_id],
        kinds=["message"],
        purpose="p",
        legal_basis="b",
        retention_days=1,
        actor="test",
    ).terms.id
    agreements.sign(idn, kept, "test")
    deliver_all(nodes)
    agreements.sign(mys, kept, "test")
    deliver_all(nodes)
    old = services.send(idn, [mys.member_id], "Old", b"old data", agreement=kept)
    deliver_all(nodes)
    [got] = services.list_messages(mys, "inbox")
    assert mys.blobs.size(got.envelope_sha256) > 0
    assert retention.purge_due(mys) == 0  # still within retention
    with mys.transaction() as s:
        s.execute(
            update(Message)
            .where(Message.id == old.id)
            .values(received_at=utcnow() - timedelta(days=2))
        )
    assert retention.purge_due(mys) == 1
    assert services.list_messages(mys, "inbox") == []
    with pytest.raises(NotFound):
        mys.blobs.size(got.envelope_sha256)
    [purged] = ledger.search(mys, ledger.Filters(type="data.purged"))
    facts = json.loads(purged.data)
    assert facts["subject"] == old.id
    assert facts["hashes"]["envelope"] == got.envelope_sha256

    # Revoked with purge by the sender: the recipient purges what it got under it.
    services.send(idn, [mys.member_id], "Newer", b"more data", agreement=kept)
    deliver_all(nodes)
    assert len(services.list_messages(mys, "inbox")) == 1
    agreements.end(idn, kept, "revoke", "no longer needed", "test", purge=True)
    deliver_all(nodes)
    assert agreements.get(mys, kept).status == "revoked"
    assert services.list_messages(mys, "inbox") == []
    assert len(ledger.search(mys, ledger.Filters(type="data.purged"))) == 2


def test_forwarding_follows_the_onward_sharing_rule(trio: Federation) -> None:
    idn, mys, sgp = nodes = _nodes(trio)
    closed = agree([idn, mys], kinds=("message",), ceiling="TLP:AMBER")
    received = services.send(idn, [mys.member_id], "Closed", b"stays here", agreement=closed)
    deliver_all(nodes)
    agree([mys, sgp], kinds=("message",), ceiling="TLP:AMBER")
    with pytest.raises(Forbidden, match="does not allow onward sharing"):
        services.forward(mys, received.id, [sgp.member_id])
    held = agreements.draft(
        idn,
        title="Open",
        parties=[mys.member_id],
        kinds=["message"],
        purpose="p",
        legal_basis="b",
        onward_sharing=True,
        actor="test",
    )
    agreements.sign(idn, held.terms.id, "test")
    deliver_all(nodes)
    agreements.sign(mys, held.terms.id, "test")
    deliver_all(nodes)
    shared = services.send(idn, [mys.member_id], "Open", b"pass it on", agreement=held.terms.id)
    deliver_all(nodes)
    forwarded = services.forward(mys, shared.id, [sgp.member_id])
    deliver_all(nodes)
    [got] = services.list_messages(sgp, "inbox")
    assert got.subject == "Fwd: Open"
    assert services.read_payload(sgp, got) == b"pass it on"
    assert got.classification == shared.classification
    [sent] = ledger.entries_about(mys, forwarded.id)[:1]
    assert json.loads(sent.data)["details"]["forwarded_from"] == shared.id
    # Through the CLI too, and a sent message cannot be forwarded.
    done = run(
        "message",
        "forward",
        shared.id,
        "--to",
        sgp.member_id,
        "-d",
        str(mys.data_dir),
        env=_env(mys),
    )
    assert done.returncode == 0, done.stderr
    own = run(
        "message",
        "forward",
        forwarded.id,
        "--to",
        sgp.member_id,
        "-d",
        str(mys.data_dir),
        env=_env(mys),
    )
    assert own.returncode == 2
    assert "only a received message" in own.stderr
    add_user(mys, "omar", "officer")
    with TestClient(create_app(mys)) as client:
        login(client, "omar")
        page = client.get(f"/messages/{received.id}")
        assert "Forward to" in page.text
        refused = client.post(
            f"/messages/{received.id}/forward",
            data={"csrf_token": csrf_of(page.text), "to": [sgp.member_id]},
        )
        assert refused.status_code == 403
        assert "does not allow onward sharing" in refused.text
        page = client.get(f"/messages/{shared.id}")
        moved = client.post(
            f"/messages/{shared.id}/forward",
            data={"csrf_token": csrf_of(page.text), "to": [sgp.member_id]},
            follow_redirects=False,
        )
        assert moved.status_code == 303


def test_a_party_that_missed_a_step_gets_it_again(
    trio: Federation, federations: FederationFactory
) -> None:
    idn, mys = trio.node("IDN"), trio.node("MYS")
    federations.stop(mys)
    held = agreements.draft(
        idn,
        title="Missed proposal",
        parties=[mys.member_id],
        kinds=["message"],
        purpose="testing",
        legal_basis="test fixture",
        actor="test",
    )
    agreements.sign(idn, held.terms.id, "test")
    delivery.run_once(idn)  # MYS is away: the proposal cannot go
    with idn.transaction() as s:  # ... until its envelope expires
        s.execute(update(Delivery).values(status="expired"))
    federations.start(mys)
    deliver_all([idn, mys])
    with pytest.raises(NotFound):
        agreements.get(mys, held.terms.id)
    with pytest.raises(Conflict, match="draft"):
        agreements.resend(
            idn,
            agreements.draft(
                idn,
                title="Still a draft",
                parties=[mys.member_id],
                kinds=["message"],
                purpose="testing",
                legal_basis="test fixture",
                actor="test",
            ).terms.id,
        )
    run_env = _env(idn)
    again = run("agreement", "resend", held.terms.id, "-d", str(idn.data_dir), env=run_env)
    assert again.returncode == 0, again.stderr
    deliver_all([idn, mys])
    assert agreements.get(mys, held.terms.id).status == "proposed"
    agreements.sign(mys, held.terms.id, "test")
    deliver_all([idn, mys])
    assert agreements.get(idn, held.terms.id).status == "active"
    # Sending again what a party holds already changes nothing there.
    agreements.resend(idn, held.terms.id)
    deliver_all([idn, mys])
    assert agreements.get(mys, held.terms.id).status == "active"


def test_one_way_flows(trio: Federation) -> None:
    idn, mys = trio.node("IDN"), trio.node("MYS")
    admin = add_user(idn, "ani", "admin")
    token = create_token(idn, admin, "t", "agreements:write agreements:read", timedelta(days=1))
    with TestClient(create_app(idn)) as client:
        made = client.post(
            "/api/v1/agreements",
            headers={"Authorization": f"Bearer {token.token}"},
            json={
                "title": "Case reports to Malaysia",
                "parties": ["ASEAN/GOV/MYS"],
                "kinds": [],
                "flows": [
                    {"from": "ASEAN/GOV/IDN", "to": "ASEAN/GOV/MYS", "kinds": ["health.cases"]}
                ],
                "purpose": "Contact tracing",
                "legal_basis": "IHR (2005)",
            },
        )
        assert made.status_code == 201, made.text
        ident = made.json()["id"]
        stranger = client.post(
            "/api/v1/agreements",
            headers={"Authorization": f"Bearer {token.token}"},
            json={
                "title": "x",
                "parties": ["ASEAN/GOV/MYS"],
                "flows": [{"from": "ASEAN/GOV/SGP", "to": "*", "kinds": ["message"]}],
                "purpose": "x",
                "legal_basis": "x",
            },
        )
        assert stranger.status_code == 422
        assert "not a party" in stranger.json()["detail"]
    agreements.sign(idn, ident, "test")
    deliver_all([idn, mys])
    agreements.sign(mys, ident, "test")
    deliver_all([idn, mys])
    sent = services.send(idn, ["ASEAN/GOV/MYS"], "Case", b"{}", kind="health.cases")
    assert sent.agreement_id == ident
    with pytest.raises(Forbidden, match=r"no flow of 'health\.cases' from ASEAN/GOV/MYS"):
        services.send(mys, ["ASEAN/GOV/IDN"], "Case back", b"{}", kind="health.cases")
    bad = run(
        "agreement", "create", "-d", str(idn.data_dir), "--title", "t", "--with", "ASEAN/GOV/MYS",
        "--purpose", "p", "--legal-basis", "l", "--flow", "ASEAN/GOV/IDN:message", env=_env(idn),
    )  # fmt: skip
    assert bad.returncode == 2
    assert "FROM>TO:kind,kind" in bad.stderr


def test_flows_can_name_one_workspace_or_one_dataset() -> None:
    """A flow kind `workspace:ID` (or `dataset:ID`) covers that one only; the family name
    covers every one; anything else is refused, naming the rule."""
    from jembatan.agreements.terms import Terms, parse_terms, refusal

    a, b = "ASEAN/GOV/IDN", "ASEAN/GOV/MYS"
    base = {
        "id": "t-1",
        "version": 1,
        "title": "Scoped",
        "parties": [a, b],
        "purpose": "p",
        "legal_basis": {"text": "l"},
        "classification_ceiling": "TLP:AMBER",
        "valid_from": "2026-01-01T00:00:00Z",
        "drafted_by": a,
        "drafted_at": "2026-01-01T00:00:00Z",
    }
    at = utcnow()

    def terms(*kinds: str) -> Terms:
        return parse_terms({**base, "flows": [{"from": "*", "to": "*", "kinds": list(kinds)}]})

    one = terms("workspace:3f2a9c", "dataset:dengue-weekly")
    assert refusal(one, a, [b], "workspace:3f2a9c", "TLP:GREEN", at) is None
    assert refusal(one, a, [b], "dataset:dengue-weekly", "TLP:GREEN", at) is None
    assert "no flow of 'workspace:other'" in str(
        refusal(one, a, [b], "workspace:other", "TLP:GREEN", at)
    )
    assert refusal(one, a, [b], "message", "TLP:GREEN", at) is not None
    every = terms("workspace", "dataset")
    for kind in ("workspace:any", "dataset:any"):
        assert refusal(every, a, [b], kind, "TLP:GREEN", at) is None
    assert refusal(every, a, [b], "message", "TLP:GREEN", at) is not None
    with pytest.raises(InvalidInput, match="workspace:ID"):
        terms("workspace:bad id")


def test_a_message_kind_names_one_dataset(trio: Federation) -> None:
    idn, mys = trio.node("IDN"), trio.node("MYS")
    terms = agree([idn, mys], kinds=("dataset:dengue-weekly",), ceiling="TLP:AMBER")
    sent = services.send(
        idn, [mys.member_id], "Week 47", b"a,b\n1,2\n", kind="dataset:dengue-weekly"
    )
    deliver_all([idn, mys])
    assert services.get_message(mys, sent.id)[0].agreement_id == terms
    with pytest.raises(Forbidden, match="no flow of 'dataset:rabies-weekly'"):
        services.send(idn, [mys.member_id], "Other", b"x", kind="dataset:rabies-weekly")
    with pytest.raises(InvalidInput, match="kind"):
        services.send(idn, [mys.member_id], "Bad", b"x", kind="Not A Kind")
