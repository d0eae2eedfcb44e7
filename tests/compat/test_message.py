"""``kombu.message.Message``: built by hand, for tests and custom transports."""

from __future__ import annotations

import zlib
from typing import Any

import pytest

from .conftest import Lib


class RecordingChannel:
    """Just what a message needs of its channel (kombu reads no_ack_consumers)."""

    no_ack_consumers = None

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, bool]] = []

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        self.calls.append(("ack", delivery_tag, multiple))

    def basic_reject(self, delivery_tag: int, requeue: bool = False) -> None:
        self.calls.append(("reject", delivery_tag, requeue))


@pytest.fixture
def message_cls(lib: Lib) -> Any:
    return lib.attr("message", "Message")


def test_message_from_its_parts_decodes(message_cls: Any) -> None:
    message = message_cls(
        b'{"a": 1}', content_type="application/json", content_encoding="utf-8"
    )

    assert message.decode() == {"a": 1}
    assert message.payload == {"a": 1}


def test_message_defaults(message_cls: Any) -> None:
    message = message_cls(b"x")

    assert message.channel is None
    assert message.delivery_tag is None
    assert (message.delivery_info, message.properties, message.headers) == ({}, {}, {})
    assert message.acknowledged is False


def test_message_keeps_what_it_is_given(message_cls: Any) -> None:
    message = message_cls(
        b"x",
        delivery_tag=7,
        delivery_info={"routing_key": "rk"},
        properties={"correlation_id": "c1"},
        headers={"h": 1},
        unknown_transport_field=True,  # kombu's transports pass extras
    )

    assert message.delivery_tag == 7
    assert message.delivery_info == {"routing_key": "rk"}
    assert message.properties == {"correlation_id": "c1"}
    assert message.headers == {"h": 1}


def test_ack_goes_to_the_channel(message_cls: Any) -> None:
    channel = RecordingChannel()
    message = message_cls(b"x", delivery_tag=3, channel=channel)

    message.ack()

    assert channel.calls == [("ack", 3, False)]
    assert message.acknowledged is True


def test_requeue_goes_to_the_channel(message_cls: Any) -> None:
    channel = RecordingChannel()
    message = message_cls(b"x", delivery_tag=3, channel=channel)

    message.requeue()

    assert channel.calls == [("reject", 3, True)]


def test_ack_twice_is_a_state_error(lib: Lib, message_cls: Any) -> None:
    message = message_cls(b"x", delivery_tag=3, channel=RecordingChannel())
    message.ack()

    with pytest.raises(lib.attr("exceptions", "MessageStateError")):
        message.ack()


def test_ack_without_a_channel_is_a_state_error(lib: Lib, message_cls: Any) -> None:
    assert message_cls.MessageStateError is lib.attr("exceptions", "MessageStateError")
    with pytest.raises(message_cls.MessageStateError):
        message_cls(b"x", delivery_tag=1).ack()


def test_accept_refuses_other_content(lib: Lib, message_cls: Any) -> None:
    message = message_cls(
        b"a: 1", content_type="application/x-yaml", accept=["application/json"]
    )

    with pytest.raises(lib.attr("exceptions", "ContentDisallowed")):
        message.decode()


def test_compressed_body_decodes(lib: Lib, message_cls: Any) -> None:
    data = zlib.compress(b'{"a": 1}')
    message = message_cls(
        data,
        content_type="application/json",
        headers={"compression": "application/x-gzip"},
    )

    assert message.decode() == {"a": 1}
    if lib.is_kombu:
        assert message.body == b'{"a": 1}'  # kombu inflates at construction
    else:
        assert message.body == data  # inflated only once accepted (a difference)


def test_str_body(lib: Lib, message_cls: Any) -> None:
    message = message_cls("héllo", content_type="text/plain")

    if lib.is_kombu:
        assert message.body == "héllo"
    else:
        assert message.body == "héllo".encode()  # always bytes (a difference)
