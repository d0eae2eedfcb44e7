"""Faults that come from the broker: refusals, forced closes, alarms, limits.

Refusals go through a proxy to the broker on 5672, which they leave as it
was.  Forced closes, alarms and limits act on the broker itself, so they run
on the private node kl1 (``private_node``), never on 5672.  Forced closes act
on a virtual host of the test's own; each test that sets an alarm or a limit
clears it in a finalizer.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator

import amqp
import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import (
    AccessRefused,
    ConnectionBlocked,
    NotAllowed,
    PreconditionFailed,
)
from tests.cluster.nodes import PrivateNode

from .proxy import FaultProxy

pytestmark = pytest.mark.broker

Ctl = Callable[..., str]

QUICK_RETRY = {
    "max_retries": 10,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}


def _take_all(conn: Connection, name: str) -> list[bytes]:
    channel = conn.default_channel
    taken = []
    while (message := channel.basic_get(name, no_ack=True)) is not None:
        taken.append(bytes(message.body))
    return taken


@pytest.fixture
def vhost_conn(vhost: str, private_node: PrivateNode) -> Iterator[Connection]:
    """A confirming connection to the test's own virtual host on kl1."""
    conn = Connection(private_node.vhost_url(vhost), confirm_publish=True, heartbeat=0)
    yield conn
    conn.release()


def test_a_wrong_password_is_refused_once_without_retrying(
    proxy: FaultProxy,
) -> None:
    conn = Connection(f"amqp://guest:s3cret-pw@127.0.0.1:{proxy.port}//")

    with pytest.raises(AccessRefused) as caught:
        conn.Producer().publish(
            b"x",
            routing_key="x",
            serializer="raw",
            retry=True,
            retry_policy=QUICK_RETRY,
        )

    assert proxy.accepted == 1
    assert "s3cret-pw" not in str(caught.value)
    conn.release()


def test_a_missing_vhost_is_named_and_not_retried(proxy: FaultProxy) -> None:
    conn = Connection(f"amqp://guest:guest@127.0.0.1:{proxy.port}/no-such-vhost")

    with pytest.raises(NotAllowed, match="no-such-vhost"):
        conn.Producer().publish(
            b"x",
            routing_key="x",
            serializer="raw",
            retry=True,
            retry_policy=QUICK_RETRY,
        )

    assert proxy.accepted == 1
    conn.release()


def test_a_forced_close_between_publishes_is_survived_by_retry(
    vhost: str, vhost_conn: Connection, ctl: Ctl, unique: str
) -> None:
    queue = Queue(f"{unique}-q", Exchange(""), routing_key=f"{unique}-q")
    producer = vhost_conn.Producer(routing_key=queue.name)
    producer.publish(b"before", serializer="raw", declare=[queue])

    ctl("close_all_connections", "-p", vhost, "closed by a kombu_lite test")
    producer.publish(
        b"after",
        serializer="raw",
        declare=[queue],
        retry=True,
        retry_policy=QUICK_RETRY,
    )

    assert _take_all(vhost_conn, queue.name) == [b"before", b"after"]


def test_a_forced_close_during_a_confirmed_stream_loses_nothing(
    vhost: str,
    vhost_conn: Connection,
    ctl: Ctl,
    unique: str,
    record_property: pytest.RecordProperty,
) -> None:
    queue = Queue(f"{unique}-q", Exchange(""), routing_key=f"{unique}-q")
    producer = vhost_conn.Producer(routing_key=queue.name)
    closed = threading.Event()
    closer = threading.Thread(
        target=lambda: (
            ctl("close_all_connections", "-p", vhost, "closed by a kombu_lite test"),
            closed.set(),
        )
    )
    sent = 0
    while not closed.is_set() or sent < 200:
        if sent == 100:
            closer.start()
        producer.publish(
            {"n": sent}, declare=[queue], retry=True, retry_policy=QUICK_RETRY
        )
        sent += 1
    closer.join(30)

    numbers = [json.loads(body)["n"] for body in _take_all(vhost_conn, queue.name)]
    duplicates = len(numbers) - len(set(numbers))
    record_property("sent", sent)
    record_property("duplicates", duplicates)
    assert set(numbers) == set(range(sent))
    assert duplicates <= 1  # at most the message whose confirm was in flight


@pytest.fixture
def node_queue(node_admin: amqp.Channel, unique: str) -> Iterator[Queue]:
    """A queue's description on kl1; deleted afterwards if declared."""
    queue = Queue(f"{unique}-q", Exchange(""), routing_key=f"{unique}-q")
    yield queue
    node_admin.queue_delete(queue.name)


