"""Secure exchange between live nodes: round trips, store and forward, deduplication,
receipts, refusals, and envelopes checked by an independent JOSE library."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from jembatan.agreements import services as agreements
from jembatan.exchange import delivery, services
from jembatan.exchange.envelope import Letter, seal
from jembatan.exchange.models import Delivery, Message
from jembatan.identifiers import uuid7
from jembatan.node.context import Node
from jembatan.registry import authority, membership
from jembatan.registry.peers import send_signed
from jembatan.store.schema import utcnow
from tests.fed import Federation, FederationFactory


def _inbox(node: Node) -> list[Message]:
    return services.list_messages(node, "inbox")


def _count(node: Node) -> int:
    with node.db() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.box == "inbox", Message.kind == "message")
            )
            or 0
        )


@pytest.fixture
def trio(federations: FederationFactory) -> Federation:
    return federations.build("ASEAN", ("IDN", "MYS", "SGP"))


def test_text_round_trip_with_verified_receipt(asean: Federation) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    sent = services.send(idn, ["ASEAN/GOV/MYS"], "Dengue week 47", b"Cases up 30% in Riau.")
    assert delivery.run_once(idn) == 1
    _, deliveries = services.get_message(idn, sent.id)
    assert [(d.recipient, d.status, d.last_error) for d in deliveries] == [
        ("ASEAN/GOV/MYS", "delivered", None)
    ]
    facts = services.verify_receipt(idn, str(deliveries[0].receipt), sent, "ASEAN/GOV/MYS")
    assert facts.envelope_sha256 == sent.envelope_sha256
    [got] = _inbox(mys)
    assert got.id == sent.id
    assert got.subject == "Dengue week 47"
    assert got.sender == "ASEAN/GOV/IDN"
    assert services.read_payload(mys, got) == b"Cases up 30% in Riau."
    # The sender can read its own sent mail; nothing is stored in the clear.
    assert services.read_payload(idn, sent) == b"Cases up 30% in Riau."
    assert b"Riau" not in idn.blobs.read_bytes(sent.envelope_sha256)


def test_file_to_several_recipients(trio: Federation) -> None:
    idn = trio.node("IDN")
    data = bytes(range(256)) * 4096
    sent = services.send(
        idn,
        ["ASEAN/GOV/MYS", "ASEAN/GOV/SGP"],
        "Lab results",
        data,
        "application/octet-stream",
        "results.bin",
        "TLP:RED",
        readers=["ASEAN/GOV/MYS/user/lab", "ASEAN/GOV/SGP/user/lab"],
    )
    delivery.run_once(idn)
    _, deliveries = services.get_message(idn, sent.id)
    assert {(d.status, d.last_error) for d in deliveries} == {("delivered", None)}
    for code in ("MYS", "SGP"):
        [got] = _inbox(trio.node(code))
        assert got.filename == "results.bin"
        assert got.classification == "TLP:RED"
        assert services.read_payload(trio.node(code), got) == data


def _due_now(node: Node) -> None:
    with node.transaction() as s:
        s.execute(update(Delivery).values(next_attempt_at=utcnow()))


def test_recipient_down_then_up_gets_it_exactly_once(
    asean: Federation, federations: FederationFactory
) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    federations.stop(mys)
    sent = services.send(idn, ["ASEAN/GOV/MYS"], "While you were away", b"hello")
    for _ in range(3):
        _due_now(idn)
        delivery.run_once(idn)
    _, [d] = services.get_message(idn, sent.id)
    assert d.status in ("queued", "sent")
    assert d.attempts == 3
    assert "unreachable" in str(d.last_error)
    assert d.next_attempt_at > utcnow()  # backing off
    federations.start(mys)
    _due_now(idn)
    delivery.run_once(idn)
    delivery.run_once(idn)
    _, [d] = services.get_message(idn, sent.id)
    assert d.status == "delivered"
    assert _count(mys) == 1


def test_expired_message_is_given_up(asean: Federation, federations: FederationFactory) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    federations.stop(mys)
    sent = services.send(idn, ["ASEAN/GOV/MYS"], "Short-lived", b"x", lifetime=timedelta(minutes=1))
    with idn.transaction() as s:
        s.execute(update(Message).values(expires_at=utcnow() - timedelta(seconds=1)))
    delivery.run_once(idn)
    _, [d] = services.get_message(idn, sent.id)
    assert d.status == "expired"
    assert "expired" in str(d.last_error)


def _post(sender: Node, receiver: Node, envelope: bytes) -> httpx.Response:
    return send_signed(
        sender,
        "POST",
        receiver.settings.base_url + "/fed/v1/envelopes",
        envelope,
        "application/jose+json",
    )


def test_repeated_post_gives_one_row_and_the_same_receipt(asean: Federation) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    sent = services.send(idn, ["ASEAN/GOV/MYS"], "Twice", b"same")
    envelope = services.envelope_of(idn, sent)
    first, second = _post(idn, mys, envelope), _post(idn, mys, envelope)
    assert first.status_code == second.status_code == 200
    assert first.json()["receipt"] == second.json()["receipt"]
    assert _count(mys) == 1


def _refused(answer: httpx.Response, status: int, text: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert text in answer.json()["detail"]


def test_bad_envelopes_are_refused_and_nothing_is_stored(trio: Federation) -> None:
    idn, mys, sgp = trio.node("IDN"), trio.node("MYS"), trio.node("SGP")
    blobs_before = mys.blobs.usage()
    to_mys = services.envelope_of(idn, services.send(idn, ["ASEAN/GOV/MYS"], "For MYS", b"m"))
    doc = json.loads(to_mys)
    doc["ciphertext"] = ("A" if doc["ciphertext"][0] != "A" else "B") + doc["ciphertext"][1:]
    _refused(_post(idn, mys, json.dumps(doc).encode()), 422, "does not decrypt")

    to_sgp = services.envelope_of(idn, services.send(idn, ["ASEAN/GOV/SGP"], "For SGP", b"s"))
    _refused(_post(idn, mys, to_sgp), 403, "not a recipient")
    # A member may not hand over another member's envelope.
    _refused(_post(sgp, mys, to_mys), 403, "request is signed by ASEAN/GOV/SGP")

    now = utcnow().replace(microsecond=0)
    stale = Letter(
        uuid7(),
        uuid7(),
        "ASEAN/GOV/IDN",
        ("ASEAN/GOV/MYS",),
        now - timedelta(days=2),
        now - timedelta(days=1),
        "Old",
        "TLP:GREEN",
        "text/plain",
    )
    mys_key = membership.federation(idn).own.keys_of("ASEAN/GOV/MYS", "enc", now)[0].jwk  # type: ignore[union-attr]
    expired = seal(stale, b"old", idn.keys().signer(), [mys_key])
    _refused(_post(idn, mys, expired), 422, "expired")

    assert _count(mys) == 0
    assert mys.blobs.usage() == blobs_before


def test_unknown_sender_and_revoked_key_are_refused(
    asean: Federation, federations: FederationFactory
) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    stranger = federations.add_member(asean, "KHM", approve=False)  # never approved
    envelope = services.envelope_of(idn, services.send(idn, ["ASEAN/GOV/MYS"], "x", b"x"))
    _refused(_post(stranger, mys, envelope), 401, "unknown key")
    authority.revoke_key(asean.registry, idn.keys().signer().kid, "lost laptop")
    asean.refresh_all()
    _refused(_post(idn, mys, envelope), 401, "revoked")
    assert _count(mys) == 0


def test_api_send_list_read_and_export(asean: Federation) -> None:
    from fastapi.testclient import TestClient

    from jembatan.accounts import tokens
    from jembatan.web.app import create_app
    from tests.conftest import add_user

    idn, mys = asean.node("IDN"), asean.node("MYS")
    officer = add_user(idn, "siti", "officer")
    token = tokens.create_token(
        idn, officer, "system", ["messages:send", "messages:read"], timedelta(days=1)
    )
    auth = {"Authorization": f"Bearer {token.token}"}
    with TestClient(create_app(idn)) as api:
        made = api.post(
            "/api/v1/messages",
            headers=auth,
            json={
                "to": ["ASEAN/GOV/MYS"],
                "subject": "Via API",
                "text": "halo",
                "classification": "TLP:GREEN",
            },
        )
        assert made.status_code == 201, made.text
        mid = made.json()["id"]
        assert made.json()["deliveries"][0]["status"] == "queued"
        upload = api.post(
            "/api/v1/messages",
            headers=auth,
            data={"to": "ASEAN/GOV/MYS", "subject": "A file"},
            files={"file": ("report.csv", b"week,cases\n47,120\n", "text/csv")},
        )
        assert upload.status_code == 201, upload.text
        assert upload.json()["filename"] == "report.csv"
        bad = api.post(
            "/api/v1/messages",
            headers=auth,
            json={"to": ["ASEAN/GOV/NOPE"], "subject": "x", "text": "x"},
        )
        assert bad.status_code == 422
        assert "not in the member directory" in bad.json()["detail"]
        tlp = api.post(
            "/api/v1/messages",
            headers=auth,
            json={"to": ["ASEAN/GOV/MYS"], "subject": "x", "text": "x", "classification": "SECRET"},
        )
        assert "TLP 2.0" in tlp.json()["detail"]
        delivery.run_once(idn)
        shown = api.get(f"/api/v1/messages/{mid}", headers=auth).json()
        assert shown["deliveries"][0]["status"] == "delivered"
        assert shown["deliveries"][0]["receipt"].count(".") == 2
        outbox = api.get("/api/v1/messages?box=outbox", headers=auth).json()
        assert {m["subject"] for m in outbox} == {"Via API", "A file"}
        envelope = api.get(f"/api/v1/messages/{mid}/envelope", headers=auth)
        assert envelope.headers["content-type"] == "application/jose+json"
        assert "recipients" in envelope.json()
    reader = add_user(mys, "budi", "analyst")
    read_token = tokens.create_token(mys, reader, "r", ["messages:read"], timedelta(days=1))
    with TestClient(create_app(mys)) as api:
        auth = {"Authorization": f"Bearer {read_token.token}"}
        inbox = api.get("/api/v1/messages", headers=auth).json()
        by_subject = {m["subject"]: m for m in inbox}
        content = api.get(f"/api/v1/messages/{by_subject['A file']['id']}/content", headers=auth)
        assert content.content == b"week,cases\n47,120\n"
        assert "report.csv" in content.headers["content-disposition"]
        denied = api.post(
            "/api/v1/messages",
            headers=auth,
            json={"to": ["ASEAN/GOV/IDN"], "subject": "x", "text": "x"},
        )
        assert denied.status_code == 403


def _jw_private(pair: Any) -> Any:
    from cryptography.hazmat.primitives import serialization
    from jwcrypto import jwk

    pem = pair.key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return jwk.JWK.from_pem(pem)


def test_envelope_opens_with_an_independent_jose_library(asean: Federation) -> None:
    from jwcrypto import jwe, jwk, jws

    idn, mys = asean.node("IDN"), asean.node("MYS")
    sent = services.send(idn, ["ASEAN/GOV/MYS"], "Interop", b"opened by jwcrypto")
    envelope = services.envelope_of(idn, sent).decode()
    enc_key = _jw_private(mys.keys().decrypting[-1])
    token = jwe.JWE()
    token.deserialize(envelope, key=enc_key)
    inner = token.payload.decode()
    signer = jwk.JWK(**{k: v for k, v in idn.keys().signer().public_jwk().items() if k != "use"})
    verified = jws.JWS()
    verified.deserialize(inner)
    verified.verify(signer, alg="EdDSA")
    assert verified.payload == b"opened by jwcrypto"
    header = json.loads(verified.objects["protected"])
    assert header["mid"] == sent.id
    assert header["to"] == ["ASEAN/GOV/MYS"]
    assert header["subject"] == "Interop"


def test_node_accepts_an_envelope_sealed_by_an_independent_library(asean: Federation) -> None:
    import hashlib

    from jwcrypto import jwe, jwk, jws
    from jwcrypto.common import json_encode

    idn, mys = asean.node("IDN"), asean.node("MYS")
    now = utcnow().replace(microsecond=0)
    payload = b"sealed by jwcrypto"
    routing = {
        "mid": uuid7(),
        "from": "ASEAN/GOV/IDN",
        "to": ["ASEAN/GOV/MYS"],
        "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "expires": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    signer = idn.keys().signer()
    inner = jws.JWS(payload)
    inner.add_signature(
        _jw_private(signer),
        alg="EdDSA",
        protected=json_encode(
            {
                "alg": "EdDSA",
                "kid": signer.kid,
                "typ": "jembatan-message+jws",
                **routing,
                "subject": "From another implementation",
                "tlp": "TLP:GREEN",
                "cid": routing["mid"],
                "sha256": hashlib.sha256(payload).hexdigest(),
                "content_type": "text/plain",
                "kind": "message",
                "agreement": agreements.list_agreements(idn)[0].terms.id,
            }
        ),
    )
    recipient = mys.keys().decrypting[-1].public_jwk()
    outer = jwe.JWE(
        inner.serialize(compact=True).encode(),
        protected=json_encode(
            {"enc": "A256GCM", "typ": "jembatan-envelope+jwe", "cty": "JWS", **routing}
        ),
    )
    own = idn.keys().decrypting[-1].public_jwk()  # two recipients: general JSON, as specified
    for key in (recipient, own):
        outer.add_recipient(
            jwk.JWK(**{k: key[k] for k in ("kty", "crv", "x")}),
            header=json_encode({"alg": "ECDH-ES+A256KW", "kid": key["kid"]}),
        )
    answer = _post(idn, mys, outer.serialize().encode())
    assert answer.status_code == 200, answer.text
    [got] = _inbox(mys)
    assert got.subject == "From another implementation"
    assert services.read_payload(mys, got) == payload


def test_concurrent_workers_never_take_the_same_delivery(trio: Federation) -> None:
    """Two workers claiming at once (FOR UPDATE SKIP LOCKED on PostgreSQL, the single
    writer on SQLite) get disjoint sets of deliveries."""
    import threading

    idn = trio.node("IDN")
    for i in range(20):
        services.send(idn, ["ASEAN/GOV/MYS", "ASEAN/GOV/SGP"], f"n{i}", b"x")
    claimed: list[list[tuple[str, str]]] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        claimed.append(delivery.claim_due(idn, limit=15))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [item for batch in claimed for item in batch]
    assert len(everything) == len(set(everything))
    assert len(everything) == 40
