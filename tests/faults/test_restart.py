"""A broker restart (``rabbitmqctl stop_app`` / ``start_app``) under a publisher.

These restart the whole node, so every other connection to it dies too: they
restart the private node kl1 (``private_node``), never the broker on 5672.
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
from tests.cluster.nodes import PrivateNode

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

#: The longest a restart may take: ``rabbitmqctl`` gives each of
#: stop_app, start_app and await_startup 60 s.
RESTART_LIMIT = 3 * 60


def _restart(ctl: Ctl, stopped: threading.Event | None = None) -> None:
    ctl("stop_app")
    try:
        if stopped is not None:
            stopped.set()
    finally:
        ctl("start_app")
        ctl("await_startup")


def _restart_in_background(
    ctl: Ctl, stopped: threading.Event, errors: list[BaseException]
) -> threading.Thread:
    """Restart the node in a thread; its errors land in ``errors``.

    ``stopped`` is set once the node is stopped, or when the restart failed
    (then ``errors`` says why), so a waiter never waits in vain.
    """

    def restart() -> None:
        try:
            _restart(ctl, stopped)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            stopped.set()

    thread = threading.Thread(target=restart, name="rabbitmq-restart")
    thread.start()
    return thread


def _take_all(node: PrivateNode, name: str) -> list[bytes]:
    """Take every message from queue ``name`` on ``node``, then delete it."""
    conn = amqp.Connection(f"127.0.0.1:{node.port}", userid="guest", password="guest")
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


def _delete(node: PrivateNode, name: str) -> None:
    """Delete queue ``name`` on ``node`` if it is still there."""
    conn = amqp.Connection(f"127.0.0.1:{node.port}", userid="guest", password="guest")
    conn.connect()
    try:
        with contextlib.suppress(amqp.exceptions.AMQPError):
            conn.channel().queue_delete(name)
    finally:
        conn.close()


@pytest.fixture
def queue_name(private_node: PrivateNode) -> Iterator[str]:
    """A fresh queue name; the queue is deleted afterwards if it exists."""
    name = f"klt-restart-{uuid.uuid4().hex[:8]}"
    yield name
    _delete(private_node, name)


# The restart may take RESTART_LIMIT and the retried publish 45 s of it.
@pytest.mark.timeout(RESTART_LIMIT + 60)
def test_a_publish_retried_across_a_restart_declares_again_and_arrives_once(
    ctl: Ctl, private_node: PrivateNode, queue_name: str
) -> None:
    name = queue_name
    queue = Queue(name, Exchange(""), routing_key=name, durable=False)
    conn = Connection(private_node.url, confirm_publish=True, heartbeat=0)
    try:
        producer = conn.Producer(routing_key=name)
        producer.publish(b"before", serializer="raw", declare=[queue])
        stopped = threading.Event()
        errors: list[BaseException] = []
        restart = _restart_in_background(ctl, stopped, errors)
        try:
            assert stopped.wait(60), "rabbitmqctl stop_app did not finish"
            assert errors == []  # the node really is stopped
            producer.publish(
                b"during",
                serializer="raw",
                declare=[queue],
                retry=True,
                retry_policy=RESTART_RETRY,
            )
        finally:
            # Never leave the node half restarted for the next test.
            restart.join(RESTART_LIMIT)
        assert not restart.is_alive()
        assert errors == []
    finally:
        conn.release()

    # The transient queue and "before" went with the restart; the retried
    # publish declared the queue again on the new connection.
    assert _take_all(private_node, name) == [b"during"]


@pytest.fixture(scope="module")
def restarted(private_node: PrivateNode) -> Iterator[tuple[str, str]]:
    """On kl1, a durable and a transient queue with a message each, then a restart.

    Yields the two queue names; both queues are deleted afterwards, even if
    the restart failed.
    """
    tag = uuid.uuid4().hex[:8]
    durable, transient = f"klt-durable-{tag}", f"klt-transient-{tag}"
    try:
        with Connection(private_node.url, confirm_publish=True) as c:
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
        _restart(private_node.ctl)
        yield durable, transient
    finally:
        _delete(private_node, durable)
        _delete(private_node, transient)  # gone with the restart, unless that failed


# pytest-timeout counts fixture set-up: the first of these restarts the node.
@pytest.mark.timeout(RESTART_LIMIT + 30)
def test_a_durable_queue_keeps_its_persistent_messages_across_a_restart(
    restarted: tuple[str, str], private_node: PrivateNode
) -> None:
    durable, _ = restarted

    assert _take_all(private_node, durable) == [b"kept"]


@pytest.mark.timeout(RESTART_LIMIT + 30)
def test_a_transient_queue_is_gone_after_a_restart(
    restarted: tuple[str, str], private_node: PrivateNode
) -> None:
    _, transient = restarted
    with Connection(private_node.url) as conn:
        missing = Queue(transient, Exchange(""), routing_key=transient, durable=False)

        with pytest.raises(NotFound, match=transient):
            missing.queue_declare(passive=True, channel=conn.default_channel)