@pytest.fixture
def memory_alarm(ctl: Ctl) -> Iterator[Callable[[str], None]]:
    """Raise kl1's memory alarm on demand; it is always cleared after.

    ``raise_alarm(connection_name)`` returns once the broker has told that
    connection of the alarm (it is listed as ``blocking``): RabbitMQ passes
    an alarm on to its connections asynchronously, and a publish that
    arrives first is read as if nothing had happened.
    """
    alarm = "{resource_limit, memory, node()}"

    def raise_alarm(connection_name: str) -> None:
        ctl("eval", f"rabbit_alarm:set_alarm({{{alarm}, []}}).")
        _await_connection_state(ctl, connection_name, "blocking")

    yield raise_alarm
    ctl("eval", f"rabbit_alarm:clear_alarm({alarm}).")


def _await_connection_state(ctl: Ctl, connection_name: str, state: str) -> None:
    """Poll the broker's listing until ``connection_name`` is in ``state``."""
    wanted = f'{{"connection_name","{connection_name}"}}'
    for _ in range(50):  # each listing takes rabbitmqctl a moment
        listing = ctl("list_connections", "--silent", "state", "client_properties")
        for line in listing.splitlines():
            listed, client_properties = line.split("\t", 1)
            if wanted in client_properties and listed == state:
                return
    pytest.fail(f"{connection_name!r} was never listed as {state!r}")


def test_a_memory_alarm_fails_the_publish_once_and_never_resends_it(
    memory_alarm: Callable[[str], None],
    ctl: Ctl,
    private_node: PrivateNode,
    unique: str,
    node_admin: amqp.Channel,
    node_queue: Queue,
) -> None:
    reasons: list[str] = []
    name = f"kombu_lite {unique}"
    conn = Connection(
        private_node.url,
        confirm_publish=True,
        on_blocked=reasons.append,
        blocked_connection_timeout=1,
        transport_options={"client_properties": {"connection_name": name}},
    )
    try:
        queue = node_queue
        producer = conn.Producer(routing_key=queue.name)
        producer.publish(b"warm-up", serializer="raw", declare=[queue])
        node_admin.basic_get(queue.name, no_ack=True)
        memory_alarm(name)

        # RabbitMQ blocks a connection when it next publishes: this message
        # is written, then held unread by the broker.  kombu retried it on a
        # new connection and left three copies; here it fails once, unretried.
        with pytest.raises(ConnectionBlocked, match="outcome is unknown"):
            producer.publish(
                b"held", serializer="raw", retry=True, retry_policy=QUICK_RETRY
            )
        ctl("eval", "rabbit_alarm:clear_alarm({resource_limit, memory, node()}).")
        producer.publish(b"after", serializer="raw")
    finally:
        conn.release()

    assert len(reasons) == 1
    assert "memory" in reasons[0].lower()
    got = []
    while (message := node_admin.basic_get(queue.name, no_ack=True)) is not None:
        got.append(bytes(message.body))
    assert got == [b"held", b"after"]


@pytest.fixture
def max_message_size(ctl: Ctl) -> Iterator[Callable[[int], None]]:
    """Lower kl1's ``max_message_size``; restored afterwards."""
    printed = ctl("eval", "application:get_env(rabbit, max_message_size).")
    found = re.search(r"\{ok,\s*(\d+)\}", printed)
    original = found.group(1) if found else None

    def lower(size: int) -> None:
        ctl("eval", f"application:set_env(rabbit, max_message_size, {size}).")

    yield lower
    if original is None:
        ctl("eval", "application:unset_env(rabbit, max_message_size).")
    else:
        ctl("eval", f"application:set_env(rabbit, max_message_size, {original}).")


def test_an_oversize_message_is_refused_by_name_and_the_producer_goes_on(
    max_message_size: Callable[[int], None],
    private_node: PrivateNode,
    node_admin: amqp.Channel,
    node_queue: Queue,
) -> None:
    max_message_size(64 * 1024)
    queue = node_queue
    conn = Connection(private_node.url, confirm_publish=True)
    try:
        producer = conn.Producer(routing_key=queue.name)
        producer.publish(b"small", serializer="raw", declare=[queue])

        with pytest.raises(PreconditionFailed, match="size"):
            producer.publish(b"z" * 100_000, serializer="raw", retry=True)
        producer.publish(b"small again", serializer="raw")
    finally:
        conn.release()

    got = []
    while (message := node_admin.basic_get(queue.name, no_ack=True)) is not None:
        got.append(bytes(message.body))
    assert got == [b"small", b"small again"]
