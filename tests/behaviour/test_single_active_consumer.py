"""Single active consumer and consumer priorities, on memory:// and RabbitMQ."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kombu_lite import Connection, Queue
from kombu_lite.exceptions import PreconditionFailed

from .topology import Cleanup, declare, publish

SAC = {"x-single-active-consumer": True}


class Inbox:
    """A consumer callback that keeps bodies, acking or not."""

    def __init__(self, *, ack: bool = True) -> None:
        self.bodies: list[bytes] = []
        self.messages: list[Any] = []
        self._ack = ack

    def __call__(self, message: Any) -> None:
        self.bodies.append(message.body)
        self.messages.append(message)
        if self._ack:
            message.ack()


def drain_until(connection: Connection, done: Callable[[], bool]) -> None:
    while not done():
        connection.drain_events(timeout=3)


def drain_quietly(connection: Connection, window: float = 0.3) -> None:
    try:
        while True:
            connection.drain_events(timeout=window)
    except TimeoutError:
        return


def consumer(connection: Connection, queue: Queue, inbox: Inbox, **kw: Any) -> Any:
    return connection.Consumer(
        [queue], on_message=inbox, accept=["application/data"], **kw
    )


def test_only_the_first_consumer_of_a_single_active_consumer_queue_receives(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = declare(connection, cleanup, f"{unique}-sac", **SAC)
    first, second = Inbox(), Inbox()
    with consumer(connection, queue, first), consumer(connection, queue, second):
        for n in range(4):
            publish(connection, queue.name, b"%d" % n)
        drain_until(connection, lambda: len(first.bodies) == 4)
        drain_quietly(connection)

    assert first.bodies == [b"0", b"1", b"2", b"3"]
    assert second.bodies == []


def test_the_next_consumer_takes_over_when_the_active_one_cancels(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = declare(connection, cleanup, f"{unique}-sac", **SAC)
    first, second = Inbox(), Inbox()
    with (
        consumer(connection, queue, first) as active,
        consumer(connection, queue, second),
    ):
        publish(connection, queue.name, b"a")
        drain_until(connection, lambda: len(first.bodies) == 1)
        active.cancel()
        publish(connection, queue.name, b"b")
        drain_until(connection, lambda: len(second.bodies) == 1)

    assert first.bodies == [b"a"]
    assert second.bodies == [b"b"]


def test_unacked_messages_of_a_closed_active_channel_go_to_the_next_consumer(
    url: str, unique: str, cleanup: Cleanup
) -> None:
    with Connection(url) as connection, Connection(url) as other:
        queue = declare(connection, cleanup, f"{unique}-sac", **SAC)
        holding, taking = Inbox(ack=False), Inbox()
        with consumer(other, queue, holding), consumer(connection, queue, taking):
            publish(connection, queue.name, b"held")
            drain_until(other, lambda: len(holding.bodies) == 1)
            other.release()  # the active consumer's connection goes
            drain_until(connection, lambda: len(taking.bodies) == 1)

        assert taking.bodies == [b"held"]
        assert taking.messages[0].redelivered


def test_a_single_active_consumer_flag_must_be_a_boolean(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = Queue(
        f"{unique}-sac", durable=False, queue_arguments={"x-single-active-consumer": 1}
    )
    cleanup(queue)
    with pytest.raises(PreconditionFailed, match=r"\{unacceptable_type,signedint\}"):
        queue.declare(channel=connection.channel())


def test_the_highest_priority_consumer_gets_the_messages(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    name = f"{unique}-prio"
    declare(connection, cleanup, name)
    low, high = Inbox(), Inbox()
    low_queue = Queue(name, durable=False, consumer_arguments={"x-priority": 1})
    high_queue = Queue(name, durable=False, consumer_arguments={"x-priority": 10})
    with consumer(connection, low_queue, low), consumer(connection, high_queue, high):
        for n in range(4):
            publish(connection, name, b"%d" % n)
        drain_until(connection, lambda: len(high.bodies) == 4)
        drain_quietly(connection)

    assert high.bodies == [b"0", b"1", b"2", b"3"]
    assert low.bodies == []


def test_a_lower_priority_consumer_gets_what_a_blocked_higher_one_cannot_take(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    name = f"{unique}-prio"
    declare(connection, cleanup, name)
    low, high = Inbox(), Inbox(ack=False)
    high_queue = Queue(name, durable=False, consumer_arguments={"x-priority": 10})
    with (
        consumer(connection, high_queue, high, prefetch_count=1),
        consumer(connection, Queue(name, durable=False), low),
    ):
        for n in range(3):
            publish(connection, name, b"%d" % n)
        drain_until(connection, lambda: len(low.bodies) == 2)
        drain_quietly(connection)

    assert high.bodies == [b"0"]
    assert low.bodies == [b"1", b"2"]


def test_a_consumer_priority_must_be_an_integer(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    name = f"{unique}-prio"
    declare(connection, cleanup, name)
    queue = Queue(name, durable=False, consumer_arguments={"x-priority": "high"})
    with pytest.raises(PreconditionFailed) as info:
        connection.Consumer([queue], on_message=Inbox()).consume()
    assert (
        f"invalid arg 'x-priority' for queue '{name}' in vhost '/': "
        '"expected integer, got longstr"'
    ) in str(info.value)
