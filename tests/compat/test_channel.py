"""Channels: py-amqp's AMQP methods on ``connection.channel()``, as kombu has them.

Each test runs against kombu_lite and kombu, on ``memory://`` and on
RabbitMQ (where the broker's answers matter).  kombu's memory transport
has signatures of its own, so the calls here use keywords where the two
orders differ.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .conftest import Lib

AMQP_METHODS = [
    "exchange_declare",
    "exchange_delete",
    "exchange_bind",
    "exchange_unbind",
    "queue_declare",
    "queue_bind",
    "queue_unbind",
    "queue_purge",
    "queue_delete",
    "basic_qos",
    "basic_get",
    "basic_publish",
    "basic_ack",
    "basic_reject",
    "basic_recover",
    "basic_consume",
    "basic_cancel",
    "prepare_message",
    "message_to_python",
    "confirm_select",
    "flow",
    "close",
]


@pytest.fixture(params=["memory", pytest.param("amqp", marks=pytest.mark.broker)])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    return str(request.getfixturevalue("rabbitmq"))


@pytest.fixture
def conn(lib: Lib, url: str) -> Iterator[Any]:
    connection = lib.top.Connection(url)
    yield connection
    connection.release()


@pytest.fixture
def channel(conn: Any) -> Iterator[Any]:
    chan = conn.channel()
    yield chan
    chan.close()


@pytest.fixture
def names(url: str, unique: str) -> Iterator[Callable[[str], str]]:
    """``names('q')``: a unique name; every queue and exchange is deleted after."""
    made: list[str] = []

    def name(suffix: str) -> str:
        made.append(f"{unique}.{suffix}")
        return made[-1]

    yield name
    if url.startswith("amqp"):
        import amqp

        admin = amqp.Connection("127.0.0.1:5672", userid="guest", password="guest")
        admin.connect()
        try:
            chan = admin.channel()
            for item in made:
                chan.queue_delete(item)
                chan.exchange_delete(item)
        finally:
            admin.close()


@pytest.fixture
def memory_channel(lib: Lib) -> Iterator[Any]:
    """A channel on ``memory://`` (for tests that would disturb RabbitMQ)."""
    with lib.top.Connection("memory://") as connection:
        chan = connection.channel()
        yield chan
        chan.close()


def _is_kombu_memory(lib: Lib, url: str) -> bool:
    return lib.is_kombu and url.startswith("memory")


def _json(channel: Any, data: bytes = b'{"a": 1}') -> Any:
    return channel.prepare_message(
        data, content_type="application/json", content_encoding="utf-8"
    )


def _wait_for_count(channel: Any, queue: str, count: int) -> int:
    # RabbitMQ routes a publish without confirms asynchronously.
    deadline = time.monotonic() + 5
    while True:
        found = channel.queue_declare(queue=queue, passive=True).message_count
        if found == count or time.monotonic() > deadline:
            return int(found)
        time.sleep(0.02)


def _declare(channel: Any, queue: str) -> Any:
    return channel.queue_declare(queue=queue, durable=False, auto_delete=False)


@pytest.mark.parametrize("source", ["channel", "default_channel"])
def test_channels_have_the_amqp_methods(
    lib: Lib, url: str, conn: Any, source: str
) -> None:
    chan = conn.channel() if source == "channel" else conn.default_channel
    expected = list(AMQP_METHODS)
    if _is_kombu_memory(lib, url):
        expected.remove("confirm_select")  # kombu's memory channels lack it
    assert [name for name in expected if not callable(getattr(chan, name, None))] == []


def test_queue_declare_returns_the_named_tuple(
    channel: Any, names: Callable[[str], str]
) -> None:
    queue = names("q")

    result = _declare(channel, queue)

    assert result._fields == ("queue", "message_count", "consumer_count")
    assert tuple(result) == (queue, 0, 0)


def test_queue_declare_without_a_name_gets_one_from_the_broker(channel: Any) -> None:
    result = channel.queue_declare(queue="", exclusive=True)

    assert result.queue.startswith("amq.gen-")
    channel.queue_delete(result.queue)


def test_prepared_message_goes_through_a_binding_and_comes_back(
    channel: Any, names: Callable[[str], str]
) -> None:
    queue, exchange = names("q"), names("x")
    _declare(channel, queue)
    channel.exchange_declare(
        exchange=exchange, type="direct", durable=False, auto_delete=False
    )
    channel.queue_bind(queue=queue, exchange=exchange, routing_key="rk")

    channel.basic_publish(_json(channel), exchange=exchange, routing_key="rk")
    assert _wait_for_count(channel, queue, 1) == 1
    raw = channel.basic_get(queue)
    message = channel.message_to_python(raw)
    channel.basic_ack(raw.delivery_tag)

    assert raw.delivery_info["exchange"] == exchange
    assert raw.delivery_info["routing_key"] == "rk"
    assert message.payload == {"a": 1}
    assert message.content_type == "application/json"
    assert channel.basic_get(queue) is None


def test_queue_unbind_stops_the_routing(
    channel: Any, names: Callable[[str], str]
) -> None:
    queue, exchange = names("q"), names("x")
    _declare(channel, queue)
    channel.exchange_declare(
        exchange=exchange, type="direct", durable=False, auto_delete=False
    )
    channel.queue_bind(queue=queue, exchange=exchange, routing_key="rk")

    channel.queue_unbind(queue=queue, exchange=exchange, routing_key="rk")
    channel.basic_publish(_json(channel), exchange=exchange, routing_key="rk")

    assert channel.queue_declare(queue=queue, passive=True).message_count == 0


