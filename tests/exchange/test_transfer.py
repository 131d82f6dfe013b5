"""Large payloads: streamed in authenticated chunks, resumed after a break, checked against
the signed manifest before acceptance."""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from jembatan.errors import Unavailable
from jembatan.exchange import delivery, services, transfer
from jembatan.exchange.models import Transfer
from jembatan.registry.peers import send_signed
from tests.exchange.test_exchange import _due_now
from tests.fed import Federation

SIZE = 5 * 1024 * 1024 + 12345  # five chunks and a bit


def _data() -> bytes:
    block = os.urandom(1024 * 1024)
    return (block * (SIZE // len(block) + 1))[:SIZE]


def test_large_file_resumes_after_a_break_and_arrives_intact(
    asean: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    data = _data()
    sent = services.send(
        idn,
        ["ASEAN/GOV/MYS"],
        "Genome batch",
        io.BytesIO(data),
        "application/octet-stream",
        "batch.fastq",
    )
    assert sent.bulk_sha256 is not None
    assert sent.size == SIZE
    puts = 0

    def flaky(node: Any, method: str, url: str, *args: Any, **kwargs: Any) -> httpx.Response:
        nonlocal puts
        if method == "PUT":
            puts += 1
            if puts > 2:
                raise Unavailable("link dropped")
        return send_signed(node, method, url, *args, **kwargs)

    monkeypatch.setattr(transfer, "send_signed", flaky)
    delivery.run_once(idn)
    _, [d] = services.get_message(idn, sent.id)
    assert d.status != "delivered"
    assert "link dropped" in str(d.last_error)
    with mys.db() as s:
        row = s.get(Transfer, sent.id)
    assert row is not None
    assert row.received == 2 * transfer.CHUNK  # what was acknowledged stays

    monkeypatch.setattr(transfer, "send_signed", send_signed)
    resumed: list[str] = []
    original = send_signed

    def watching(node: Any, method: str, url: str, *args: Any, **kwargs: Any) -> httpx.Response:
        resumed.append(f"{method} {url.rsplit('/', 1)[1]}")
        return original(node, method, url, *args, **kwargs)

    monkeypatch.setattr(transfer, "send_signed", watching)
    _due_now(idn)
    delivery.run_once(idn)
    _, [d] = services.get_message(idn, sent.id)
    assert d.status == "delivered", d.last_error
    assert resumed[1].endswith(f"offset={2 * transfer.CHUNK}&total={row.total}")
    [got] = services.list_messages(mys, "inbox")
    assert got.filename == "batch.fastq"
    assert got.size == SIZE
    out = io.BytesIO()
    services.write_payload(mys, got, out)
    assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(data).digest()
    # Stored encrypted; the transfer's scratch file and row are gone.
    assert got.bulk_sha256 is not None
    assert data[:4096] not in mys.blobs.read_bytes(got.bulk_sha256)[:8192]
    with mys.db() as s:
        assert s.scalar(select(Transfer)) is None
    assert not list(mys.blobs.root.glob("tmp/transfer-*"))


def test_tampered_transfer_is_refused(asean: Federation) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    sent = services.send(idn, ["ASEAN/GOV/MYS"], "Tampered", io.BytesIO(_data()[: 2 * 1024 * 1024]))
    member = asean.nodes["ASEAN/GOV/MYS"]
    transfer.push(idn, sent, member.settings.base_url)
    scratch = next(mys.blobs.root.glob("tmp/transfer-*"))
    with scratch.open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00" * 16)
    answer = send_signed(
        idn,
        "POST",
        mys.settings.base_url + "/fed/v1/envelopes",
        services.envelope_of(idn, sent),
        "application/jose+json",
    )
    assert answer.status_code == 422
    assert "do not match the signed manifest" in answer.json()["detail"]
    assert services.list_messages(mys, "inbox") == []


def test_chunks_must_follow_the_acknowledged_offset(asean: Federation) -> None:
    idn, mys = asean.node("IDN"), asean.node("MYS")
    url = mys.settings.base_url + "/fed/v1/transfers/01900000-0000-7000-8000-000000000000"
    first = send_signed(
        idn, "PUT", url + "?offset=0&total=100", b"x" * 40, "application/octet-stream"
    )
    assert first.json() == {"received": 40}
    wrong = send_signed(
        idn, "PUT", url + "?offset=10&total=100", b"y" * 10, "application/octet-stream"
    )
    assert wrong.status_code == 409
    assert wrong.json()["received"] == 40
    assert send_signed(idn, "GET", url).json() == {"received": 40}
    other = send_signed(asean.registry, "GET", url)
    assert other.status_code == 403
    unsigned = httpx.put(url + "?offset=40&total=100", content=b"z")
    assert unsigned.status_code == 401


def test_a_lost_receipt_for_a_large_file_is_fetched_again(asean: Federation) -> None:
    from sqlalchemy import update

    from jembatan.exchange.models import Delivery

    idn = asean.node("IDN")
    sent = services.send(idn, ["ASEAN/GOV/MYS"], "Again", io.BytesIO(_data()[: 2 * 1024 * 1024]))
    delivery.run_once(idn)
    _, [first] = services.get_message(idn, sent.id)
    assert first.status == "delivered"
    with idn.transaction() as s:  # as if the receipt had been lost on the way back
        s.execute(update(Delivery).values(status="sent", receipt=None, delivered_at=None))
    _due_now(idn)
    delivery.run_once(idn)
    _, [again] = services.get_message(idn, sent.id)
    assert again.status == "delivered", again.last_error
    assert again.receipt == first.receipt
