"""Failover between brokers, through loopback proxies to the one RabbitMQ."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import amqp
import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import OperationalError

from .conftest import bodies
from .proxy import FaultProxy

pytestmark = pytest.mark.broker


def _dead_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def second_proxy(rabbitmq: str) -> Iterator[FaultProxy]:
    del rabbitmq
    with FaultProxy() as fault_proxy:
        yield fault_proxy


@pytest.fixture
def queue(admin: amqp.Channel, unique: str) -> Iterator[Queue]:
    declared = Queue(f"{unique}-q", Exchange(""), routing_key=f"{unique}-q")
    admin.queue_declare(declared.name, durable=True)
    yield declared
    admin.queue_delete(declared.name)


def test_connect_skips_a_dead_host(proxy: FaultProxy) -> None:
    dead = f"amqp://guest:guest@127.0.0.1:{_dead_port()}//"
    conn = Connection(f"{dead};{proxy.url}", heartbeat=0)

    conn.connect()

    assert f":{proxy.port}/" in conn.as_uri()
    assert proxy.accepted == 1
    conn.release()


def test_retry_moves_to_the_next_host_and_sends_once(
    proxy: FaultProxy, second_proxy: FaultProxy, queue: Queue, admin: amqp.Channel
) -> None:
    conn = Connection(
        proxy.url, alternates=[second_proxy.url], heartbeat=0, confirm_publish=True
    )
    producer = conn.Producer(routing_key=queue.name)
    producer.publish(b"first", serializer="raw")
    proxy.close()  # the first broker goes away for good

    producer.publish(
        b"second", serializer="raw", retry=True, retry_policy={"interval_start": 0}
    )

    assert second_proxy.accepted == 1
    assert bodies(admin, queue.name) == [b"first", b"second"]
    conn.release()


def test_shuffle_still_reaches_a_live_host(proxy: FaultProxy) -> None:
    dead = [f"amqp://guest:guest@127.0.0.1:{_dead_port()}//" for _ in range(3)]
    conn = Connection(
        ";".join([*dead, proxy.url]), failover_strategy="shuffle", heartbeat=0
    )

    conn.connect()

    assert conn.connected
    conn.release()


def test_no_password_in_errors_or_logs_when_every_host_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hosts = [f"amqp://alice:s3cret-{n}@127.0.0.1:{_dead_port()}//" for n in range(2)]
    conn = Connection(";".join(hosts), connect_timeout=1)
    caplog.set_level(logging.DEBUG, logger="kombu_lite")

    with pytest.raises(OperationalError) as caught:
        conn.ensure_connection(max_retries=1, interval_start=0)

    shown = " ".join(
        [str(caught.value), repr(conn), conn.as_uri(), caplog.text, repr(caught.value)]
    )
    assert "s3cret" not in shown
    assert "alice" in shown or "127.0.0.1" in shown
