"""Dead-lettering with raw ``x-`` arguments, the same on memory:// and RabbitMQ.

The expected ``x-death`` tables are what RabbitMQ 3.10.8 writes, field by
field and in its order (``time`` checked by type and closeness only).
"""

from __future__ import annotations

import time

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import MessageNacked

from .topology import (
    FIRST_DEATH_ORDER,
    Cleanup,
    death,
    deaths_without_time,
    declare,
    get,
    publish,
    wait_for,
)


def dlx_to(queue: str) -> dict[str, object]:
    """Arguments that dead-letter to ``queue`` through the default exchange."""
    return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue}


def test_a_rejected_message_is_dead_lettered_with_rabbitmqs_x_death(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    dead = declare(connection, cleanup, f"{unique}-dead")
    work = declare(connection, cleanup, f"{unique}-work", **dlx_to(dead.name))
    publish(connection, work.name, b"job", expiration=60, headers={"app": "v"})

    message = get(connection, work.name, no_ack=False)
    assert message is not None
    message.reject(requeue=False)
    dead_lettered = wait_for(connection, dead.name)

    assert dead_lettered.body == b"job"
    assert dead_lettered.delivery_info["exchange"] == ""
    assert dead_lettered.delivery_info["routing_key"] == dead.name
    # The per-message TTL is removed and kept as original-expiration.
    assert dead_lettered.properties.get("expiration") is None
    assert deaths_without_time(dead_lettered) == [
        death("rejected", work.name, original_expiration="60000")
    ]
    (table,) = dead_lettered.headers["x-death"]
    assert list(table) == [*FIRST_DEATH_ORDER, "original-expiration"]
    assert dead_lettered.headers["app"] == "v"
    assert dead_lettered.headers["x-first-death-reason"] == "rejected"
    assert dead_lettered.headers["x-first-death-queue"] == work.name
    assert dead_lettered.headers["x-first-death-exchange"] == ""


def test_an_expired_message_is_dead_lettered_on_time_without_a_consumer(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    dlx = Exchange(f"{unique}-dlx", type="direct", durable=False)
    ttl_name = f"{unique}-ttl"
    dead = Queue(f"{unique}-dead", exchange=dlx, routing_key=ttl_name, durable=False)
    cleanup(dead)
    dead.declare(channel=connection.default_channel)
    declare(
        connection,
        cleanup,
        ttl_name,
        **{"x-message-ttl": 100, "x-dead-letter-exchange": dlx.name},
    )
    received = []
    with connection.Consumer(
        [dead], on_message=received.append, accept=["application/data"]
    ):
        publish(connection, ttl_name, b"late")
        # Only drain_events: the expiry must happen on its own.
        while not received:
            connection.drain_events(timeout=3)
    (message,) = received
    message.ack()

    assert message.delivery_info["exchange"] == dlx.name
    assert message.delivery_info["routing_key"] == ttl_name  # the original key
    assert deaths_without_time(message) == [death("expired", ttl_name)]
    assert message.headers["x-first-death-reason"] == "expired"


def test_a_per_message_ttl_expiry_keeps_the_original_expiration(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    dead = declare(connection, cleanup, f"{unique}-dead")
    work = declare(connection, cleanup, f"{unique}-work", **dlx_to(dead.name))
    publish(connection, work.name, b"short", expiration=0.1)

    message = wait_for(connection, dead.name)

    assert deaths_without_time(message) == [
        death("expired", work.name, original_expiration="100")
    ]
    assert message.properties.get("expiration") is None


def test_drop_head_overflow_dead_letters_the_oldest_message(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    dead = declare(connection, cleanup, f"{unique}-dead")
    full = declare(
        connection,
        cleanup,
        f"{unique}-full",
        **{"x-max-length": 1, **dlx_to(dead.name)},
    )
    publish(connection, full.name, b"1")
    publish(connection, full.name, b"2")

    message = wait_for(connection, dead.name)

    assert message.body == b"1"
    assert deaths_without_time(message) == [death("maxlen", full.name)]
    remaining = get(connection, full.name)
    assert remaining is not None
    assert remaining.body == b"2"


def test_reject_publish_dlx_nacks_and_dead_letters_the_new_message(
    url: str, unique: str, cleanup: Cleanup
) -> None:
    with Connection(url, confirm_publish=True) as connection:
        dead = declare(connection, cleanup, f"{unique}-dead")
        full = declare(
            connection,
            cleanup,
            f"{unique}-full",
            **{
                "x-max-length": 1,
                "x-overflow": "reject-publish-dlx",
                **dlx_to(dead.name),
            },
        )
        publish(connection, full.name, b"1")
        with pytest.raises(MessageNacked):
            publish(connection, full.name, b"2")

        message = wait_for(connection, dead.name)
        assert message.body == b"2"
        assert deaths_without_time(message) == [death("maxlen", full.name)]


def test_reject_publish_nacks_without_dead_lettering(
    url: str, unique: str, cleanup: Cleanup
) -> None:
    with Connection(url, confirm_publish=True) as connection:
        dead = declare(connection, cleanup, f"{unique}-dead")
        full = declare(
            connection,
            cleanup,
            f"{unique}-full",
            **{"x-max-length": 1, "x-overflow": "reject-publish", **dlx_to(dead.name)},
        )
        publish(connection, full.name, b"1")
        with pytest.raises(MessageNacked):
            publish(connection, full.name, b"2")

        assert get(connection, dead.name) is None


def test_a_retry_loop_counts_each_death_per_queue_and_reason(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    work, delay = f"{unique}-work", f"{unique}-delay"
    declare(connection, cleanup, work, **dlx_to(delay))
    declare(connection, cleanup, delay, **{"x-message-ttl": 100, **dlx_to(work)})
    publish(connection, work, b"retry me", expiration=60)
    trips = []
    for _ in range(3):
        message = wait_for(connection, work, no_ack=False)
        trips.append(message)
        message.reject(requeue=False)

    assert "x-death" not in trips[0].headers
    rejected = death("rejected", work, original_expiration="60000")
    expired = death("expired", delay)
    assert deaths_without_time(trips[1]) == [expired, rejected]
    assert deaths_without_time(trips[2]) == [
        {**expired, "count": 2},
        {**rejected, "count": 2},
    ]
    # A table written after the first has its fields in name order; the
    # first keeps RabbitMQ's order until it dies again; a count goes up
    # without changing the table's time.
    first, second = trips[1].headers["x-death"]
    assert list(first) == sorted(first)
    assert list(second) == [*FIRST_DEATH_ORDER, "original-expiration"]
    again = trips[2].headers["x-death"]
    assert [list(table) == sorted(table) for table in again] == [True, True]
    assert again[1]["time"] == second["time"]
    assert trips[2].headers["x-first-death-reason"] == "rejected"
    assert trips[2].headers["x-first-death-queue"] == work


def test_an_automatic_dead_letter_cycle_drops_the_message(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    loop = f"{unique}-loop"
    declare(connection, cleanup, loop, **{"x-message-ttl": 100, **dlx_to(loop)})
    publish(connection, loop, b"round and round")
    time.sleep(0.5)

    assert get(connection, loop) is None


def test_a_rejection_may_dead_letter_into_the_same_queue(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    loop = f"{unique}-loop"
    declare(connection, cleanup, loop, **dlx_to(loop))
    publish(connection, loop, b"again")
    counts = []
    for _ in range(3):
        message = wait_for(connection, loop, no_ack=False)
        counts.append([table["count"] for table in message.headers.get("x-death", [])])
        message.reject(requeue=False)

    assert counts == [[], [1], [2]]


def test_a_missing_dead_letter_exchange_drops_the_message(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    work = declare(
        connection,
        cleanup,
        f"{unique}-work",
        **{"x-dead-letter-exchange": f"{unique}-missing"},
    )
    publish(connection, work.name, b"nowhere")
    message = wait_for(connection, work.name, no_ack=False)
    message.reject(requeue=False)

    _, count, _ = work.queue_declare(passive=True, channel=connection.default_channel)
    assert count == 0
    assert connection.default_channel.is_open


def test_a_dead_letter_routing_key_through_an_exchange(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    dlx = Exchange(f"{unique}-dlx", type="topic", durable=False)
    dead = Queue(f"{unique}-dead", exchange=dlx, routing_key="parked.#", durable=False)
    cleanup(dead)
    dead.declare(channel=connection.default_channel)
    work = declare(
        connection,
        cleanup,
        f"{unique}-work",
        **{"x-dead-letter-exchange": dlx.name, "x-dead-letter-routing-key": "parked.1"},
    )
    publish(connection, work.name, b"park me")
    wait_for(connection, work.name, no_ack=False).reject(requeue=False)

    message = wait_for(connection, dead.name)
    assert message.delivery_info["exchange"] == dlx.name
    assert message.delivery_info["routing_key"] == "parked.1"
    # x-death names where the message was published, not the new key.
    assert deaths_without_time(message) == [death("rejected", work.name)]
