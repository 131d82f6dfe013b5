"""The gateway lane's header lookups answer as Starlette's own."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers

from jembatan.gateway.api import _Headers

NAMES = st.sampled_from(["x-road-client", "content-length", "signature", "accept", "x-a"])
VALUES = st.text(alphabet="abcXYZ019 /=", max_size=8)


@given(st.lists(st.tuples(NAMES, VALUES), max_size=8), NAMES)
def test_lookups_answer_as_starlettes(pairs: list[tuple[str, str]], asked: str) -> None:
    scope = {"type": "http", "headers": [(k.encode(), v.encode()) for k, v in pairs]}
    ours, theirs = _Headers(scope), Headers(scope=scope)
    for key in (asked, asked.upper()):
        assert ours.get(key) == theirs.get(key)  # the first of repeated headers
        assert (key in ours) == (key in theirs)
        assert ours.get(key, "none") == theirs.get(key, "none")
    assert ours.items() == theirs.items()
