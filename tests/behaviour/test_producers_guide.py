"""Every example of the producers guide, run on memory:// and on RabbitMQ.

The guide is ``shared/seed/producers-guide.rst`` (kombu's, with ``kombu``
read as ``kombu_lite``).  Names are made unique per test; each test checks
that the message really arrived, read back independently (``raw_get``).
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable

from kombu_lite import Connection, Exchange, Producer, Queue

from .conftest import RawMessage

Cleanup = Callable[[Exchange | Queue], None]
RawGet = Callable[[str], RawMessage | None]


def test_connection_producer_factory_gives_a_producer(connection: Connection) -> None:
    producer = connection.Producer()

    assert isinstance(producer, Producer)
    assert producer.connection is connection


def test_producer_takes_a_channel_inside_nested_with_blocks(url: str) -> None:
    with Connection(url) as conn, conn.channel() as channel:
        producer = Producer(channel)

        assert producer.channel is channel
    assert not channel.is_open


def test_publish_to_a_declared_direct_exchange_reaches_a_bound_queue(
    connection: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    producer = connection.Producer()
    exchange = Exchange(f"{unique}-name", type="direct")
    queue = Queue(f"{unique}-q", exchange, routing_key="rk")
    cleanup(queue)
    queue.declare(channel=connection.default_channel)

    producer.publish(
        {"hello": "world"},  # message to send
        exchange=exchange,  # destination exchange
        routing_key="rk",  # destination routing key,
        declare=[exchange],  # make sure exchange is declared,
    )

    raw = raw_get(queue.name)
    assert raw is not None
    assert json.loads(raw.body) == {"hello": "world"}
    assert raw.properties["content_type"] == "application/json"


def test_publish_with_retry_true_delivers_once(
    connection: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    queue = Queue(f"{unique}-q", Exchange(f"{unique}-x"), routing_key="rk")
    cleanup(queue)
    producer = connection.Producer()

    producer.publish(
        {"hello": "world"},
        exchange=queue.exchange,
        routing_key="rk",
        declare=[queue],
        retry=True,
    )

    raw = raw_get(queue.name)
    assert raw is not None
    assert json.loads(raw.body) == {"hello": "world"}
    assert raw_get(queue.name) is None


def test_publish_with_the_guides_retry_policy(
    connection: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    queue = Queue(f"{unique}-q", Exchange(f"{unique}-x"), routing_key="rk")
    cleanup(queue)
    producer = connection.Producer()

    producer.publish(
        {"hello": "world"},
        exchange=queue.exchange,
        routing_key="rk",
        declare=[queue],
        retry=True,
        retry_policy={
            "interval_start": 0,  # First retry immediately,
            "interval_step": 2,  # then increase by 2s for every retry.
            "interval_max": 30,  # but don't exceed 30s between retries.
            "max_retries": 30,  # give up after 30 tries.
        },
    )

    raw = raw_get(queue.name)
    assert raw is not None
    assert json.loads(raw.body) == {"hello": "world"}


def test_declaring_the_task_queue_declares_exchange_queue_and_binding(
    connection: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    task_queue = Queue(
        f"{unique}-tasks", Exchange(f"{unique}-tasks"), routing_key="tasks"
    )
    cleanup(task_queue)
    producer = connection.Producer()

    producer.publish(
        {"hello": "world"},
        retry=True,
        exchange=task_queue.exchange,
        routing_key=task_queue.routing_key,
        declare=[task_queue],  # declares exchange, queue and binds.
    )

    raw = raw_get(task_queue.name)
    assert raw is not None
    assert raw.exchange == f"{unique}-tasks"
    assert raw.routing_key == "tasks"


def test_anon_exchange_delivers_straight_to_the_named_queue(
    connection: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    task_queue = Queue(
        f"{unique}-tasks", Exchange(f"{unique}-tasks"), routing_key="tasks"
    )
    cleanup(task_queue)
    task_queue.declare(channel=connection.default_channel)
    producer = connection.Producer()

    producer.publish(
        {"hello": "world"},
        exchange="",
        routing_key=task_queue.name,
    )

    raw = raw_get(task_queue.name)
    assert raw is not None
    assert raw.exchange == ""
    assert json.loads(raw.body) == {"hello": "world"}


def test_pickle_serializer_sends_a_python_pickle(
    connection: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    queue = Queue(f"{unique}-q")
    cleanup(queue)
    queue.declare(channel=connection.default_channel)
    producer = connection.Producer(routing_key=queue.name)

    producer.publish({"hello": "world"}, serializer="pickle")

    raw = raw_get(queue.name)
    assert raw is not None
    assert raw.properties["content_type"] == "application/x-python-serialize"
    assert pickle.loads(raw.body) == {"hello": "world"}
