"""A consumer's decode memo answers as Message.decode() does, in every case.

The memo calls the last decoder directly only while the content type and
encoding, the accept list and the registry are unchanged, and only for a
delivery with a body and no headers; anything else, and any failure, goes
the general way, with the general way's result or error.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from kombu_lite import serialization
from kombu_lite.decode_memo import DecodeMemo
from kombu_lite.exceptions import ContentDisallowed, DecodeError
from kombu_lite.message import DEFAULT_ACCEPT, Message
from kombu_lite.transport.base import BasicProperties, Delivery


def _delivery(
    body: bytes,
    content_type: str | None = "application/json",
    headers: dict[str, object] | None = None,
    content_encoding: str | None = "utf-8",
) -> Delivery:
    properties = BasicProperties(
        content_type=content_type, content_encoding=content_encoding, headers=headers
    )
    return Delivery(
        body=body, properties=properties, delivery_tag=1, exchange="", routing_key="q"
    )


def _decode(
    memo: DecodeMemo, delivery: Delivery, accept: frozenset[str] = DEFAULT_ACCEPT
) -> tuple[Message, Any]:
    message = Message(delivery, None, accept=accept)
    return message, memo.decode(message, delivery)


@pytest.fixture
def memo() -> DecodeMemo:
    # Warmed by one plain JSON delivery: the next alike one takes the memo.
    memo = DecodeMemo()
    _decode(memo, _delivery(b'{"warm": 1}'))
    return memo


@pytest.fixture
def restore_registry() -> Iterator[None]:
    yield
    serialization.registry.reset()


def test_an_alike_delivery_decodes_to_the_bodys_value(memo: DecodeMemo) -> None:
    _, value = _decode(memo, _delivery(b'{"a": [1, 2]}'))
    assert value == {"a": [1, 2]}


def test_message_decode_then_returns_the_same_object(memo: DecodeMemo) -> None:
    message, value = _decode(memo, _delivery(b'{"a": 1}'))
    assert message.decode() is value


def test_a_content_type_outside_accept_is_refused_after_the_memo(
    memo: DecodeMemo,
) -> None:
    delivery = _delivery(b'{"a": 1}')
    with pytest.raises(ContentDisallowed):
        _decode(memo, delivery, accept=frozenset({"application/x-yaml"}))


def test_a_compressed_delivery_is_inflated_after_the_memo(memo: DecodeMemo) -> None:
    body = zlib.compress(b'{"a": 1}')
    delivery = _delivery(body, headers={"compression": "application/x-gzip"})
    _, value = _decode(memo, delivery)
    assert value == {"a": 1}


def test_a_corrupt_body_raises_the_general_decode_error(memo: DecodeMemo) -> None:
    delivery = _delivery(b'{"a": ')
    with pytest.raises(DecodeError) as memoed:
        _decode(memo, delivery)
    with pytest.raises(DecodeError) as general:
        Message(delivery, None).decode()
    assert str(memoed.value) == str(general.value)


def test_a_failed_decode_leaves_the_message_undecoded(memo: DecodeMemo) -> None:
    delivery = _delivery(b"[")
    message = Message(delivery, None)
    with pytest.raises(DecodeError):
        memo.decode(message, delivery)
    with pytest.raises(DecodeError):
        message.decode()


def test_an_empty_body_comes_back_as_it_is(memo: DecodeMemo) -> None:
    _, value = _decode(memo, _delivery(b""))
    assert value == b""


def test_a_decoder_replaced_after_the_memo_is_used(
    memo: DecodeMemo, restore_registry: None
) -> None:
    serialization.register(
        "json", json.dumps, lambda data: "decoded by the new one", "application/json"
    )
    _, value = _decode(memo, _delivery(b'{"a": 1}'))
    assert value == "decoded by the new one"


def test_an_unregistered_serializer_is_not_decoded_by_the_memo(
    memo: DecodeMemo, restore_registry: None
) -> None:
    serialization.unregister("json")
    _, value = _decode(memo, _delivery(b'{"a": 1}'))
    # application/json with no decoder: the payload comes back as text.
    assert value == '{"a": 1}'


def test_another_content_type_goes_the_general_way(memo: DecodeMemo) -> None:
    delivery = _delivery(b"hello", content_type="text/plain")
    _, value = _decode(memo, delivery)
    assert value == "hello"


def test_a_non_text_content_type_is_not_remembered() -> None:
    memo = DecodeMemo()
    delivery = _delivery(b"\x00\x01", content_type=None, content_encoding=None)
    _, first = _decode(memo, delivery)
    _, second = _decode(memo, delivery)
    assert first == second == b"\x00\x01"
