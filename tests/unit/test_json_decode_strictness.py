"""The JSON codec decodes through json's scanner as strictly as json.loads.

Every input json.loads refuses is refused with a DecodeError carrying
json's own message (and json's exception as its cause); what it accepts
(surrounding JSON whitespace included) decodes to the same value.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from kombu_lite import _json
from kombu_lite.exceptions import DecodeError

REFUSED_TEXT = [
    "",
    "   ",
    "nul",
    '{"a": ',
    "[1, 2",
    '{"a": 1} x',
    '{"a": 1}{}',
    "1 2",
    '{"a": 1}\x0c',  # form feed: not JSON whitespace
    '{"a": 1}\u00a0',  # no-break space: not JSON whitespace
    '"a\x01"',  # a raw control character in a string
    "{'a': 1}",
]

ACCEPTED_TEXT = [
    '{"a": 1}',
    ' {"a": 1} ',
    "\t[]\r\n",
    '{"a": 1}\n',
    '"\\ud800"',
    "NaN",
    "[Infinity, -Infinity]",
    "0",
]


def _json_error(text: str) -> json.JSONDecodeError:
    with pytest.raises(json.JSONDecodeError) as info:
        json.loads(text)
    return info.value


@pytest.mark.parametrize("text", REFUSED_TEXT)
def test_text_json_refuses_raises_decode_error_with_json_message(text: str) -> None:
    expected = _json_error(text)

    with pytest.raises(DecodeError) as info:
        _json.loads(text)

    assert str(info.value) == f"invalid JSON body: {expected}"
    assert type(info.value.__cause__) is json.JSONDecodeError


@pytest.mark.parametrize("text", REFUSED_TEXT)
def test_bytes_json_refuses_raise_the_same_decode_error(text: str) -> None:
    expected = _json_error(text)

    with pytest.raises(DecodeError) as info:
        _json.loads(text.encode("utf-8"))

    assert str(info.value) == f"invalid JSON body: {expected}"


@pytest.mark.parametrize("text", ACCEPTED_TEXT)
def test_text_json_accepts_decodes_to_the_same_value(text: str) -> None:
    assert repr(_json.loads(text)) == repr(json.loads(text))


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bytes_like_with_surrounding_whitespace_decode(kind: Any) -> None:
    assert _json.loads(kind(b' {"a": [1]} \n')) == {"a": [1]}


def test_non_utf8_bytes_raise_decode_error_caused_by_unicode_error() -> None:
    with pytest.raises(DecodeError, match="invalid JSON body: 'utf-8' codec") as info:
        _json.loads(b'{"a": "\xff"}')

    assert type(info.value.__cause__) is UnicodeDecodeError


def test_utf16_bytes_are_not_guessed_as_json_loads_would() -> None:
    with pytest.raises(DecodeError):
        _json.loads('{"a": 1}'.encode("utf-16"))


def test_an_envelope_followed_by_extra_data_is_refused() -> None:
    with pytest.raises(DecodeError, match="Extra data"):
        _json.loads(b'{"__type__": "bytes", "__value__": "x"} 1')


def test_an_envelope_with_an_escaped_type_key_is_decoded() -> None:
    # The hookless scan is taken only when no dict can be an envelope: a
    # "__type__" key spelt with \u escapes still is one.
    text = '{"\\u005f_type__": "decimal", "__value__": "1.5"}'
    assert _json.loads(text) == Decimal("1.5")


def test_an_envelope_inside_a_plain_body_is_decoded() -> None:
    text = '{"a": [1, {"__type__": "bytes", "__value__": "hi"}]}'
    assert _json.loads(text) == {"a": [1, b"hi"]}


def test_a_body_with_no_envelope_decodes_as_json_loads_does() -> None:
    text = '{"a": {"b": [1, 2.5, null, true]}, "c": "\\n"}'
    assert _json.loads(text) == json.loads(text)


def test_an_unknown_escaped_marker_is_refused() -> None:
    text = '{"\\u005f_type__": "nonesuch", "__value__": 1}'
    with pytest.raises(DecodeError, match="unknown JSON type marker"):
        _json.loads(text)
