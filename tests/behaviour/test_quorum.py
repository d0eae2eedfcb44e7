"""Quorum queues (``x-queue-type: quorum``), the same on memory:// and RabbitMQ.

The refusals are RabbitMQ 3.10.8's, text for text.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from kombu_lite import Connection, Queue
from kombu_lite.exceptions import OperationalError, PreconditionFailed

from .topology import (
    Cleanup,
    death,
    deaths_without_time,
    declare,
    get,
    publish,
    wait_for,
)

QUORUM = {"x-queue-type": "quorum"}


def quorum(
    connection: Connection, cleanup: Cleanup, name: str, **arguments: object
) -> Queue:
    return declare(connection, cleanup, name, durable=True, **QUORUM, **arguments)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"durable": False}, "invalid property 'non-durable' for queue '{q}'"),
        ({"auto_delete": True}, "invalid property 'auto-delete' for queue '{q}'"),
    ],
)
def test_a_quorum_queue_must_be_durable_shared_and_kept(
    connection: Connection,
    unique: str,
    cleanup: Cleanup,
    options: dict[str, Any],
    problem: str,
) -> None:
    # Queue() itself refuses these before sending (entity/queue_args.py);
    # the raw declare shows what the broker says.
    name = f"{unique}-qq"
    cleanup(Queue(name))
    flags = {"durable": True, "auto_delete": False, **options}
    with pytest.raises(PreconditionFailed) as info:
        connection.channel().queue_declare(queue=name, arguments=QUORUM, **flags)
    assert f"PRECONDITION_FAILED - {problem.format(q=name)} in vhost '/'" in str(
        info.value
    )


@pytest.mark.parametrize(
    ("arguments", "queue_type"),
    [
        ({**QUORUM, "x-max-priority": 5}, "rabbit_quorum_queue"),
        ({**QUORUM, "x-queue-mode": "lazy"}, "rabbit_quorum_queue"),
        ({"x-delivery-limit": 2}, "rabbit_classic_queue"),
    ],
)
def test_arguments_of_another_queue_type_are_refused(
    connection: Connection,
    unique: str,
    cleanup: Cleanup,
    arguments: dict[str, object],
    queue_type: str,
) -> None:
    name = f"{unique}-qq"
    cleanup(Queue(name))
    with pytest.raises(PreconditionFailed) as info:
        connection.channel().queue_declare(
            queue=name, durable=True, auto_delete=False, arguments=arguments
        )
    refused = next(key for key in arguments if key != "x-queue-type")
    assert (
        f"invalid arg '{refused}' for queue '{name}' in vhost '/' of queue type "
        f"{queue_type}"
    ) in str(info.value)


def test_basic_get_carries_the_delivery_count(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = quorum(connection, cleanup, f"{unique}-qq")
    publish(connection, queue.name, b"again", headers={"app": 1})
    counts = []
    for _ in range(3):
        message = wait_for(connection, queue.name, no_ack=False)
        counts.append((message.headers.get("x-delivery-count"), message.redelivered))
        message.requeue()

    assert counts == [(0, False), (1, True), (2, True)]
    assert message.headers["app"] == 1


def test_a_consumer_sees_the_delivery_count_from_the_first_redelivery(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = quorum(connection, cleanup, f"{unique}-qq")
    counts: list[object] = []

    def requeue_twice(message: Any) -> None:
        counts.append(message.headers.get("x-delivery-count"))
        if len(counts) < 3:
            message.requeue()
        else:
            message.ack()

    with connection.Consumer(
        [queue], on_message=requeue_twice, accept=["application/data"]
    ):
        publish(connection, queue.name, b"again")
        while len(counts) < 3:
            connection.drain_events(timeout=3)

    assert counts == [None, 1, 2]


@pytest.mark.parametrize("dead_letter", [False, True])
def test_the_delivery_limit_drops_or_dead_letters_the_message(
    connection: Connection, unique: str, cleanup: Cleanup, dead_letter: bool
) -> None:
    dead = declare(connection, cleanup, f"{unique}-dead")
    arguments: dict[str, object] = {"x-delivery-limit": 1}
    if dead_letter:
        arguments |= {
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead.name,
        }
    queue = quorum(connection, cleanup, f"{unique}-qq", **arguments)
    publish(connection, queue.name, b"poison", expiration=5)
    # The first delivery and one redelivery; the next requeue is one too many.
    for _ in range(2):
        wait_for(connection, queue.name, no_ack=False).requeue()
    time.sleep(0.3)

    assert get(connection, queue.name) is None
    message = wait_for(connection, dead.name) if dead_letter else None
    if message is None:
        assert get(connection, dead.name) is None
        return
    assert deaths_without_time(message) == [
        death("delivery_limit", queue.name, original_expiration="5000")
    ]
    assert "x-delivery-count" not in message.headers


def test_a_rejected_quorum_message_is_dead_lettered_without_its_count(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    dead = declare(connection, cleanup, f"{unique}-dead")
    queue = quorum(
        connection,
        cleanup,
        f"{unique}-qq",
        **{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead.name},
    )
    publish(connection, queue.name, b"bad")
    wait_for(connection, queue.name, no_ack=False).requeue()
    wait_for(connection, queue.name, no_ack=False).reject(requeue=False)

    message = wait_for(connection, dead.name)
    assert deaths_without_time(message) == [death("rejected", queue.name)]
    assert "x-delivery-count" not in message.headers


def test_global_qos_is_refused_on_a_quorum_queue(
    url: str, unique: str, cleanup: Cleanup
) -> None:
    with Connection(url) as connection:
        queue = quorum(connection, cleanup, f"{unique}-qq")
        channel = connection.channel()
        channel.basic_qos(prefetch_count=5, apply_global=True)
        with pytest.raises(OperationalError) as info:
            channel.basic_consume(queue.name, callback=lambda delivery: None)
    assert info.value.reply_code == 540
    assert f"queue '{queue.name}' in vhost '/' does not support global qos" in str(
        info.value
    )
