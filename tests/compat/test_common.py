"""``kombu.common``: the same bodies against kombu_lite and kombu, on memory://.

The RPC helpers and ``Broadcast`` also run on RabbitMQ (``rabbitmq``
fixture), with every queue and exchange deleted in a finalizer.
"""

from __future__ import annotations

import uuid as std_uuid
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Lib

MEMORY = "memory://"


@pytest.fixture
def conn(lib: Lib) -> Iterator[Any]:
    connection = lib.top.Connection(MEMORY)
    yield connection
    connection.release()


def _put(lib: Lib, conn: Any, queue: Any, *bodies: Any, **props: Any) -> None:
    producer = conn.Producer()
    for body in bodies:
        producer.publish(
            body,
            exchange=queue.exchange,
            routing_key=queue.routing_key,
            declare=[queue],
            **props,
        )


def _queue(lib: Lib, name: str) -> Any:
    return lib.top.Queue(name, lib.top.Exchange(name), routing_key=name)


# -- names and small helpers ---------------------------------------------------


def test_prefetch_count_max_is_amqps_16_bit_limit(lib: Lib) -> None:
    assert lib.module("common").PREFETCH_COUNT_MAX == 0xFFFF


def test_uuid_is_a_new_version_4_uuid_string(lib: Lib) -> None:
    common = lib.module("common")
    first, second = common.uuid(), common.uuid()
    assert first != second
    assert std_uuid.UUID(first).version == 4
    assert common.uuid is lib.top.uuid


def test_broadcast_is_a_uniquely_named_auto_delete_queue_on_a_fanout(lib: Lib) -> None:
    broadcast = lib.module("common").Broadcast("news")
    assert broadcast.name.startswith("bcast.")
    assert broadcast.queue == broadcast.name
    assert broadcast.alias == "news"
    assert broadcast.auto_delete is True
    assert broadcast.exchange.name == "news"
    assert broadcast.exchange.type == "fanout"
    assert broadcast.name != lib.module("common").Broadcast("news").name


def test_broadcast_takes_a_queue_name_made_unique_on_request(lib: Lib) -> None:
    broadcast_cls = lib.module("common").Broadcast
    assert broadcast_cls("news", queue="mine").name == "mine"
    unique = broadcast_cls("news", queue="mine", unique=True).name
    assert unique.startswith("mine.")
    assert std_uuid.UUID(unique[len("mine.") :])
    assert broadcast_cls("news", unique=True).name.startswith("bcast.")


def test_broadcast_takes_an_exchange_and_queue_arguments(lib: Lib) -> None:
    exchange = lib.top.Exchange("other", type="fanout")
    broadcast = lib.module("common").Broadcast(
        "news", exchange=exchange, auto_delete=False, durable=False
    )
    assert broadcast.exchange.name == "other"
    assert broadcast.auto_delete is False
    assert broadcast.durable is False


def test_every_broadcast_queue_gets_each_message(lib: Lib, conn: Any) -> None:
    broadcast_cls = lib.module("common").Broadcast
    first, second = broadcast_cls("news"), broadcast_cls("news")
    channel = conn.default_channel
    for queue in (first, second):
        queue(channel).declare()
    conn.Producer().publish({"n": 1}, exchange=first.exchange)
    for queue in (first, second):
        message = queue(channel).get(no_ack=True)
        assert message.payload == {"n": 1}


# -- eventloop, itermessages, drain_consumer -----------------------------------


def test_eventloop_raises_the_timeout_by_default(lib: Lib, conn: Any) -> None:
    loop = lib.module("common").eventloop(conn, limit=1, timeout=0.05)
    with pytest.raises(lib.module("exceptions").TimeoutError):
        next(loop)


def test_eventloop_ignoring_timeouts_yields_nothing_for_them(
    lib: Lib, conn: Any
) -> None:
    loop = lib.top.eventloop(conn, limit=2, timeout=0.05, ignore_timeouts=True)
    assert list(loop) == []


