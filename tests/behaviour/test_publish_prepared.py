"""Repeated plain publishes (the prepared path): the same results as the first.

``Producer.publish`` keeps what it checked of a plain call (no headers, no
extra properties, no retry) and sends the next alike call through it; see
:mod:`kombu_lite.messaging.prepared`.  These tests check that whatever
changes between two calls is still honoured.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from kombu_lite import Connection, Exchange, Producer, Queue
from kombu_lite.exceptions import ConfigurationError, NotFound

from .conftest import RawMessage

Cleanup = Callable[[Exchange | Queue], None]
RawGet = Callable[[str], RawMessage | None]


@pytest.fixture
def queue(connection: Connection, unique: str, cleanup: Cleanup) -> Queue:
    q = Queue(f"{unique}-q", Exchange(f"{unique}-x"), routing_key="rk")
    cleanup(q)
    return q


@pytest.fixture
def producer(connection: Connection, queue: Queue) -> Producer:
    assert queue.exchange is not None
    producer = Producer(connection, exchange=queue.exchange, routing_key="rk")
    # Bound to its channel now, not by its first publish: the second one is
    # then sent prepared (binding replaces the producer's exchange).
    assert producer.channel.is_open
    return producer


def _drain(raw_get: RawGet, name: str) -> list[RawMessage]:
    out = []
    while (raw := raw_get(name)) is not None:
        out.append(raw)
    return out


def test_repeated_publishes_arrive_in_order_with_their_properties(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    for n in range(5):
        producer.publish({"n": n}, declare=[queue])

    got = _drain(raw_get, queue.name)
    assert [json.loads(raw.body) for raw in got] == [{"n": n} for n in range(5)]
    assert {raw.properties["content_type"] for raw in got} == {"application/json"}
    assert {raw.properties["delivery_mode"] for raw in got} == {2}
    assert producer._prepared is not None


def test_a_changed_argument_is_honoured_after_repeated_publishes(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish({"n": 1}, declare=[queue])
    producer.publish({"n": 2}, declare=[queue])
    producer.publish({"n": 3}, declare=[queue], delivery_mode=1)
    producer.publish({"n": 4}, declare=[queue], priority=3)

    got = _drain(raw_get, queue.name)
    assert [raw.properties["delivery_mode"] for raw in got] == [2, 2, 1, 2]
    assert [raw.properties.get("priority") for raw in got] == [None, None, None, 3]


def test_a_body_of_another_type_gets_its_own_content_type(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish({"n": 1}, declare=[queue])
    producer.publish({"n": 2}, declare=[queue])
    producer.publish("text", declare=[queue])
    producer.publish(b"\x00raw", declare=[queue])

    got = _drain(raw_get, queue.name)
    assert [raw.properties["content_type"] for raw in got] == [
        "application/json",
        "application/json",
        "text/plain",
        "application/data",
    ]
    assert got[3].body == b"\x00raw"


def test_a_bool_priority_is_refused_after_an_int_one(
    producer: Producer, queue: Queue
) -> None:
    producer.publish({"n": 1}, declare=[queue], priority=1)
    producer.publish({"n": 2}, declare=[queue], priority=1)

    with pytest.raises(ConfigurationError, match="priority"):
        producer.publish({"n": 3}, declare=[queue], priority=True)


def test_a_queue_edited_between_publishes_is_declared_as_edited(
    connection: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    queue = Queue(f"{unique}-a")
    # Registered apart: the queue object is renamed below.
    cleanup(Queue(f"{unique}-a"))
    cleanup(Queue(f"{unique}-b"))
    producer = Producer(connection, routing_key=queue.name)
    assert producer.channel.is_open  # bound: see the producer fixture
    producer.publish({"n": 1}, declare=[queue])
    producer.publish({"n": 2}, declare=[queue])

    queue.name = f"{unique}-b"
    producer.publish({"n": 3}, declare=[queue], routing_key=queue.name)
    producer.publish({"n": 4}, declare=[queue], routing_key=queue.name)

    assert len(_drain(raw_get, f"{unique}-a")) == 2
    assert [json.loads(raw.body) for raw in _drain(raw_get, f"{unique}-b")] == [
        {"n": 3},
        {"n": 4},
    ]


def test_after_publish_many_a_repeated_publish_waits_for_its_confirm(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish({"n": 1}, declare=[queue])
    producer.publish({"n": 2}, declare=[queue])
    producer.publish_many([{"n": 3}], declare=[queue])

    producer.publish({"n": 4}, declare=[queue])

    assert producer.channel.confirming is True
    got = _drain(raw_get, queue.name)
    assert [json.loads(raw.body) for raw in got] == [{"n": n} for n in range(1, 5)]


def test_a_repeated_publish_goes_to_a_new_channel_after_a_close(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish({"n": 1}, declare=[queue])
    producer.publish({"n": 2}, declare=[queue])
    first = producer.channel
    first.close()

    producer.publish({"n": 3}, declare=[queue])
    producer.publish({"n": 4}, declare=[queue])

    assert producer.channel is not first
    got = _drain(raw_get, queue.name)
    assert [json.loads(raw.body) for raw in got] == [{"n": n} for n in range(1, 5)]


@pytest.mark.parametrize("transport_kind", ["memory"], indirect=True)
def test_a_repeated_publish_declares_again_what_the_broker_lost(
    producer: Producer, queue: Queue, connection: Connection, raw_get: RawGet
) -> None:
    # On memory:// the broker's 404 comes back to the publish itself.
    producer.publish({"n": 1}, declare=[queue])
    producer.publish({"n": 2}, declare=[queue])
    assert queue.exchange is not None
    with connection.channel() as other:
        queue.exchange.delete(channel=other)
        queue.delete(channel=other)

    producer.publish({"n": 3}, declare=[queue])

    got = _drain(raw_get, queue.name)
    assert [json.loads(raw.body) for raw in got] == [{"n": 3}]


@pytest.mark.parametrize("transport_kind", ["memory"], indirect=True)
def test_a_repeated_publish_to_an_exchange_the_broker_lost_raises_not_found(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    exchange = Exchange(f"{unique}-gone", type="fanout")
    cleanup(exchange)
    exchange.declare(channel=connection.default_channel)
    producer = Producer(connection, exchange=exchange.name)  # a name: no declare
    assert producer.channel.is_open  # bound: see the producer fixture
    producer.publish({"n": 1})
    producer.publish({"n": 2})
    with connection.channel() as other:
        exchange.delete(channel=other)

    with pytest.raises(NotFound):
        producer.publish({"n": 3})


def test_a_body_sent_as_is_is_not_prepared(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish(b"a", declare=[queue], content_type="text/x-a")
    producer.publish(b"b", declare=[queue], content_type="text/x-a")

    assert producer._prepared is None
    assert [raw.body for raw in _drain(raw_get, queue.name)] == [b"a", b"b"]


def test_a_repeated_publish_is_logged_like_the_first(
    producer: Producer, queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="kombu_lite.messaging"):
        producer.publish({"n": 1}, declare=[queue])
        producer.publish({"n": 2}, declare=[queue])

    published = [r for r in caplog.records if r.getMessage().startswith("published")]
    assert len(published) == 2
    assert f"routing key {'rk'!r}" in published[1].getMessage()
