"""Trust: the signed directory, joining, rotation and revocation, signed node-to-node
requests (checked against independent implementations), and federations of federations."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms
from jwcrypto import jwk as jw_jwk
from jwcrypto import jws as jw_jws
from sqlalchemy import func, select, update

from jembatan.crypto import httpsig
from jembatan.errors import InvalidInput
from jembatan.registry import authority, membership
from jembatan.registry.directory import sign_directory
from jembatan.registry.models import DirectoryCopy, RegistryKey, SeenNonce
from jembatan.registry.peers import send_signed
from jembatan.store.schema import utcnow
from tests.fed import Federation, FederationFactory


def test_directory_verifies_with_an_independent_jose_library(asean: Federation) -> None:
    token = httpx.get(asean.registry.settings.base_url + "/registry/v1/directory")
    assert token.headers["content-type"] == "application/jose"
    key = jw_jwk.JWK(**{k: asean.anchor.key[k] for k in ("kty", "crv", "x")})
    verifier = jw_jws.JWS()
    verifier.deserialize(token.text)
    verifier.verify(key, alg="EdDSA")
    payload = verifier.payload
    doc = json.loads(payload)
    # RFC 8785 for this ASCII content: sorted keys, no whitespace.
    assert payload == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    assert doc["instance"] == "ASEAN"
    assert {m["id"] for m in doc["members"]} == {
        "ASEAN/ORG/REGISTRY",
        "ASEAN/GOV/IDN",
        "ASEAN/GOV/MYS",
    }
    assert doc["serial"] >= 1
    assert doc["expires_at"] > doc["issued_at"]


def test_join_approve_reaches_every_node(asean: Federation, federations: FederationFactory) -> None:
    newcomer = federations.add_member(asean, "SGP", approve=False)
    pending = authority.list_requests(asean.registry)
    assert [r.member_id for r in pending] == ["ASEAN/GOV/SGP"]
    # A second request while one is pending is refused.
    with pytest.raises(Exception, match="pending join request"):
        membership.join(newcomer, asean.anchor, "SG")
    assert membership.federation(asean.node("IDN")).member("ASEAN/GOV/SGP") is None
    authority.approve(asean.registry, pending[0].id, "test")
    asean.refresh_all()
    for node in [asean.registry, *asean.nodes.values()]:
        assert membership.federation(node).member("ASEAN/GOV/SGP") is not None


def test_join_request_must_prove_possession(asean: Federation) -> None:
    other = Ed25519PrivateKey.generate()
    from joserfc.jwk import OKPKey

    from jembatan.crypto import jws
    from jembatan.crypto.canonical import canonical_json
    from jembatan.crypto.keys import KeyPair
    from jembatan.registry.directory import stamp

    node = asean.node("IDN")
    payload = {
        "member": "ASEAN/GOV/FAKE",
        "name": "Impostor",
        "country": "ID",
        "node_url": "http://127.0.0.1:9",
        "keys": [k for k in node.keys().public if k["purpose"] == "node"],
        "requested_at": stamp(utcnow()),
    }
    forged = jws.sign(
        canonical_json(payload), KeyPair("sig", OKPKey.import_key(other)), "jembatan-join+jws"
    )
    answer = httpx.post(
        asean.registry.settings.base_url + "/registry/v1/join-requests",
        content=forged,
        headers={"Content-Type": "application/jose"},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert "signed by the signing key it announces" in answer.json()["detail"]


def _resign(fed: Federation, **changes: Any) -> str:
    token = httpx.get(fed.registry.settings.base_url + "/registry/v1/directory").text
    doc = json.loads(membership.jws_payload(token))
    doc.update(changes)
    return sign_directory(doc, fed.registry.keys().signer("registry"))


def test_rollback_expiry_and_tampering_are_refused(asean: Federation) -> None:
    node = asean.node("IDN")
    with node.db() as s:
        good = s.get(DirectoryCopy, "ASEAN")
    assert good is not None
    cases = {
        "rollback": _resign(asean, serial=good.serial - 1),
        "expired": _resign(asean, serial=good.serial + 5, expires_at="2020-01-01T00:00:00Z"),
        "other instance": _resign(asean, serial=good.serial + 5, instance="AU"),
    }
    head, body, sig = _resign(asean, serial=good.serial + 5).split(".")
    cases["tampered"] = ".".join(
        [head, body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB"), sig]
    )
    reasons = {}
    for name, token in cases.items():
        with pytest.raises(InvalidInput) as err:
            membership.accept_directory(node, asean.anchor, token)
        reasons[name] = err.value.detail
    assert "rollback refused" in reasons["rollback"]
    assert "expired" in reasons["expired"]
    assert "for instance 'AU'" in reasons["other instance"]
    assert "does not verify" in reasons["tampered"]
    with node.db() as s:
        kept = s.get(DirectoryCopy, "ASEAN")
    assert kept is not None
    assert kept.serial == good.serial
    assert kept.signed == good.signed
    assert kept.last_error
    # The node still trusts its last good directory.
    assert membership.federation(node).member("ASEAN/GOV/MYS") is not None


def _ping(sender: Any, receiver: Any) -> httpx.Response:
    return send_signed(sender, "POST", receiver.settings.base_url + "/fed/v1/ping", b"{}")


def test_signed_ping_between_members(asean: Federation) -> None:
    answer = _ping(asean.node("IDN"), asean.node("MYS"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["from"] == "ASEAN/GOV/IDN"


def _nonces(node: Any) -> int:
    with node.db() as s:
        return int(s.scalar(select(func.count()).select_from(SeenNonce)) or 0)


def test_request_signed_by_an_independent_rfc9421_library_is_accepted(asean: Federation) -> None:
    sender, receiver = asean.node("IDN"), asean.node("MYS")
    signer_key = sender.keys().signer()
    url = receiver.settings.base_url + "/fed/v1/ping"
    body = b'{"hello": "from an independent signer"}'
    request = httpx.Request("POST", url, content=body, headers={"Content-Type": "application/json"})
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519, key_resolver=_Resolver(signer_key.signing_key())
    )
    signer.sign(
        request,
        key_id=signer_key.kid,
        covered_component_ids=("@method", "@target-uri", "content-digest"),
        nonce="independent-nonce-1",
        tag="jembatan",
        label="sig1",
        include_alg=True,
        body=body,  # the library computes Content-Digest (RFC 9530) itself
    )
    answer = httpx.Client().send(request)
    assert answer.status_code == 200, answer.text
    assert answer.json()["from"] == "ASEAN/GOV/IDN"


class _Resolver(HTTPSignatureKeyResolver):
    def __init__(self, private: Any) -> None:
        self.private = private

    def resolve_private_key(self, key_id: str) -> Any:
        return self.private

    def resolve_public_key(self, key_id: str) -> Any:
        return self.private.public_key()


def test_bad_requests_are_refused_and_store_nothing(asean: Federation) -> None:
    sender, receiver = asean.node("IDN"), asean.node("MYS")
    url = receiver.settings.base_url + "/fed/v1/ping"
    before = _nonces(receiver)

    unsigned = httpx.post(url, content=b"{}")
    assert unsigned.status_code == 401
    assert unsigned.headers["content-type"] == "application/problem+json"
    assert "not signed" in unsigned.json()["detail"]
    elsewhere = httpx.post(receiver.settings.base_url + "/fed/v1/envelopes", content=b"{}")
    assert elsewhere.status_code == 401

    key = sender.keys().signer()
    private = key.signing_key()
    now = int(time.time())

    def post(headers: dict[str, str], body: bytes = b"{}") -> httpx.Response:
        return httpx.post(url, content=body, headers=headers)

    stale = httpsig.sign("POST", url, b"{}", private, key.kid, now - 3600)
    assert "older than" in post(stale).json()["detail"]
    tampered = httpsig.sign("POST", url, b"{}", private, key.kid, now)
    assert "does not match the body" in post(tampered, b'{"x": 1}').json()["detail"]
    wrong_uri = httpsig.sign("POST", url + "?x=1", b"{}", private, key.kid, now)
    assert "does not verify" in post(wrong_uri).json()["detail"]
    stranger = Ed25519PrivateKey.generate()
    unknown = httpsig.sign("POST", url, b"{}", stranger, "not-a-known-kid", now)
    assert "unknown key" in post(unknown).json()["detail"]
    assert _nonces(receiver) == before

    good = httpsig.sign("POST", url, b"{}", private, key.kid, now)
    assert post(good).status_code == 200
    replay = post(good)
    assert replay.status_code == 401
    assert "replayed" in replay.json()["detail"]
    assert _nonces(receiver) == before + 1


def test_key_rotation_overlap(asean: Federation) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    old = idn.keys().signer()
    new_kids = membership.rotate_keys(idn)
    # Until the directory lists the new keys, the node keeps signing with the old one.
    assert idn.keys().signer().kid == old.kid
    asean.refresh_all()
    assert idn.keys().signer().kid in new_kids
    assert _ping(idn, mys).status_code == 200
    # The old key still verifies during the overlap window...
    url = mys.settings.base_url + "/fed/v1/ping"
    signed = httpsig.sign("POST", url, b"{}", old.signing_key(), old.kid, int(time.time()))
    assert httpx.post(url, content=b"{}", headers=signed).status_code == 200
    # ...and not after it.
    with asean.registry.transaction() as s:
        s.execute(
            update(RegistryKey)
            .where(RegistryKey.kid == old.kid)
            .values(not_after=utcnow() - timedelta(seconds=1))
        )
        authority._mark_changed(s)
    asean.refresh_all()
    again = httpsig.sign("POST", url, b"{}", old.signing_key(), old.kid, int(time.time()))
    refused = httpx.post(url, content=b"{}", headers=again)
    assert refused.status_code == 401


def test_revoked_key_is_refused(asean: Federation) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    assert _ping(idn, mys).status_code == 200
    authority.revoke_key(asean.registry, idn.keys().signer().kid, "compromised")
    asean.refresh_all()
    refused = _ping(idn, mys)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    directory = membership.federation(mys).own
    assert directory is not None
    assert directory.document["revoked_keys"][0]["reason"] == "compromised"


def test_two_federations_exchange_while_they_trust_each_other(
    asean: Federation, federations: FederationFactory
) -> None:
    au = federations.build("AU", ("KEN",))
    idn, ken = asean.node("IDN"), au.node("KEN")
    assert _ping(idn, ken).status_code == 401  # strangers
    authority.trust_instance(asean.registry, au.anchor)
    authority.trust_instance(au.registry, asean.anchor)
    asean.refresh_all()
    au.refresh_all()
    there = _ping(idn, ken)
    assert there.status_code == 200, there.text
    assert there.json()["from"] == "ASEAN/GOV/IDN"
    assert _ping(ken, idn).status_code == 200
    authority.untrust_instance(asean.registry, "AU")
    asean.refresh_all()
    assert membership.federation(idn).member("AU/GOV/KEN") is None
    assert _ping(ken, idn).status_code == 401


def test_well_known_publishes_keys(asean: Federation) -> None:
    node = asean.node("IDN")
    facts = httpx.get(node.settings.base_url + "/.well-known/jembatan").json()
    assert facts["member"] == "ASEAN/GOV/IDN"
    assert facts["instance"] == "ASEAN"
    kids = {k["kid"] for k in facts["jwks"]["keys"]}
    assert node.keys().signer().kid in kids
    assert {k["use"] for k in facts["jwks"]["keys"]} == {"sig", "enc"}
    assert all("d" not in k for k in facts["jwks"]["keys"])


def test_readyz_shows_directory_age(asean: Federation) -> None:
    ready = httpx.get(asean.node("IDN").settings.base_url + "/readyz").json()
    directory = ready["checks"]["directory"]
    assert directory["ok"] is True
    assert directory["instance"] == "ASEAN"
    assert directory["age_seconds"] >= 0


def test_subsystems_and_the_periodic_refresh(asean: Federation) -> None:
    from jembatan.registry import worker

    authority.set_subsystem(asean.registry, "ASEAN/GOV/MYS/portal")
    with pytest.raises(InvalidInput, match="must have the form"):
        authority.set_subsystem(asean.registry, "ASEAN/GOV/MYS")
    with pytest.raises(InvalidInput, match="may only use"):
        authority.set_subsystem(asean.registry, "ASEAN/GOV/MYS/bad name")
    node = asean.node("IDN")
    worker.tick(node)  # what `serve` runs every JEMBATAN_DIRECTORY_REFRESH_SECONDS
    member = membership.federation(node).member("ASEAN/GOV/MYS")
    assert member.subsystems == ("portal",)