def test_queue_purge_returns_how_many_it_dropped(
    channel: Any, names: Callable[[str], str]
) -> None:
    queue = names("q")
    _declare(channel, queue)
    for _ in range(3):
        channel.basic_publish(_json(channel), exchange="", routing_key=queue)
    _wait_for_count(channel, queue, 3)

    assert channel.queue_purge(queue) == 3
    assert channel.basic_get(queue) is None


def test_queue_delete_returns_the_message_count(
    lib: Lib, url: str, channel: Any, names: Callable[[str], str]
) -> None:
    queue = names("q")
    _declare(channel, queue)
    channel.basic_publish(_json(channel), exchange="", routing_key=queue)
    _wait_for_count(channel, queue, 1)

    deleted = channel.queue_delete(queue)

    if _is_kombu_memory(lib, url):
        assert deleted is None  # kombu's memory transport returns nothing
    else:
        assert deleted == 1


def test_basic_consume_calls_back_with_each_message(
    lib: Lib, url: str, conn: Any, channel: Any, names: Callable[[str], str]
) -> None:
    queue = names("q")
    _declare(channel, queue)
    received: list[Any] = []

    tag = channel.basic_consume(
        queue=queue, no_ack=False, callback=received.append, consumer_tag="c1"
    )
    channel.basic_publish(_json(channel), exchange="", routing_key=queue)
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            conn.drain_events(timeout=0.5)
    channel.basic_ack(received[0].delivery_tag)
    channel.basic_cancel("c1")

    if _is_kombu_memory(lib, url):
        assert tag is None  # kombu's memory transport returns no tag
    else:
        assert tag == "c1"
    assert channel.message_to_python(received[0]).payload == {"a": 1}


def test_basic_reject_with_requeue_puts_the_message_back(
    channel: Any, names: Callable[[str], str]
) -> None:
    queue = names("q")
    _declare(channel, queue)
    channel.basic_publish(_json(channel), exchange="", routing_key=queue)
    _wait_for_count(channel, queue, 1)

    first = channel.basic_get(queue)
    channel.basic_reject(first.delivery_tag, requeue=True)
    again = channel.basic_get(queue, no_ack=True)

    assert channel.message_to_python(again).payload == {"a": 1}


def test_basic_qos_takes_py_amqps_positional_arguments(channel: Any) -> None:
    channel.basic_qos(0, 10, False)


def test_exchange_to_exchange_binding_routes(
    lib: Lib, url: str, channel: Any, names: Callable[[str], str]
) -> None:
    queue, source, destination = names("q"), names("src"), names("dst")
    if _is_kombu_memory(lib, url):
        # A kombu fault kombu_lite fixes (docs/migrating.rst).
        with pytest.raises(NotImplementedError):
            channel.exchange_bind(destination=destination, source=source)
        return
    _declare(channel, queue)
    for exchange in (source, destination):
        channel.exchange_declare(
            exchange=exchange, type="direct", durable=False, auto_delete=False
        )
    channel.queue_bind(queue=queue, exchange=destination, routing_key="rk")

    channel.exchange_bind(destination=destination, source=source, routing_key="rk")
    channel.basic_publish(_json(channel), exchange=source, routing_key="rk")
    routed = _wait_for_count(channel, queue, 1)
    channel.exchange_unbind(destination=destination, source=source, routing_key="rk")
    channel.exchange_delete(source)

    assert routed == 1


def test_confirm_select_makes_publish_wait_for_the_broker(
    lib: Lib, url: str, channel: Any, names: Callable[[str], str]
) -> None:
    if _is_kombu_memory(lib, url):
        # kombu's memory channels have no confirm_select (docs/migrating.rst).
        assert not hasattr(channel, "confirm_select")
        return
    queue = names("q")
    _declare(channel, queue)

    channel.confirm_select()
    channel.basic_publish(_json(channel), exchange="", routing_key=queue)

    # Confirmed: the queue has it, no waiting needed.
    assert channel.basic_get(queue, no_ack=True) is not None


def test_flow_off_is_refused(lib: Lib, memory_channel: Any) -> None:
    channel = memory_channel
    # kombu's memory channel refuses flow; RabbitMQ closes the connection
    # on flow(False) (so kombu's pyamqp channel is not tried here), and
    # kombu_lite refuses it on every transport.
    with pytest.raises(NotImplementedError):
        channel.flow(False)


def test_flow_on_is_harmless(lib: Lib, memory_channel: Any) -> None:
    channel = memory_channel
    if lib.is_kombu:
        # kombu's memory channel refuses flow(True) too (a difference).
        with pytest.raises(NotImplementedError):
            channel.flow(True)
    else:
        assert channel.flow(True) is None


def test_immediate_publish_is_refused_before_sending(
    lib: Lib, memory_channel: Any, unique: str
) -> None:
    channel = memory_channel
    queue = f"{unique}.q"
    _declare(channel, queue)

    if lib.is_kombu:
        # kombu sends it; RabbitMQ then closes the connection (540).
        channel.basic_publish(
            _json(channel), exchange="", routing_key=queue, immediate=True
        )
    else:
        from kombu_lite.exceptions import ConfigurationError

        with pytest.raises(ConfigurationError, match="immediate"):
            channel.basic_publish(
                _json(channel), exchange="", routing_key=queue, immediate=True
            )
        assert channel.queue_declare(queue=queue, passive=True).message_count == 0


def test_basic_recover_requeues_unacked_messages(
    memory_channel: Any, unique: str
) -> None:
    channel = memory_channel
    queue = f"{unique}.q"
    _declare(channel, queue)
    channel.basic_publish(_json(channel), exchange="", routing_key=queue)
    assert channel.basic_get(queue) is not None

    channel.basic_recover(requeue=True)

    assert channel.message_to_python(channel.basic_get(queue, no_ack=True)).payload == {
        "a": 1
    }