def test_eventloop_yields_once_per_event(lib: Lib, conn: Any, unique: str) -> None:
    queue = _queue(lib, unique)
    _put(lib, conn, queue, "a", "b")
    seen: list[Any] = []
    with conn.Consumer([queue], callbacks=[lambda body, msg: seen.append(body)]):
        events = list(lib.top.eventloop(conn, limit=2, timeout=1))
    assert len(events) == 2
    assert seen == ["a", "b"]


def test_itermessages_yields_body_and_message(lib: Lib, conn: Any, unique: str) -> None:
    queue = _queue(lib, unique)
    _put(lib, conn, queue, {"n": 1}, {"n": 2})
    got = list(
        lib.module("common").itermessages(
            conn, conn.default_channel, queue, limit=2, timeout=1
        )
    )
    assert [body for body, _ in got] == [{"n": 1}, {"n": 2}]
    for _, message in got:
        message.ack()


def test_itermessages_stops_at_the_limit_of_events(
    lib: Lib, conn: Any, unique: str
) -> None:
    queue = _queue(lib, unique)
    _put(lib, conn, queue, "only")
    got = lib.module("common").itermessages(
        conn, conn.default_channel, queue, limit=3, timeout=0.05, no_ack=True
    )
    assert [body for body, _ in got] == ["only"]


def test_drain_consumer_calls_the_extra_callbacks_too(
    lib: Lib, conn: Any, unique: str
) -> None:
    queue = _queue(lib, unique)
    _put(lib, conn, queue, "x")
    also: list[Any] = []
    consumer = conn.Consumer([queue], no_ack=True)
    got = list(
        lib.module("common").drain_consumer(
            consumer, limit=1, timeout=1, callbacks=[lambda b, m: also.append(b)]
        )
    )
    assert [body for body, _ in got] == ["x"]
    assert also == ["x"]


# -- replies --------------------------------------------------------------------


def _request(lib: Lib, conn: Any, unique: str, serializer: str = "json") -> Any:
    """A received request message with reply_to and correlation_id."""
    requests = _queue(lib, f"{unique}.req")
    _put(
        lib,
        conn,
        requests,
        {"ask": 1},
        reply_to=f"{unique}.reply",
        correlation_id="c-1",
        serializer=serializer,
    )
    return requests(conn.default_channel).get(no_ack=True)


def test_send_reply_goes_to_reply_to_with_the_correlation_id(
    lib: Lib, conn: Any, unique: str
) -> None:
    replies = lib.top.Queue(f"{unique}.reply")
    replies(conn.default_channel).declare()
    request = _request(lib, conn, unique)
    lib.module("common").send_reply(
        lib.top.Exchange(""), request, {"answer": 2}, producer=conn.Producer()
    )
    reply = replies(conn.default_channel).get(no_ack=True)
    assert reply.payload == {"answer": 2}
    assert reply.properties["correlation_id"] == "c-1"
    assert reply.content_type == "application/json"


def test_send_reply_uses_the_requests_serializer(
    lib: Lib, conn: Any, unique: str
) -> None:
    replies = lib.top.Queue(f"{unique}.reply")
    replies(conn.default_channel).declare()
    request = _request(lib, conn, unique, serializer="pickle")
    lib.module("common").send_reply(
        "", request, {"answer": 2}, producer=conn.Producer()
    )
    reply = replies(conn.default_channel).get(no_ack=True, accept=["pickle"])
    assert reply.content_type == "application/x-python-serialize"
    assert reply.payload == {"answer": 2}


def test_send_reply_to_a_text_request(lib: Lib, conn: Any, unique: str) -> None:
    replies = lib.top.Queue(f"{unique}.reply")
    replies(conn.default_channel).declare()
    request = _request(lib, conn, unique)
    request.content_type = "text/plain"  # no serializer has this type
    send_reply = lib.module("common").send_reply
    if lib.is_kombu:
        with pytest.raises(KeyError):
            send_reply("", request, {"a": 1}, producer=conn.Producer())
        return
    send_reply("", request, {"a": 1}, producer=conn.Producer())
    reply = replies(conn.default_channel).get(no_ack=True)
    assert reply.content_type == "application/json"
    assert reply.payload == {"a": 1}


