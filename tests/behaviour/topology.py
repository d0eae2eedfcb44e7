"""Helpers of the dead-lettering, TTL, quorum and single-active-consumer suites.

They use only raw ``x-`` queue arguments, so the same test runs unchanged
on ``memory://`` and on RabbitMQ.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.message import Message

Cleanup = Callable[[Exchange | Queue], None]

#: The fields of the first ``x-death`` table, in the order RabbitMQ writes them.
FIRST_DEATH_ORDER = ["count", "reason", "queue", "time", "exchange", "routing-keys"]


def declare(
    connection: Connection,
    cleanup: Cleanup,
    name: str,
    *,
    durable: bool = False,
    **arguments: object,
) -> Queue:
    """Declare queue ``name`` with raw ``x-`` arguments; delete it afterwards."""
    queue = Queue(
        name, durable=durable, auto_delete=False, queue_arguments=arguments or None
    )
    cleanup(queue)
    queue.declare(channel=connection.default_channel)
    return queue


def publish(connection: Connection, queue: str, body: bytes = b"m", **kw: Any) -> None:
    """Publish ``body`` to ``queue`` through the default exchange."""
    connection.Producer().publish(body, routing_key=queue, serializer="raw", **kw)


def get(connection: Connection, queue: str, *, no_ack: bool = True) -> Message | None:
    """``basic.get`` one message of ``queue``."""
    return Queue(queue).get(
        no_ack=no_ack, accept=["application/data"], channel=connection.default_channel
    )


def wait_for(
    connection: Connection, queue: str, *, no_ack: bool = True, timeout: float = 3.0
) -> Message:
    """Poll ``queue`` until a message is there; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        message = get(connection, queue, no_ack=no_ack)
        if message is not None:
            return message
        assert time.monotonic() < deadline, f"nothing reached {queue}"
        time.sleep(0.02)


def death(
    reason: str,
    queue: str,
    *,
    exchange: str = "",
    routing_keys: list[str] | None = None,
    count: int = 1,
    original_expiration: str | None = None,
) -> dict[str, object]:
    """The ``x-death`` table RabbitMQ writes (``time`` left out)."""
    table: dict[str, object] = {
        "count": count,
        "reason": reason,
        "queue": queue,
        "exchange": exchange,
        "routing-keys": routing_keys if routing_keys is not None else [queue],
    }
    if original_expiration is not None:
        table["original-expiration"] = original_expiration
    return table


def deaths_without_time(message: Message) -> list[dict[str, object]]:
    """The message's ``x-death`` tables, each ``time`` checked and removed."""
    deaths = message.headers["x-death"]
    assert isinstance(deaths, list)
    tables = []
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for table in deaths:
        assert isinstance(table, dict)
        stamp = table["time"]
        # An AMQP timestamp: whole seconds, naive UTC, as py-amqp decodes it.
        assert isinstance(stamp, dt.datetime)
        assert stamp.microsecond == 0
        assert abs((now - stamp).total_seconds()) < 60
        tables.append({key: value for key, value in table.items() if key != "time"})
    return tables
