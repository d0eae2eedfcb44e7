"""``PyAmqpChannel.prepare_publish``: a publish with its frames prepared.

What ``prepare_publish(...)(body)`` does must be what ``basic_publish``
does: the cases its own path does not cover (empty and multi-frame
bodies, confirms, a closed channel) go through ``basic_publish``, and its
own path refuses writes and maps errors the same way.
"""

from __future__ import annotations

import select
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from kombu_lite.exceptions import ChannelClosed, ConnectionLost, NotFound
from kombu_lite.transport.base import BasicProperties, ConnectionParameters
from kombu_lite.transport.pyamqp import PyAmqpTransport

pytestmark = pytest.mark.broker

_PROPS = BasicProperties(content_type="application/json", delivery_mode=1)


@pytest.fixture
def broker(rabbitmq: str) -> ConnectionParameters:
    from .conftest import AMQP_PARAMS

    return AMQP_PARAMS


@pytest.fixture
def conn(broker: ConnectionParameters) -> Iterator[Any]:
    connection = PyAmqpTransport().connect(
        replace(broker, transport_options={"frame_max": 4096})
    )
    yield connection
    connection.close()


def _get_all(channel: Any, queue: str, count: int) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + 10
    while len(got) < count and time.monotonic() < deadline:
        delivery = channel.basic_get(queue, no_ack=True)
        if delivery is None:
            time.sleep(0.01)
        else:
            got.append(delivery)
    return got


@pytest.mark.parametrize(
    "body", [b"{}", b"", b"x" * 10000], ids=["small", "empty", "3-frames"]
)
def test_prepared_bodies_arrive_as_published(conn: Any, body: bytes) -> None:
    channel = conn.channel()
    queue = channel.queue_declare("", exclusive=True).queue
    publish = channel.prepare_publish(_PROPS, "", queue, False)

    assert [publish(body), publish(body)] == [0, 0]

    got = _get_all(channel, queue, 2)
    assert [delivery.body for delivery in got] == [body, body]
    assert got[0].properties.content_type == "application/json"
    assert got[0].properties.delivery_mode == 1


def test_prepared_publish_on_a_confirming_channel_returns_tags(conn: Any) -> None:
    channel = conn.channel()
    queue = channel.queue_declare("", exclusive=True).queue
    publish = channel.prepare_publish(_PROPS, "", queue, False)
    channel.confirm_select()

    tags = [publish(b"a"), publish(b"b")]

    assert tags == [1, 2]
    assert all(channel.wait_for_confirm(tag, 5.0) is None for tag in tags)


def test_prepared_publish_on_a_closed_channel_raises(conn: Any) -> None:
    channel = conn.channel()
    publish = channel.prepare_publish(_PROPS, "", "nowhere", False)
    channel.close()

    with pytest.raises(ChannelClosed):
        publish(b"x")


def test_prepared_publish_after_the_broker_closed_the_channel_is_refused(
    conn: Any, unique: str
) -> None:
    channel = conn.channel()
    publish = channel.prepare_publish(_PROPS, f"{unique}.missing", "k", False)
    publish(b"lost")
    sock = conn._conn.transport.sock
    assert select.select([sock], [], [], 10.0)[0], "no channel.close came"
    while time.monotonic() < conn.next_poll:
        time.sleep(0.005)

    with pytest.raises(NotFound):
        publish(b"after")
    assert conn.channel().queue_declare("", exclusive=True).queue


def test_a_failed_prepared_write_is_connection_lost(conn: Any) -> None:
    channel = conn.channel()
    publish = channel.prepare_publish(_PROPS, "", "nowhere", False)
    writer = conn._conn._kombu_lite_writer

    def broken(data: Any) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    writer._write = broken

    with pytest.raises(ConnectionLost):
        publish(b"x")
