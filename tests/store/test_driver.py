"""Statements at the driver: rows read back as if the ORM had written them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, insert, literal, select
from sqlalchemy.orm import Session

from jembatan.gateway.models import Call
from jembatan.node.context import Node
from jembatan.registry.models import SeenNonce
from jembatan.store.driver import Writes, insert_new

CALLS = cast(Table, Call.__table__)


def _call(request_id: str, role: str) -> dict[str, object]:
    # No started_at, duration_ms or byte counts: the columns' Python-side defaults apply.
    return {
        "request_id": request_id,
        "role": role,
        "xroad_id": "x",
        "client": "ASEAN/GOV/MYS-MOH/portal",
        "service": "ASEAN/GOV/IDN-KEMENKES/immunization/vaccination-status",
        "method": "GET",
        "path": "/v1/status/1",
        "status": 200,
    }


def test_rows_read_back_through_the_orm(node: Node) -> None:
    at = datetime(2026, 11, 28, 9, 30, 1, tzinfo=UTC)
    with node.transaction() as s:
        w = Writes.of(s)
        w.executemany(insert(CALLS), [_call("r1", "consumer"), _call("r2", "provider")])
        w.execute(insert(CALLS), {**_call("r3", "provider"), "started_at": at, "duration_ms": 7})
    with Session(node.engine) as s:
        rows = {c.request_id: c for c in s.scalars(select(Call))}
    assert sorted(rows) == ["r1", "r2", "r3"]
    assert rows["r3"].started_at == at
    with node.engine.connect() as conn:  # stored in the form the ORM stores
        stored = conn.exec_driver_sql("SELECT started_at FROM gateway_calls").scalars().all()
    with node.transaction() as s:
        s.add(Call(**{**_call("r4", "consumer"), "started_at": at}))
    with node.engine.connect() as conn:
        by_orm = conn.exec_driver_sql(
            "SELECT started_at FROM gateway_calls WHERE request_id = 'r4'"
        ).scalar_one()
    assert type(by_orm) in {type(value) for value in stored}
    assert by_orm in stored  # the same text (SQLite) or value (PostgreSQL) as r3's
    assert rows["r3"].started_at.tzinfo is not None
    assert rows["r3"].duration_ms == 7
    assert rows["r1"].duration_ms == 0
    assert rows["r1"].request_bytes == 0
    assert abs(rows["r1"].started_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_a_statement_keeps_its_own_literals(node: Node) -> None:
    served = select(literal(1)).where(
        Call.request_id == bindparam("request_id"), Call.role == "provider"
    )
    with node.transaction() as s:
        w = Writes.of(s)
        w.execute(insert(CALLS), _call("r1", "consumer"))
        w.execute(insert(CALLS), _call("r2", "provider"))
        assert w.execute(served, {"request_id": "r1"}).fetchall() == []  # a consumer's row
        assert w.execute(served, {"request_id": "r2"}).fetchall() == [(1,)]


def test_insert_new_says_which_rows_went_in(node: Node) -> None:
    later = datetime.now(UTC) + timedelta(minutes=5)

    def row(nonce: str) -> dict[str, object]:
        return {"keyid": "k", "nonce": nonce, "expires_at": later}

    with node.transaction() as s:
        assert insert_new(Writes.of(s), SeenNonce, [row("a"), row("b"), row("a")]) == [
            True,
            True,
            False,
        ]
    with node.transaction() as s:
        assert insert_new(Writes.of(s), SeenNonce, [row("b"), row("c")]) == [False, True]
        assert s.scalar(select(SeenNonce.expires_at).where(SeenNonce.nonce == "c")) == later
