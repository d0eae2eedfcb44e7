"""Connections cut under a publisher: lost acks, cut bodies, slow links.

The proxy cuts at an exact point in the AMQP stream, so each test knows
whether the broker had the message when the connection died, and can say
how many copies a retrying publisher must leave behind.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator

import amqp
import pytest

from kombu_lite import Connection, Exchange, Producer, Queue
from kombu_lite.exceptions import ConfirmTimeout, OperationalError

from .conftest import bodies as _bodies
from .proxy import BASIC_ACK, FaultProxy

pytestmark = pytest.mark.broker

#: Reconnect at once, and give up after a few tries.
QUICK_RETRY = {
    "max_retries": 5,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.2,
}


@pytest.fixture
def queue(unique: str, admin: amqp.Channel) -> Iterator[Queue]:
    """A transient queue on the default exchange, deleted afterwards."""
    name = f"{unique}-cuts"
    q = Queue(name, Exchange(""), routing_key=name, durable=False)
    yield q
    admin.queue_delete(q.name)


@pytest.fixture
def confirming(proxy: FaultProxy) -> Iterator[Connection]:
    """A confirming connection through the proxy, without heartbeats."""
    conn = Connection(proxy.url, confirm_publish=True, heartbeat=0)
    yield conn
    conn.release()


def _messages(admin: amqp.Channel, name: str) -> list[amqp.Message]:
    taken = []
    while (message := admin.basic_get(name, no_ack=True)) is not None:
        taken.append(message)
    return taken


def _ready(producer: Producer, queue: Queue) -> None:
    """Declare ``queue`` and publish nothing: the link is up and idle."""
    queue.declare(channel=producer.channel)


#: Where the cut every 100 messages falls, in turn: on the broker's
#: ``basic.ack`` (it has the message: the retry leaves a duplicate), one
#: byte before the message is whole (the broker cannot route it), or
#: between two publishes (nothing of the message was sent).
CUT_KINDS = ("lost ack", "before routing", "between publishes")


def test_a_stream_with_a_cut_every_100_loses_nothing(
    proxy: FaultProxy,
    confirming: Connection,
    queue: Queue,
    admin: amqp.Channel,
    record_property: Callable[[str, object], None],
) -> None:
    producer = confirming.Producer(routing_key=queue.name)
    cut_at: dict[int, str] = {}
    message_size = 0
    for n in range(1000):
        if n % 100 == 50:
            kind = CUT_KINDS[len(cut_at) % len(CUT_KINDS)]
            cut_at[n] = kind
            if kind == "lost ack":
                proxy.cut_on_reply(BASIC_ACK)
            elif kind == "before routing":
                # Message n is as long as message n - 1 (as many digits,
                # and every message_id is a uuid4): its last byte, the end
                # of its body frame, never reaches the broker.
                proxy.cut_after_upload(message_size - 1)
            else:
                proxy.cut()
        uploaded = proxy.uploaded()
        producer.publish(
            {"n": n}, declare=[queue], retry=True, retry_policy=QUICK_RETRY
        )
        message_size = proxy.uploaded() - uploaded

    numbers = [json.loads(m.body)["n"] for m in _messages(admin, queue.name)]
    duplicated = sorted(n for n, copies in Counter(numbers).items() if copies > 1)
    lost_acks = sorted(n for n, kind in cut_at.items() if kind == "lost ack")
    record_property("report:cuts", len(cut_at))
    record_property("report:cuts losing an ack", len(lost_acks))
    record_property("report:duplicates", len(numbers) - len(set(numbers)))
    record_property("report:messages", len(numbers))
    assert set(numbers) == set(range(1000))  # nothing lost
    assert proxy.accepted == 1 + len(cut_at)  # every cut was noticed
    assert proxy.cuts == 7  # 3 of the 10 were plain cuts between publishes
    # Only a lost ack leaves a duplicate, of that very message, once: the
    # other cuts left the broker nothing to route.
    assert duplicated == lost_acks
    assert len(numbers) == 1000 + len(lost_acks)
    assert len(lost_acks) == 4


def test_a_lost_ack_leaves_a_duplicate_with_the_same_message_id(
    proxy: FaultProxy, confirming: Connection, queue: Queue, admin: amqp.Channel
) -> None:
    producer = confirming.Producer(routing_key=queue.name)
    _ready(producer, queue)
    proxy.cut_on_reply(BASIC_ACK)

    producer.publish(b"once", serializer="raw", retry=True, retry_policy=QUICK_RETRY)

    copies = _messages(admin, queue.name)
    assert [bytes(m.body) for m in copies] == [b"once", b"once"]
    ids = {m.properties["message_id"] for m in copies}
    assert len(ids) == 1  # the consumer can tell it is the same message


def test_a_lost_ack_without_retry_raises_a_recoverable_error(
    proxy: FaultProxy, confirming: Connection, queue: Queue, admin: amqp.Channel
) -> None:
    producer = confirming.Producer(routing_key=queue.name)
    _ready(producer, queue)
    proxy.cut_on_reply(BASIC_ACK)

    with pytest.raises(OperationalError) as caught:
        producer.publish(b"maybe", serializer="raw")

    assert caught.value.recoverable
    assert _bodies(admin, queue.name) == [b"maybe"]  # it did arrive


def test_a_cut_in_the_middle_of_a_body_is_sent_again_whole(
    proxy: FaultProxy, confirming: Connection, queue: Queue, admin: amqp.Channel
) -> None:
    producer = confirming.Producer(routing_key=queue.name)
    _ready(producer, queue)
    body = bytes(range(256)) * 1200  # 300 KiB: three body frames
    proxy.cut_after_upload(100_000)

    producer.publish(body, serializer="raw", retry=True, retry_policy=QUICK_RETRY)

    copies = _bodies(admin, queue.name)
    assert proxy.cuts == 1
    assert [hashlib.sha256(c).hexdigest() for c in copies] == [
        hashlib.sha256(body).hexdigest()
    ]


def test_a_cut_in_the_middle_of_a_body_leaves_nothing_half_sent(
    proxy: FaultProxy, confirming: Connection, queue: Queue, admin: amqp.Channel
) -> None:
    producer = confirming.Producer(routing_key=queue.name)
    _ready(producer, queue)
    proxy.cut_after_upload(100_000)

    with pytest.raises(OperationalError):
        producer.publish(b"y" * 300_000, serializer="raw")

    assert _bodies(admin, queue.name) == []


def test_a_confirm_slower_than_the_timeout_has_an_unknown_outcome(
    proxy: FaultProxy, confirming: Connection, queue: Queue, admin: amqp.Channel
) -> None:
    producer = confirming.Producer(routing_key=queue.name)
    _ready(producer, queue)
    producer.publish(b"fast", serializer="raw")  # confirms are on, link idle
    proxy.hold_replies()  # the confirm comes, but only after the timeout

    try:
        with pytest.raises(ConfirmTimeout, match="outcome is unknown"):
            producer.publish(b"slow", serializer="raw", confirm_timeout=0.2)
    finally:
        proxy.release_replies()

    # Unknown, not failed: the broker took it (it confirms a message only
    # once the queue has it).
    assert proxy.wait_for_acks(2)
    assert _bodies(admin, queue.name) == [b"fast", b"slow"]


def test_a_slow_link_delays_each_confirm_and_loses_nothing(
    proxy: FaultProxy, confirming: Connection, queue: Queue, admin: amqp.Channel
) -> None:
    producer = confirming.Producer(routing_key=queue.name)
    _ready(producer, queue)
    proxy.delay_replies(0.05)  # 50 ms of latency on every reply

    started = time.monotonic()
    for n in range(5):
        producer.publish(f"{n}".encode(), serializer="raw")

    # Each publish waited for its own confirm, delayed on the way back.
    assert time.monotonic() - started >= 5 * 0.05
    assert _bodies(admin, queue.name) == [b"0", b"1", b"2", b"3", b"4"]


def test_a_broker_gone_for_good_fails_within_the_retry_policy(
    proxy: FaultProxy, confirming: Connection, queue: Queue
) -> None:
    producer = confirming.Producer(routing_key=queue.name)
    _ready(producer, queue)
    proxy.close()  # cut, and refuse every new connection

    started = time.monotonic()
    with pytest.raises(OperationalError):
        producer.publish(
            b"lost?",
            serializer="raw",
            retry=True,
            retry_policy={"max_retries": 3, "interval_start": 0.1},
        )

    assert time.monotonic() - started < 5


def test_a_broker_gone_for_good_fails_by_the_policy_timeout(
    proxy: FaultProxy, confirming: Connection, queue: Queue
) -> None:
    producer = confirming.Producer(routing_key=queue.name)
    _ready(producer, queue)
    proxy.close()

    started = time.monotonic()
    with pytest.raises(OperationalError):
        producer.publish(
            b"lost?",
            serializer="raw",
            retry=True,
            retry_policy={"max_retries": None, "interval_start": 0.2, "timeout": 1},
        )

    assert time.monotonic() - started < 3


def test_a_first_connect_to_a_silent_broker_is_bounded_by_the_policy_timeout(
    proxy: FaultProxy, queue: Queue
) -> None:
    # The proxy accepts the TCP connection, but the broker's handshake never
    # reaches the client: only the policy's timeout can end the wait, since
    # connect_timeout alone would allow 10 s per attempt.
    proxy.hold_replies()
    conn = Connection(proxy.url, connect_timeout=10, heartbeat=0)
    producer = conn.Producer(routing_key=queue.name)

    started = time.monotonic()
    try:
        with pytest.raises(OperationalError, match="handshake"):
            producer.publish(
                b"never",
                serializer="raw",
                retry=True,
                retry_policy={"max_retries": None, "interval_start": 0.1, "timeout": 1},
            )
        elapsed = time.monotonic() - started
    finally:
        proxy.release_replies()
        conn.release()

    assert elapsed < 2.5


def test_a_confirm_wait_is_bounded_by_the_policy_timeout(
    proxy: FaultProxy, confirming: Connection, queue: Queue, admin: amqp.Channel
) -> None:
    # confirm_timeout is the connection's 30 s; the call's policy allows 1 s
    # for everything, the confirm wait included.
    producer = confirming.Producer(routing_key=queue.name)
    _ready(producer, queue)
    producer.publish(b"first", serializer="raw")  # confirms are on, link idle
    proxy.hold_replies()

    started = time.monotonic()
    try:
        with pytest.raises(ConfirmTimeout, match="outcome is unknown"):
            producer.publish(
                b"held",
                serializer="raw",
                retry=True,
                retry_policy={"max_retries": 3, "interval_start": 0.1, "timeout": 1},
            )
        elapsed = time.monotonic() - started
    finally:
        proxy.release_replies()

    assert 0.9 <= elapsed < 2.5
    # Unknown, not lost: the broker took it, once.
    assert _bodies(admin, queue.name) == [b"first", b"held"]
