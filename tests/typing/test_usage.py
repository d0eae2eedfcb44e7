"""Typed usage of the public API: checked by ``mypy --strict``, run by pytest.

mypy checks this file with the package (``files`` in pyproject.toml), so
each :func:`typing.assert_type` pins the type a user's code sees, and each
``# type: ignore[code]`` marks a misuse that must stay a type error:
``warn_unused_ignores`` (part of ``--strict``) fails the check if one of
them starts to type-check.  pytest runs the same code on ``memory://``,
so the examples also work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, assert_type

import pytest

from kombu_lite import (
    Channel,
    Connection,
    Consumer,
    Exchange,
    KombuError,
    Message,
    Producer,
    Queue,
    RetryPolicy,
    SimpleBuffer,
    SimpleQueue,
    pools,
)
from kombu_lite.exceptions import ConfigurationError
from kombu_lite.pools import PooledConnection, PooledProducer
from kombu_lite.transport.base import QueueDeclareOk
from kombu_lite.transport.native_delayed_delivery import (
    MAX_LEVEL,
    bind_queue_to_native_delayed_delivery_exchange,
    calculate_routing_key,
    declare_native_delayed_delivery_exchanges_and_queues,
    level_name,
)


def test_a_connection_hands_out_typed_channels_and_producers() -> None:
    with Connection("memory://") as conn:
        assert_type(conn.connect(), Connection)
        assert_type(conn.default_channel, Channel)
        assert_type(conn.Producer(), Producer)
        assert_type(conn.info(), dict[str, object])

        assert conn.connected


def test_entities_declare_and_get_with_typed_results() -> None:
    queue = Queue("tasks", Exchange("tasks"), routing_key="tasks")
    with Connection("memory://") as conn:
        assert_type(queue.declare(channel=conn), str)
        declared = queue.queue_declare(passive=True, channel=conn)
        assert_type(declared, QueueDeclareOk)
        conn.Producer().publish({"n": 1}, exchange="tasks", routing_key="tasks")

        message = queue.get(channel=conn)
        assert_type(message, Message | None)

        assert message is not None
        assert_type(message.payload, Any)
        assert message.payload == {"n": 1}


def test_a_consumer_calls_back_with_the_body_and_the_message() -> None:
    received: list[object] = []

    def on_message(body: Any, message: Message) -> None:
        received.append(body)
        message.ack()

    with Connection("memory://") as conn:
        conn.Producer().publish(1, routing_key="q", declare=[Queue("q")])
        with conn.Consumer(Queue("q"), callbacks=[on_message]) as consumer:
            assert_type(consumer, Consumer)
            conn.drain_events(timeout=1)

    assert received == [1]


def test_simple_queue_and_buffer_give_back_messages() -> None:
    with Connection("memory://") as conn:
        with conn.SimpleQueue("simple") as queue:
            assert_type(queue, SimpleQueue)
            queue.put({"n": 1})
            message = queue.get(timeout=1)
            assert_type(message, Message)
        with conn.SimpleBuffer("buffer") as buffer:
            assert_type(buffer, SimpleBuffer)

    assert message.payload == {"n": 1}


def test_pools_lend_typed_connections_and_producers() -> None:
    conn = Connection("memory://")
    try:
        with pools.connections[conn].acquire(block=True, timeout=1) as pooled:
            assert_type(pooled, PooledConnection)
        with pools.producers[conn].acquire(block=True, timeout=1) as producer:
            assert_type(producer, PooledProducer)
            producer.publish(1, routing_key="q", declare=[Queue("q")])
    finally:
        pools.reset()

    assert isinstance(producer, Producer)


def test_ensure_keeps_the_return_type_of_the_wrapped_function() -> None:
    def answer() -> int:
        return 42

    with Connection("memory://") as conn:
        ensured = conn.ensure(None, answer, max_retries=1)
        assert_type(ensured, Callable[..., int])

        assert ensured() == 42


def test_a_retry_policy_is_a_typed_value() -> None:
    policy = RetryPolicy(max_retries=2, interval_start=0.5)

    assert_type(policy.intervals(), Iterator[float])
    assert next(policy.intervals()) == 0.5


def test_library_errors_share_one_base_class() -> None:
    with pytest.raises(KombuError) as caught:
        Connection("nope://")

    assert_type(caught.value, KombuError)


def test_delayed_delivery_takes_kombu_lite_connections_and_queues() -> None:
    queue = Queue("late", Exchange("late", type="topic"), routing_key="late")
    with Connection("memory://") as conn:
        declare_native_delayed_delivery_exchanges_and_queues(conn, "quorum")
        queue.declare(channel=conn)
        bind_queue_to_native_delayed_delivery_exchange(conn, queue)
        key = calculate_routing_key(5, "late")

    assert_type(key, str)
    assert_type(level_name(MAX_LEVEL), str)


# -- misuse that mypy rejects (and that fails at run time too) -----------------


def test_a_misspelt_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Exchange("x", durible=False)  # type: ignore[call-arg]


def test_a_queue_name_that_is_not_a_str_is_a_type_error() -> None:
    with pytest.raises(ConfigurationError):
        Queue(42)  # type: ignore[arg-type]


def test_a_retry_count_that_is_not_an_int_is_a_type_error() -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(max_retries="3")  # type: ignore[arg-type]


def test_a_url_is_not_a_channel() -> None:
    with pytest.raises(KombuError):
        Producer("memory://")  # type: ignore[arg-type]


def test_a_misspelt_connection_keyword_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'heartbeat'"):
        Connection("memory://", hearbeat=10)  # type: ignore[arg-type]


def test_kombu_arguments_without_meaning_here_accept_only_their_default() -> None:
    Connection("memory://", insist=False, uri_prefix=None, credential_provider=None)
    with pytest.raises(ConfigurationError, match="insist"):
        Connection("memory://", insist=True)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="uri_prefix"):
        Connection("memory://", uri_prefix="sqla")  # type: ignore[arg-type]