def test_send_reply_needs_a_producer(lib: Lib, conn: Any, unique: str) -> None:
    request = _request(lib, conn, unique)
    # kombu calls None.publish(); kombu_lite says what is missing.
    error = AttributeError if lib.is_kombu else TypeError
    with pytest.raises(error):
        lib.module("common").send_reply("", request, {"a": 1})


def test_collect_replies_yields_bodies_and_takes_the_messages(
    lib: Lib, conn: Any, unique: str
) -> None:
    queue = _queue(lib, unique)
    _put(lib, conn, queue, 1, 2)
    common = lib.module("common")
    bodies = list(
        common.collect_replies(conn, conn.default_channel, queue, limit=2, timeout=1)
    )
    assert bodies == [1, 2]
    assert queue(conn.default_channel).get() is None


def test_collect_replies_acks_each_message_without_no_ack(
    lib: Lib, conn: Any, unique: str
) -> None:
    queue = _queue(lib, unique)
    _put(lib, conn, queue, 1)
    channel = conn.channel()
    common = lib.module("common")
    assert list(
        common.collect_replies(conn, channel, queue, limit=1, timeout=1, no_ack=False)
    ) == [1]
    channel.close()  # an unacknowledged message would be requeued now
    assert queue(conn.default_channel).get() is None


# -- errors, retries, declarations ------------------------------------------------


def test_ignore_errors_swallows_connection_and_channel_errors(
    lib: Lib, conn: Any
) -> None:
    ignore_errors = lib.module("common").ignore_errors
    for error in (conn.connection_errors[0], conn.channel_errors[0]):

        def fail(error: type[BaseException] = error) -> None:
            raise error("boom")

        result = ignore_errors(conn, fail)
        # kombu falls through to its ``return`` of a context manager.
        assert (result is None) is (not lib.is_kombu)
        with ignore_errors(conn):
            fail()


def test_ignore_errors_returns_the_result_and_lets_other_errors_through(
    lib: Lib, conn: Any
) -> None:
    ignore_errors = lib.module("common").ignore_errors
    assert ignore_errors(conn, lambda a, b=0: a + b, 1, b=2) == 3
    with pytest.raises(ValueError, match="mine"), ignore_errors(conn):
        raise ValueError("mine")


def test_insured_calls_fun_with_a_pooled_connection_and_channel(
    lib: Lib, conn: Any
) -> None:
    calls: list[dict[str, Any]] = []

    def fun(x: int, y: int = 0, **kwargs: Any) -> int:
        calls.append(kwargs)
        return x + y

    pool = conn.Pool(1)
    try:
        assert lib.module("common").insured(pool, fun, (1,), {"y": 2}) == 3
        (kwargs,) = calls
        assert kwargs["connection"].connected
        assert kwargs["channel"] is not None
    finally:
        # kombu_lite's pools have no force_close_all() yet (reported).
        (pool.force_close_all if lib.is_kombu else pool.close)()


def test_maybe_declare_declares_once_per_connection(
    lib: Lib, conn: Any, unique: str
) -> None:
    common = lib.module("common")
    exchange = lib.top.Exchange(unique, type="direct")
    assert common.maybe_declare(exchange, conn.default_channel) is True
    assert common.maybe_declare(exchange, conn.default_channel) is False


def test_declaration_cached_answers_for_a_declared_entity(
    lib: Lib, conn: Any, unique: str
) -> None:
    common = lib.module("common")
    exchange = lib.top.Exchange(unique, type="direct")
    channel = conn.default_channel
    assert common.declaration_cached(exchange, channel) is False
    common.maybe_declare(exchange, channel)
    # kombu tests the object against a set of hashes: always False.
    assert common.declaration_cached(exchange, channel) is (not lib.is_kombu)


# -- QoS ----------------------------------------------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.counts: list[int] = []

    def __call__(self, prefetch_count: int) -> None:
        self.counts.append(prefetch_count)


def test_qos_applies_the_value_only_on_update_and_only_when_changed(lib: Lib) -> None:
    applied = _Recorder()
    qos = lib.module("common").QoS(applied, 10)
    assert qos.value == 10
    assert applied.counts == []
    assert qos.update() == 10
    assert qos.update() == 10
    assert applied.counts == [10]
    assert qos.increment_eventually() == 11
    assert qos.increment_eventually(3) == 14
    assert qos.prev == 10
    qos.update()
    assert applied.counts == [10, 14]


