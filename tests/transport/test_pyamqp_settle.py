"""acks.py's Settler and consuming.py's py-amqp handler, against fakes.

The broker paths (acks, rejects, deliveries) run in the behaviour and
contract suites; these are the ones a live broker does not produce on
demand: a write refused under the lock, a write that stalls, a delivery
py-amqp dispatched itself.
"""

from __future__ import annotations

from typing import Any

import pytest
from amqp.basic_message import Message as AmqpMessage

from kombu_lite.exceptions import ChannelClosed, ConnectionLost
from kombu_lite.transport.base import BasicProperties, Delivery
from kombu_lite.transport.channel_state import ChannelLifecycle
from kombu_lite.transport.pyamqp._mapping import ErrorContext
from kombu_lite.transport.pyamqp.acks import Settler
from kombu_lite.transport.pyamqp.consuming import ChannelConsumers
from kombu_lite.transport.pyamqp.reader import FrameReader


class _Channel:
    channel_id = 3
    is_open = True

    def __init__(self) -> None:
        self.lifecycle = ChannelLifecycle()
        self.closed: list[str] = []

    def check(self) -> None:
        if self.lifecycle.reason is not None:
            raise ChannelClosed(f"closed ({self.lifecycle.reason})")

    def mark_closed(self, reason: str) -> None:
        self.closed.append(reason)

    def requeue(self, delivery_tag: int) -> None:
        raise AssertionError("not expected")


class _Connection:
    def __init__(self) -> None:
        self.errors = ErrorContext("127.0.0.1:5672")
        self.stalled = 0

    def drop_stalled(self) -> None:
        self.stalled += 1


class _Raw:
    is_open = True
    connection = None


class _Writer:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.frames: list[bytes] = []

    def write(self, data: bytes, refused: Any = None) -> bool:
        if self.error is not None:
            raise self.error
        if refused is not None and refused():
            return False
        self.frames.append(data)
        return True


def _settler(
    writer: _Writer,
) -> tuple[Settler, _Channel, _Connection]:
    channel = _Channel()
    conn = _Connection()
    settler = Settler(channel, conn, _Raw())  # type: ignore[arg-type]
    settler._writer = writer  # type: ignore[assignment]
    return settler, channel, conn


def test_an_ack_is_one_basic_ack_frame() -> None:
    writer = _Writer()
    settler, _channel, _conn = _settler(writer)

    settler.ack(2**40 + 5, True)
    settler.reject(9, False)

    assert writer.frames == [
        b"\x01\x00\x03\x00\x00\x00\x0d\x00\x3c\x00\x50"
        + (2**40 + 5).to_bytes(8, "big")
        + b"\x01\xce",
        b"\x01\x00\x03\x00\x00\x00\x0d\x00\x3c\x00\x5a"
        + (9).to_bytes(8, "big")
        + b"\x00\xce",
    ]


def test_an_ack_refused_under_the_write_lock_raises_why() -> None:
    # The channel closed between the state check and the write lock (its
    # close-ok may be on the wire): nothing is written.
    writer = _Writer()
    settler, channel, _conn = _settler(writer)

    def refused() -> bool:
        channel.lifecycle.close("404 NOT_FOUND")
        return True

    writer.write = lambda data, _refused=None: not refused()  # type: ignore[method-assign]

    with pytest.raises(ChannelClosed, match="404 NOT_FOUND"):
        settler.ack(1, False)


def test_an_ack_on_a_closed_channel_raises_without_writing() -> None:
    writer = _Writer()
    settler, channel, _conn = _settler(writer)
    channel.lifecycle.close("closed by the application")

    with pytest.raises(ChannelClosed):
        settler.ack(1, False)
    assert writer.frames == []


def test_a_stalled_ack_write_drops_the_connection() -> None:
    settler, _channel, conn = _settler(_Writer(TimeoutError("timed out")))

    with pytest.raises(ConnectionLost):
        settler.ack(1, False)
    assert conn.stalled == 1


def test_a_failed_ack_write_is_connection_lost() -> None:
    settler, _channel, conn = _settler(_Writer(ConnectionResetError(104, "reset")))

    with pytest.raises(ConnectionLost):
        settler.reject(1, True)
    assert conn.stalled == 0


def test_a_delivery_py_amqp_dispatched_is_handed_out_like_any_other() -> None:
    channel = _Channel()
    reader = FrameReader(object(), "127.0.0.1:5672", 1.0)
    consumers = ChannelConsumers(channel, _Raw(), reader)  # type: ignore[arg-type]
    received: list[Delivery] = []
    consumers.add("ctag", received.append, no_ack=False, on_cancel=None)

    message = AmqpMessage(b"body", content_type="text/plain")
    consumers.on_deliver("ctag", 4, False, "ex", "rk", message)

    assert reader.hand_out() is True
    assert received == [
        Delivery(
            body=b"body",
            properties=BasicProperties(content_type="text/plain"),
            delivery_tag=4,
            exchange="ex",
            routing_key="rk",
            redelivered=False,
            consumer_tag="ctag",
        )
    ]
