"""Resource alarms on the memory broker: publishing blocks as on RabbitMQ."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from kombu_lite import Connection, Queue
from kombu_lite.exceptions import ConnectionBlocked
from kombu_lite.transport.memory import Broker, default_broker


@pytest.fixture
def broker() -> Iterator[Broker]:
    broker = default_broker()
    broker.reset()
    yield broker
    broker.reset()


class Notices:
    """Records on_blocked and on_unblocked calls."""

    def __init__(self) -> None:
        self.blocked: list[str] = []
        self.unblocked = 0

    def on_blocked(self, reason: str) -> None:
        self.blocked.append(reason)

    def on_unblocked(self) -> None:
        self.unblocked += 1


@pytest.fixture
def notices() -> Notices:
    return Notices()


@pytest.fixture
def conn(broker: Broker, notices: Notices) -> Iterator[Connection]:
    del broker
    with Connection(
        "memory://",
        on_blocked=notices.on_blocked,
        on_unblocked=notices.on_unblocked,
        blocked_connection_timeout=0.2,
    ) as connection:
        Queue("q").declare(channel=connection.default_channel)
        yield connection


def test_a_publish_during_an_alarm_raises_and_sends_nothing(
    broker: Broker, conn: Connection
) -> None:
    broker.set_alarm("memory")

    with pytest.raises(ConnectionBlocked, match=r"low on memory.*not sent"):
        conn.Producer().publish(b"x", routing_key="q", serializer="raw")

    assert broker.queue_messages("q") == []


def test_on_blocked_is_told_the_reason_once(
    broker: Broker, conn: Connection, notices: Notices
) -> None:
    broker.set_alarm("disk")
    producer = conn.Producer()

    for _ in range(2):
        with pytest.raises(ConnectionBlocked):
            producer.publish(b"x", routing_key="q", serializer="raw")

    assert notices.blocked == ["low on disk"]


def test_a_blocked_publish_is_not_retried(
    broker: Broker, conn: Connection, notices: Notices
) -> None:
    broker.set_alarm()
    started = time.monotonic()

    with pytest.raises(ConnectionBlocked):
        conn.Producer().publish(
            b"x", routing_key="q", serializer="raw", retry=True, retry_policy={}
        )

    assert time.monotonic() - started < 1  # one wait of 0.2 s, not several
    assert broker.queue_messages("q") == []


def test_a_held_publish_goes_on_once_the_alarm_clears(
    broker: Broker, notices: Notices
) -> None:
    broker.set_alarm()
    with Connection(
        "memory://",
        on_blocked=notices.on_blocked,
        on_unblocked=notices.on_unblocked,
        blocked_connection_timeout=10,
    ) as conn:
        clear = threading.Timer(0.1, broker.clear_alarm)
        clear.start()

        conn.Producer().publish(
            b"held", routing_key="q", serializer="raw", declare=[Queue("q")]
        )
        clear.join()

    assert [m.body for m in broker.queue_messages("q")] == [b"held"]
    assert notices.unblocked == 1


def test_clearing_one_of_two_alarms_still_blocks(
    broker: Broker, conn: Connection
) -> None:
    broker.set_alarm("memory")
    broker.set_alarm("disk")
    broker.clear_alarm("disk")

    with pytest.raises(ConnectionBlocked, match="low on memory"):
        conn.Producer().publish(b"x", routing_key="q", serializer="raw")


def test_no_connection_is_told_of_an_unblock_it_never_saw(
    broker: Broker, conn: Connection, notices: Notices
) -> None:
    broker.set_alarm()
    broker.clear_alarm()

    conn.Producer().publish(b"x", routing_key="q", serializer="raw")

    assert notices.blocked == []
    assert notices.unblocked == 0


def test_reset_clears_the_alarms(broker: Broker) -> None:
    broker.set_alarm()
    broker.reset()

    with Connection("memory://") as conn:
        conn.Producer().publish(
            b"x", routing_key="q", serializer="raw", declare=[Queue("q")]
        )

    assert len(broker.queue_messages("q")) == 1


def test_an_unknown_resource_is_refused(broker: Broker) -> None:
    with pytest.raises(ValueError, match="unknown resource 'cpu'"):
        broker.set_alarm("cpu")
