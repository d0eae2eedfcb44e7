"""Message decoding and settlement, and raw PreparedMessage building."""

from __future__ import annotations

import logging
import zlib

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import (
    ChannelClosed,
    ConfigurationError,
    ConnectionLost,
    ContentDisallowed,
    DecodeError,
    MessageStateError,
)
from kombu_lite.message import Message, PreparedMessage
from kombu_lite.transport.base import BasicProperties, Delivery
from kombu_lite.transport.memory import default_broker


def _delivery(body: bytes, **props: object) -> Delivery:
    return Delivery(
        body=body,
        properties=BasicProperties(**props),  # type: ignore[arg-type]
        delivery_tag=1,
        exchange="ex",
        routing_key="rk",
    )


def test_properties_read_like_attributes() -> None:
    message = Message(
        _delivery(
            b"{}",
            content_type="application/json",
            correlation_id="c1",
            priority=4,
            delivery_mode=2,
        )
    )

    assert message.correlation_id == "c1"
    assert message.priority == 4
    assert message.delivery_mode == 2
    assert message.reply_to is None
    with pytest.raises(AttributeError, match="nope"):
        _ = message.nope


def test_decode_is_computed_once_even_when_falsy() -> None:
    message = Message(_delivery(b"0", content_type="application/json"))

    assert message.decode() == 0
    assert message.payload == 0


def test_content_type_outside_accept_is_refused_before_decompressing() -> None:
    bomb_header = {"compression": "application/x-gzip"}
    message = Message(
        _delivery(
            b"not even zlib", content_type="application/x-yaml", headers=bomb_header
        )
    )

    with pytest.raises(ContentDisallowed, match="x-yaml"):
        message.decode()


def test_compressed_body_is_inflated_when_accepted() -> None:
    message = Message(
        _delivery(
            zlib.compress(b'{"a": 1}'),
            content_type="application/json",
            headers={"compression": "application/x-gzip"},
        )
    )

    assert message.decode() == {"a": 1}


def test_bad_compression_header_is_a_decode_error() -> None:
    message = Message(
        _delivery(b"{}", content_type="application/json", headers={"compression": 5})
    )

    with pytest.raises(DecodeError, match="compression"):
        message.decode()


def test_corrupt_json_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        Message(_delivery(b"{", content_type="application/json")).decode()


def test_missing_content_type_is_plain_data() -> None:
    assert Message(_delivery(b"\x00\x01")).decode() == b"\x00\x01"


def test_returned_message_cannot_be_settled() -> None:
    message = Message(_delivery(b"{}"))

    with pytest.raises(MessageStateError, match="no channel"):
        message.ack()


def test_no_ack_message_ack_sends_nothing_but_records_state(unique: str) -> None:
    conn = Connection("memory://")
    queue = Queue(f"{unique}-q")(conn)
    queue.declare()
    conn.Producer(routing_key=queue.name).publish({"n": 1})
    message = queue.get(no_ack=True)
    assert message is not None

    message.ack()

    assert message.acknowledged
    with pytest.raises(MessageStateError, match="already"):
        message.reject()


def test_an_ack_that_cannot_be_sent_changes_nothing(unique: str) -> None:
    conn = Connection("memory://")
    queue = Queue(f"{unique}-q")(conn)
    queue.declare()
    conn.Producer(routing_key=queue.name).publish({"n": 1})
    message = queue.get()
    assert message is not None
    default_broker().close_all_connections()  # the broker closes it

    with pytest.raises(ConnectionLost):
        message.ack()

    assert not message.acknowledged
    with pytest.raises(ConnectionLost):
        message.reject()  # still settleable: no MessageStateError


def test_an_ack_after_the_application_closed_the_connection_raises_channel_closed(
    unique: str,
) -> None:
    conn = Connection("memory://")
    queue = Queue(f"{unique}-q")(conn)
    queue.declare()
    conn.Producer(routing_key=queue.name).publish({"n": 1})
    message = queue.get()
    assert message is not None
    conn.release()

    with pytest.raises(ChannelClosed, match="closed with its connection"):
        message.ack()

    assert not message.acknowledged


