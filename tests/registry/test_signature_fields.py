"""Signature-Input and Signature as RFC 8941 structured fields: the quick reading of
serialized fields gives what the independent `http_sf` parser and serializer give, for
any field (the quick path takes only what it can read exactly, the rest is parsed)."""

from __future__ import annotations

import base64
import string
from typing import Any

import http_sf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jembatan.crypto import httpsig

SF_TEXT = st.text(alphabet=[chr(c) for c in range(0x20, 0x7F)], max_size=12)
KEYS = st.text(alphabet=string.ascii_lowercase + "_-.*0123456789", min_size=1, max_size=8).filter(
    lambda k: k[0] in string.ascii_lowercase + "*"
)
VALUES = st.one_of(
    st.integers(-(10**15) + 1, 10**15 - 1),
    SF_TEXT,
    st.just(True),
    st.sampled_from([http_sf.Token("tok"), http_sf.Token("ed25519")]),
)


def _fields(components: list[str], params: dict[str, Any], signature: bytes) -> tuple[str, str]:
    inner: Any = ([(c, {}) for c in components], params)
    member: Any = (signature, {})
    return http_sf.ser({"sig1": inner}), http_sf.ser({"sig1": member})


def _reference(raw_input: str, raw_signature: str) -> Any:
    """What the structured-field library reads, in read_fields' form."""
    inputs: Any = http_sf.parse(raw_input.encode(), tltype="dictionary")
    signatures: Any = http_sf.parse(raw_signature.encode(), tltype="dictionary")
    members, params = inputs["sig1"]
    return (
        [m[0] for m in members],
        dict(params),
        http_sf.ser([inputs["sig1"]]),
        signatures["sig1"][0],
    )


@given(
    st.lists(SF_TEXT, max_size=6),
    st.dictionaries(KEYS, VALUES, max_size=6),
    st.binary(max_size=70),
)
def test_serialized_fields_read_as_the_parser_reads_them(
    components: list[str], params: dict[str, Any], signature: bytes
) -> None:
    raw_input, raw_signature = _fields(components, params, signature)
    assert httpsig.read_fields(raw_input, raw_signature) == _reference(raw_input, raw_signature)


@given(
    st.lists(SF_TEXT, min_size=1, max_size=4),
    st.dictionaries(KEYS, st.integers(0, 99) | SF_TEXT, min_size=1, max_size=4),
    st.binary(min_size=1, max_size=70),
    st.sampled_from(
        [
            ("(", "(  "),  # spaces inside the list
            (" ", "   "),
            (";", ";  "),  # spaces after a parameter's semicolon
            ("sig1=", "sig0=(), sig1="),  # another member first
            ("=:", "=:  "),  # not a serialized byte sequence
            ("==:", ":"),  # unpadded base64
        ]
    ),
)
def test_other_forms_read_as_the_parser_reads_them(
    components: list[str],
    params: dict[str, Any],
    signature: bytes,
    change: tuple[str, str],
) -> None:
    raw_input, raw_signature = _fields(components, params, signature)
    raw_input, raw_signature = raw_input.replace(*change), raw_signature.replace(*change)
    try:
        expected = _reference(raw_input, raw_signature)
    except ValueError:
        with pytest.raises(httpsig.SignatureRefused):
            httpsig.read_fields(raw_input, raw_signature)
        return
    assert httpsig.read_fields(raw_input, raw_signature) == expected


def test_a_repeated_parameter_keeps_its_last_value() -> None:
    raw_signature = "sig1=:" + base64.b64encode(b"s").decode() + ":"
    fields = httpsig.read_fields('sig1=("@method");created=1;created=2', raw_signature)
    assert fields == (["@method"], {"created": 2}, '("@method");created=2', b"s")