def test_qos_decrement_stops_at_one(lib: Lib) -> None:
    qos = lib.module("common").QoS(_Recorder(), 3)
    assert qos.decrement_eventually(2) == 1
    assert qos.decrement_eventually() == 1


def test_qos_zero_means_unlimited_and_stays_zero(lib: Lib) -> None:
    qos = lib.module("common").QoS(_Recorder(), 0)
    assert qos.increment_eventually() == 0
    assert qos.decrement_eventually() == 0
    assert lib.module("common").QoS(_Recorder(), None).value == 0


def test_qos_increment_stops_at_max_prefetch(lib: Lib) -> None:
    qos = lib.module("common").QoS(_Recorder(), 8, max_prefetch=10)
    assert qos.increment_eventually(5) == 10


def test_qos_past_the_amqp_limit_is_applied_as_unlimited(lib: Lib) -> None:
    common = lib.module("common")
    applied = _Recorder()
    qos = common.QoS(applied, 1)
    assert qos.set(common.PREFETCH_COUNT_MAX + 1) == common.PREFETCH_COUNT_MAX + 1
    assert applied.counts == [0]


def test_qos_drives_a_consumers_prefetch(lib: Lib, conn: Any, unique: str) -> None:
    queue = _queue(lib, unique)
    consumer = conn.Consumer([queue])
    qos = lib.module("common").QoS(consumer.qos, 2)
    qos.update()
    qos.increment_eventually()
    assert qos.update() == 3


# -- on RabbitMQ --------------------------------------------------------------------


@pytest.fixture
def amqp(lib: Lib, rabbitmq: str) -> Iterator[Any]:
    connection = lib.top.Connection(rabbitmq)
    yield connection
    connection.release()


def _delete_later(
    request: pytest.FixtureRequest,
    lib: Lib,
    rabbitmq: str,
    queues: list[str],
    exchanges: list[str],
) -> None:
    def delete() -> None:
        with lib.top.Connection(rabbitmq) as cleaner:
            for name in queues:
                cleaner.channel().queue_delete(name)
            for name in exchanges:
                cleaner.channel().exchange_delete(name)

    request.addfinalizer(delete)


def test_broadcast_fans_out_on_rabbitmq(
    lib: Lib, amqp: Any, rabbitmq: str, unique: str, request: pytest.FixtureRequest
) -> None:
    broadcast_cls = lib.module("common").Broadcast
    first = broadcast_cls(unique, queue=f"{unique}.a")
    second = broadcast_cls(unique, queue=f"{unique}.b")
    _delete_later(request, lib, rabbitmq, [first.name, second.name], [unique])
    channel = amqp.default_channel
    for queue in (first, second):
        queue(channel).declare()
    amqp.Producer().publish("hello", exchange=first.exchange)
    got = list(
        lib.module("common").itermessages(
            amqp, channel, first, limit=1, timeout=5, no_ack=True
        )
    )
    assert [body for body, _ in got] == ["hello"]
    message = second(channel).get(no_ack=True)
    assert message is not None
    assert message.payload == "hello"


def test_send_reply_and_collect_replies_on_rabbitmq(
    lib: Lib, amqp: Any, rabbitmq: str, unique: str, request: pytest.FixtureRequest
) -> None:
    common = lib.module("common")
    requests = lib.top.Queue(f"{unique}.req")
    replies = lib.top.Queue(f"{unique}.reply")
    _delete_later(request, lib, rabbitmq, [requests.name, replies.name], [])
    channel = amqp.default_channel
    for queue in (requests, replies):
        queue(channel).declare()
    amqp.Producer().publish(
        {"ask": 1},
        routing_key=requests.name,
        reply_to=replies.name,
        correlation_id="c-9",
    )
    request_message = None
    for _ in range(50):
        request_message = requests(channel).get(no_ack=True)
        if request_message is not None:
            break
    assert request_message is not None
    common.send_reply("", request_message, {"answer": 42}, producer=amqp.Producer())
    got = list(common.collect_replies(amqp, channel, replies, limit=1, timeout=5))
    assert got == [{"answer": 42}]