def test_ack_log_error_logs_instead_of_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    message = Message(_delivery(b"{}"))

    with caplog.at_level(logging.CRITICAL):
        message.ack_log_error(logging.getLogger("t"), (MessageStateError,))
        message.reject_log_error(logging.getLogger("t"), (MessageStateError,))

    assert len(caplog.records) == 2


def test_repr_is_readable() -> None:
    message = Message(_delivery(b"abc", content_type="text/plain"))
    assert repr(message) == "<Message 1 received text/plain 3 bytes>"


def test_prepared_message_from_str_sets_utf8() -> None:
    prepared = PreparedMessage.build(
        "hé", 2, {"application_headers": {"a": 1}}, {"content_type": "text/plain"}
    )

    assert prepared.body == "hé".encode()
    assert prepared.properties.content_encoding == "utf-8"
    assert prepared.properties.headers == {"a": 1}
    assert prepared.properties.delivery_mode == 2


def test_prepared_message_refuses_unknown_properties() -> None:
    with pytest.raises(ConfigurationError, match="colour"):
        PreparedMessage.build(b"x", None, None, {"colour": "red"})


def test_prepared_message_refuses_objects() -> None:
    with pytest.raises(ConfigurationError, match="bytes or str"):
        PreparedMessage.build({"a": 1}, None, None, {})  # type: ignore[arg-type]


def test_exchange_message_uses_the_exchange_delivery_mode() -> None:
    message = Exchange("x", delivery_mode="transient").Message(b"raw")

    assert message.properties.delivery_mode == 1


def test_get_checks_the_accept_list_before_fetching(unique: str) -> None:
    from kombu_lite.exceptions import SerializerNotInstalled

    conn = Connection("memory://")
    queue = Queue(f"{unique}-q")(conn)
    queue.declare()

    with pytest.raises(SerializerNotInstalled, match="nope"):
        queue.get(accept=["nope"])


def test_get_takes_a_single_accept_name(unique: str) -> None:
    conn = Connection("memory://")
    queue = Queue(f"{unique}-q")(conn)
    queue.declare()
    conn.Producer(routing_key=queue.name).publish({"n": 1}, serializer="pickle")

    message = queue.get(accept="pickle")

    assert message is not None
    assert message.decode() == {"n": 1}


def test_a_received_message_makes_its_dicts_from_the_delivery() -> None:
    delivery = Delivery(
        body=b"{}",
        properties=BasicProperties(
            content_type="application/json", headers={"h": 1}, priority=3
        ),
        delivery_tag=5,
        exchange="ex",
        routing_key="rk",
        redelivered=True,
        consumer_tag="ctag",
    )
    message = Message(delivery)

    assert message.redelivered is True
    assert message.headers == {"h": 1}
    assert message.properties == {
        "content_type": "application/json",
        "headers": {"h": 1},
        "priority": 3,
    }
    assert message.delivery_info == {
        "exchange": "ex",
        "routing_key": "rk",
        "redelivered": True,
        "delivery_tag": 5,
        "consumer_tag": "ctag",
        "message_count": None,
    }
    # Each dict is the message's own, made once.
    message.headers["added"] = 2
    assert message.headers == {"h": 1, "added": 2}
    assert delivery.properties.headers == {"h": 1}
    assert message.delivery_info is message.delivery_info
    assert message.redelivered is True


def test_a_received_message_dicts_can_be_replaced() -> None:
    message = Message(_delivery(b"{}", content_type="application/json"))

    message.headers = {"a": 1}
    message.properties = {"priority": 9}
    message.delivery_info = {"redelivered": False, "routing_key": "other"}

    assert message.headers == {"a": 1}
    assert message.priority == 9
    assert message.redelivered is False
    assert message.delivery_info["routing_key"] == "other"


def test_a_message_built_from_parts_has_empty_dicts_by_default() -> None:
    message = Message(b"x")

    assert (message.headers, message.properties, message.delivery_info) == ({}, {}, {})
    assert message.redelivered is False


def test_a_received_compressed_message_decodes_without_its_headers_dict() -> None:
    message = Message(
        _delivery(
            zlib.compress(b'{"k": 1}'),
            content_type="application/json",
            headers={"compression": "application/x-gzip"},
        )
    )

    assert message.decode() == {"k": 1}
