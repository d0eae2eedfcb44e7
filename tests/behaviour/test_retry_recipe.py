"""Dead-lettering as a consumer sees it: Message.death, delivery_count, retry recipe.

The x-death fields are compared with what RabbitMQ 3.10 writes.  Every test
runs on memory:// and on RabbitMQ (the shared ``transport_kind`` fixture).
"""

from __future__ import annotations

import contextlib
import importlib.util
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from kombu_lite import Connection, Exchange, Message, Queue

Cleanup = Callable[[Exchange | Queue], None]


def _get(queue: Queue, connection: Connection, timeout: float = 3.0) -> Message:
    """The next message of ``queue`` (dead-lettering is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        message = queue.get(channel=connection.default_channel)
        if message is not None:
            return message
        if time.monotonic() > deadline:
            raise AssertionError(f"no message in {queue.name!r} after {timeout} s")
        time.sleep(0.02)


def _declare(connection: Connection, cleanup: Cleanup, *entities: Queue) -> None:
    for queue in entities:
        cleanup(queue)
        if isinstance(queue.dead_letter_exchange, Exchange):
            cleanup(queue.dead_letter_exchange)
        queue.declare(channel=connection.default_channel)


def test_a_rejected_message_carries_rabbitmqs_x_death(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    dead = Queue(f"{unique}-dead")
    work = Queue(
        f"{unique}-work", dead_letter_exchange="", dead_letter_routing_key=dead.name
    )
    _declare(connection, cleanup, dead, work)
    producer = connection.Producer()
    producer.publish({"n": 1}, routing_key=work.name, expiration=60)
    before = datetime.now(UTC).replace(microsecond=0)

    _get(work, connection).reject(requeue=False)
    message = _get(dead, connection)

    (record,) = message.death
    assert (record.queue, record.reason, record.count) == (work.name, "rejected", 1)
    assert (record.exchange, record.routing_keys) == ("", (work.name,))
    assert record.original_expiration == "60000"
    assert record.time is not None
    assert before - timedelta(seconds=5) <= record.time <= before + timedelta(seconds=5)
    assert message.headers["x-first-death-reason"] == "rejected"
    assert message.headers["x-first-death-queue"] == work.name
    assert message.decode() == {"n": 1}


def test_dead_lettering_from_the_same_queue_again_counts(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    dead = Queue(f"{unique}-dead")
    work = Queue(
        f"{unique}-work", dead_letter_exchange="", dead_letter_routing_key=dead.name
    )
    _declare(connection, cleanup, dead, work)
    producer = connection.Producer()
    producer.publish({"n": 1}, routing_key=work.name)
    _get(work, connection).reject(requeue=False)
    first = _get(dead, connection)

    # Sent back by hand with its headers, and rejected again.
    producer.publish(
        first.body,
        routing_key=work.name,
        headers=first.headers,
        content_type=first.content_type,
        content_encoding=first.content_encoding,
    )
    first.ack()
    _get(work, connection).reject(requeue=False)

    (record,) = _get(dead, connection).death
    assert (record.queue, record.reason, record.count) == (work.name, "rejected", 2)


def test_a_quorum_queue_counts_redeliveries(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    work = Queue(f"{unique}-work", queue_type="quorum")
    _declare(connection, cleanup, work)
    connection.Producer().publish({"n": 1}, routing_key=work.name)

    counts = []
    for _ in range(3):
        message = _get(work, connection)
        counts.append(message.delivery_count)
        message.requeue()

    assert counts == [0, 1, 2]


# -- the reliability guide's retry recipe -----------------------------------------

RECIPE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "retry_backoff.py"


def _recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("retry_backoff", RECIPE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(
    connection: Connection,
    cleanup: Cleanup,
    name: str,
    process: Callable[[Any], object],
    until: Callable[[], bool],
) -> float:
    """Consume ``name`` with the recipe's handler until ``until()``; the seconds."""
    recipe = _recipe()
    work, delayed, parked = recipe.retry_topology(name, delay=0.2)
    _declare(connection, cleanup, work, delayed, parked)
    producer = connection.Producer()
    handler = recipe.RetryingHandler(producer, work, parked, process, max_attempts=3)
    start = time.monotonic()
    producer.publish({"order": 1}, routing_key=work.name)
    with connection.Consumer(work, callbacks=[handler]):
        while not until():
            if time.monotonic() - start > 5:
                raise AssertionError("the recipe did not finish in 5 s")
            with contextlib.suppress(TimeoutError):
                connection.drain_events(timeout=0.1)
    return time.monotonic() - start


def test_the_retry_recipe_retries_after_the_delay(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    attempts: list[float] = []

    def flaky(body: Any) -> None:
        attempts.append(time.monotonic())
        if len(attempts) < 2:
            raise RuntimeError("not yet")

    _run(connection, cleanup, f"{unique}-orders", flaky, lambda: len(attempts) == 2)

    assert attempts[1] - attempts[0] >= 0.2  # the delay queue's message TTL
    parked = Queue(f"{unique}-orders.parked")
    assert parked.get(channel=connection.default_channel) is None


def test_the_retry_recipe_parks_after_max_attempts(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    name = f"{unique}-orders"
    parked = Queue(f"{name}.parked")
    found: list[Message] = []
    attempts: list[Any] = []

    def failing(body: Any) -> None:
        attempts.append(body)
        raise RuntimeError("always")

    def is_parked() -> bool:
        message = parked.get(channel=connection.default_channel)
        if message is not None:
            found.append(message)
        return bool(found)

    _run(connection, cleanup, name, failing, is_parked)

    assert attempts == [{"order": 1}] * 3
    (message,) = found
    assert message.decode() == {"order": 1}
    # Latest first: the second expiry from the delay queue, after the
    # second rejection from the work queue; the third attempt parked it.
    expired, rejected = message.death
    assert (expired.queue, expired.reason, expired.count) == (
        f"{name}.delay",
        "expired",
        2,
    )
    assert (expired.exchange, expired.routing_keys) == (f"{name}.retry", (name,))
    assert (rejected.queue, rejected.reason, rejected.count) == (name, "rejected", 2)
    assert (rejected.exchange, rejected.routing_keys) == ("", (name,))
