"""Memory-only: the timers behind TTLs and ``x-expires``, fake clocks, gaps.

What RabbitMQ does too is in ``tests/behaviour`` (test_dead_lettering,
test_ttl, test_quorum, test_single_active_consumer), on both transports.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from kombu_lite.exceptions import NotFound, PreconditionFailed
from kombu_lite.transport.base import BasicProperties, ConnectionParameters, Delivery
from kombu_lite.transport.memory import (
    Broker,
    MemoryChannel,
    MemoryConnection,
    MemoryTransport,
)
from kombu_lite.transport.memory.deadletter import dead_letter_headers, is_cycle

PARAMS = ConnectionParameters(
    hostname="localhost", port=0, userid="guest", password="guest", virtual_host="/"
)
Started = Callable[[], set[threading.Thread]]
DLX_TO_DEAD = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dead"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def timer_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "kombu_lite-memory-timers"}


@pytest.fixture
def started() -> Callable[[], set[threading.Thread]]:
    """The timer threads started (and still alive) since the test began."""
    before = timer_threads()
    return lambda: timer_threads() - before


@pytest.fixture
def broker() -> Iterator[Broker]:
    broker = Broker()
    yield broker
    broker.reset()


@pytest.fixture
def conn(broker: Broker) -> Iterator[MemoryConnection]:
    conn = MemoryTransport(broker).connect(PARAMS)
    yield conn
    conn.close()


@pytest.fixture
def channel(conn: MemoryConnection) -> MemoryChannel:
    return conn.channel()


def declare(channel: MemoryChannel, name: str, **arguments: object) -> None:
    channel.queue_declare(name, durable=False, arguments=arguments or None)


def publish(
    channel: MemoryChannel, queue: str, body: bytes = b"m", **props: object
) -> None:
    channel.basic_publish(body, BasicProperties(**props), "", queue)  # type: ignore[arg-type]


def test_the_timer_thread_ends_with_reset(
    broker: Broker, channel: MemoryChannel, started: Started
) -> None:
    declare(channel, "q", **{"x-message-ttl": 60000})
    publish(channel, "q")
    assert len(started()) == 1

    broker.reset()

    assert started() == set()


def test_the_timer_thread_ends_with_stop_and_timers_come_back_on_start(
    broker: Broker, channel: MemoryChannel, started: Started
) -> None:
    channel.queue_declare("q", durable=True, arguments={"x-message-ttl": 100})
    publish(channel, "q", delivery_mode=2)
    broker.stop()
    assert started() == set()

    broker.start()
    time.sleep(0.3)

    assert broker.statistics().expired == 1


def test_the_timer_thread_ends_when_nothing_is_left_to_do(
    channel: MemoryChannel, started: Started
) -> None:
    declare(channel, "q", **{"x-message-ttl": 50})
    publish(channel, "q")
    deadline = time.monotonic() + 3
    while started() and time.monotonic() < deadline:
        time.sleep(0.02)

    assert started() == set()


def test_an_injected_clock_expires_lazily_without_a_thread(started: Started) -> None:
    clock = FakeClock()
    broker = Broker(clock=clock)
    conn = MemoryTransport(broker).connect(PARAMS)
    channel = conn.channel()
    declare(channel, "dead")
    declare(channel, "q", **{"x-message-ttl": 100, **DLX_TO_DEAD})
    declare(channel, "gone", **{"x-expires": 100})
    publish(channel, "q")
    assert started() == set()

    clock.now += 1
    messages = broker.queue_messages("dead")

    assert [m.properties.headers["x-death"][0]["reason"] for m in messages] == [  # type: ignore[index]
        "expired"
    ]
    assert [q.name for q in broker.queues()] == ["dead", "q"]
    conn.close()


def test_a_queue_deleted_before_its_timer_is_left_alone(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel, "q", **{"x-message-ttl": 50})
    publish(channel, "q")
    channel.queue_delete("q")
    time.sleep(0.2)

    assert broker.statistics().expired == 0


def test_streams_are_refused_naming_the_gap(channel: MemoryChannel) -> None:
    with pytest.raises(PreconditionFailed, match="streams, x-stream-offset"):
        channel.queue_declare("s", arguments={"x-queue-type": "stream"})


def test_an_unknown_queue_type_is_refused_as_rabbitmq_does(
    channel: MemoryChannel,
) -> None:
    with pytest.raises(PreconditionFailed, match="unsupported queue type 'foo'"):
        channel.queue_declare("s", arguments={"x-queue-type": b"foo"})


def test_an_exclusive_quorum_queue_is_refused(channel: MemoryChannel) -> None:
    with pytest.raises(PreconditionFailed, match="invalid property 'exclusive-owner'"):
        channel.queue_declare(
            "q", durable=True, exclusive=True, arguments={"x-queue-type": "quorum"}
        )


def test_dead_letter_arguments_may_be_bytes(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel, "dead")
    declare(
        channel,
        "q",
        **{"x-dead-letter-exchange": b"", "x-dead-letter-routing-key": b"dead"},
    )
    publish(channel, "q")
    delivery = channel.basic_get("q")
    assert delivery is not None
    channel.basic_reject(delivery.delivery_tag, requeue=False)

    assert len(broker.queue_messages("dead")) == 1


def test_a_queue_deleted_meanwhile_gets_no_dead_letters(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel, "dead")
    channel.exchange_declare("dlx", "fanout", durable=False)
    channel.queue_bind("dead", "dlx")
    declare(channel, "q", **{"x-dead-letter-exchange": "dlx"})
    publish(channel, "q")
    delivery = channel.basic_get("q")
    assert delivery is not None
    channel.queue_delete("dead")
    channel.basic_reject(delivery.delivery_tag, requeue=False)

    assert [q.name for q in broker.queues()] == ["q"]


def test_a_single_active_consumer_gives_way_when_its_channel_closes(
    conn: MemoryConnection,
) -> None:
    first, second = conn.channel(), conn.channel()
    declare(first, "q", **{"x-single-active-consumer": True})
    got: list[str] = []

    def on(name: str) -> object:
        return lambda delivery: got.append(name)

    first.basic_consume("q", on("first"))
    second.basic_consume("q", on("second"))
    publish(second, "q")
    conn.drain_events(timeout=1)
    first.close()
    publish(second, "q")
    conn.drain_events(timeout=1)

    assert got == ["first", "second"]


def test_consumers_of_equal_priority_share_round_robin(conn: MemoryConnection) -> None:
    channel = conn.channel()
    declare(channel, "q")
    got: list[str] = []
    for name, priority in (("a", 5), ("b", 5), ("low", 0)):
        channel.basic_consume(
            "q",
            lambda delivery, name=name: got.append(name),  # type: ignore[misc]
            no_ack=True,
            arguments={"x-priority": priority},
        )
    for _ in range(4):
        publish(channel, "q")
    for _ in range(4):
        conn.drain_events(timeout=1)

    assert got == ["a", "b", "a", "b"]


def test_x_death_merges_earlier_tables_of_one_queue_and_reason() -> None:
    then = dt.datetime(2026, 1, 1)
    headers = dead_letter_headers(
        {
            "x-death": [
                {"count": 1, "queue": "q", "reason": "expired", "time": then},
                {"count": 2, "queue": "q", "reason": "expired", "time": then},
                {"count": 1, "queue": "other", "reason": "rejected", "time": then},
            ],
            "CC": ["cc"],
        },
        reason="expired",
        queue="q",
        exchange="",
        routing_key="q",
        expiration=None,
        time=then,
        new_routing_key="dead",
    )

    assert headers["x-death"] == [
        {"count": 4, "queue": "q", "reason": "expired", "time": then},
        {"count": 1, "queue": "other", "reason": "rejected", "time": then},
    ]
    assert "CC" not in headers


def test_x_death_routing_keys_include_the_cc_header() -> None:
    headers = dead_letter_headers(
        {"CC": ["b", "c"]},
        reason="rejected",
        queue="q",
        exchange="x",
        routing_key="a",
        expiration=None,
        time=dt.datetime(2026, 1, 1),
        new_routing_key=None,
    )

    (table,) = headers["x-death"]  # type: ignore[misc]
    assert table["routing-keys"] == ["a", "b", "c"]
    assert headers["CC"] == ["b", "c"]


@pytest.mark.parametrize(
    ("deaths", "cycle"),
    [
        (None, False),
        ([{"queue": "a", "reason": "expired"}], True),
        (
            [{"queue": "b", "reason": "expired"}, {"queue": "a", "reason": "rejected"}],
            False,
        ),
        ([{"queue": "b", "reason": "expired"}], False),
        (["junk"], False),
    ],
)
def test_cycles_are_automatic_only_without_a_rejection(
    deaths: object, cycle: bool
) -> None:
    assert is_cycle("a", deaths) is cycle


def test_an_expired_queue_is_gone_for_its_consumers_too(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel, "q", **{"x-expires": 100})
    delivery: list[Delivery] = []
    tag = channel.basic_consume("q", delivery.append)
    time.sleep(0.3)
    assert [q.name for q in broker.queues()] == ["q"]
    channel.basic_cancel(tag)
    time.sleep(0.3)

    with pytest.raises(NotFound):
        channel.queue_declare("q", passive=True)


def test_message_ttls_expire_behind_a_longer_head(
    broker: Broker, channel: MemoryChannel
) -> None:
    declare(channel, "q")
    publish(channel, "q", b"long", expiration="60000")
    publish(channel, "q", b"short", expiration="50")
    delivery = channel.basic_get("q", no_ack=True)
    assert delivery is not None
    time.sleep(0.3)

    # The short one became the head when the long one left: its own timer.
    assert broker.statistics().expired == 1
    assert dataclasses.asdict(broker.statistics())["messages_ready"] == 0
