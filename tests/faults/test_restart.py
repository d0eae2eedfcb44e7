"""A broker restart (``rabbitmqctl stop_app`` / ``start_app``) under a publisher.

These restart the whole node, so every other connection to it dies too; the
suite runs its tests one at a time, so only the test's own are affected.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator

import amqp
import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import NotFound

from .conftest import rabbitmqctl

pytestmark = [pytest.mark.broker, pytest.mark.slow]

Ctl = Callable[..., str]

#: Long enough to outlast a restart, but bounded.
RESTART_RETRY = {
    "max_retries": None,
    "interval_start": 0.5,
    "interval_step": 0,
    "interval_max": 0.5,
    "timeout": 45,
}


def _restart(ctl: Ctl, stopped: threading.Event | None = None) -> None:
    ctl("stop_app")
    try:
        if stopped is not None:
            stopped.set()
    finally:
        ctl("start_app")
        ctl("await_startup")


def _take_all(name: str) -> list[bytes]:
    """Take every message from queue ``name``, then delete the queue."""
    conn = amqp.Connection("127.0.0.1:5672", userid="guest", password="guest")
    conn.connect()
    try:
        channel = conn.channel()
        taken = []
        while (message := channel.basic_get(name, no_ack=True)) is not None:
            taken.append(bytes(message.body))
        with contextlib.suppress(amqp.exceptions.AMQPError):
            channel.queue_delete(name)
        return taken
    finally:
        conn.close()


def _delete(name: str) -> None:
    """Delete queue ``name`` if it is still there."""
    conn = amqp.Connection("127.0.0.1:5672", userid="guest", password="guest")
    conn.connect()
    try:
        conn.channel().queue_delete(name)
    finally:
        conn.close()


def test_a_publish_retried_across_a_restart_declares_again_and_arrives_once(
    ctl: Ctl, rabbitmq: str
) -> None:
    name = f"klt-restart-{uuid.uuid4().hex[:8]}"
    queue = Queue(name, Exchange(""), routing_key=name, durable=False)
    conn = Connection(rabbitmq, confirm_publish=True, heartbeat=0)
    producer = conn.Producer(routing_key=name)
    producer.publish(b"before", serializer="raw", declare=[queue])
    stopped = threading.Event()
    restart = threading.Thread(target=_restart, args=(ctl, stopped))
    restart.start()
    stopped.wait(60)

    producer.publish(
        b"during",
        serializer="raw",
        declare=[queue],
        retry=True,
        retry_policy=RESTART_RETRY,
    )
    restart.join(120)

    # The transient queue and "before" went with the restart; the retried
    # publish declared the queue again on the new connection.
    assert _take_all(name) == [b"during"]
    conn.release()


@pytest.fixture(scope="module")
def restarted() -> Iterator[tuple[str, str]]:
    """A durable and a transient queue, each with a message, then a restart.

    Yields the two queue names.
    """
    from tests.conftest import REQUIRE_BROKER, _broker_reachable

    if not _broker_reachable():
        reason = "RabbitMQ is not reachable on 127.0.0.1:5672"
        if REQUIRE_BROKER:
            pytest.fail(reason)
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:8]
    durable, transient = f"klt-durable-{tag}", f"klt-transient-{tag}"
    with Connection("amqp://guest:guest@127.0.0.1:5672//", confirm_publish=True) as c:
        producer = c.Producer()
        producer.publish(
            b"kept",
            serializer="raw",
            routing_key=durable,
            declare=[Queue(durable, Exchange(""), routing_key=durable)],
            delivery_mode="persistent",
        )
        producer.publish(
            b"lost",
            serializer="raw",
            routing_key=transient,
            declare=[
                Queue(transient, Exchange(""), routing_key=transient, durable=False)
            ],
        )
    _restart(rabbitmqctl)
    yield durable, transient
    _delete(durable)


def test_a_durable_queue_keeps_its_persistent_messages_across_a_restart(
    restarted: tuple[str, str],
) -> None:
    durable, _ = restarted

    assert _take_all(durable) == [b"kept"]


def test_a_transient_queue_is_gone_after_a_restart(
    restarted: tuple[str, str], rabbitmq: str
) -> None:
    _, transient = restarted
    with Connection(rabbitmq) as conn:
        missing = Queue(transient, Exchange(""), routing_key=transient, durable=False)

        with pytest.raises(NotFound, match=transient):
            missing.queue_declare(passive=True, channel=conn.default_channel)
