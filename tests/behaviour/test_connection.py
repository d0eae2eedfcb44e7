"""Connection behaviour on both transports, plus retries on a broken broker."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import OperationalError, ResourceError
from kombu_lite.transport.memory import default_broker

Cleanup = Callable[[Exchange | Queue], None]


def test_connection_is_lazy(url: str) -> None:
    conn = Connection(url)

    assert not conn.connected


def test_connect_connects(connection: Connection) -> None:
    assert connection.connect() is connection
    assert connection.connected


def test_release_closes_and_next_use_reconnects(connection: Connection) -> None:
    first = connection.default_channel
    connection.release()

    assert not connection.connected
    second = connection.default_channel
    assert second is not first
    assert connection.connected


def test_keyword_virtual_host_wins_over_the_urls(url: str) -> None:
    # The URL names a vhost that does not exist; the keyword names "/".
    missing = url.rstrip("/") + "/klt-no-such-vhost"
    if url == "memory://":
        missing = "memory:///klt-no-such-vhost"

    with Connection(missing, virtual_host="/") as conn:
        conn.connect()

        assert conn.connected
        assert conn.virtual_host == "/"


def test_default_channel_is_reused(connection: Connection) -> None:
    assert connection.default_channel is connection.default_channel


def test_context_manager_releases(url: str) -> None:
    with Connection(url) as conn:
        conn.connect()
    assert not conn.connected


def test_drain_events_times_out_with_socket_timeout(connection: Connection) -> None:
    connection.connect()
    started = time.monotonic()

    with pytest.raises(socket.timeout):
        connection.drain_events(timeout=0.2)

    assert time.monotonic() - started < 2


def test_ensure_connection_returns_self(connection: Connection) -> None:
    assert connection.ensure_connection(max_retries=1) is connection
    assert connection.connected


def test_autoretry_passes_a_channel(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    queue = Queue(f"{unique}-q")
    cleanup(queue)

    def declare(channel: object) -> str:
        return queue.declare(channel=channel)  # type: ignore[arg-type]

    result, channel = connection.autoretry(declare)()

    assert result == queue.name
    assert channel.is_open


# -- a broker that is down -------------------------------------------------------


@pytest.fixture
def dead_url(transport_kind: str) -> Iterator[str]:
    """A broker URL where nothing answers."""
    if transport_kind == "memory":
        default_broker().stop()
        yield "memory://"
        default_broker().start()
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"amqp://guest:guest@127.0.0.1:{port}//"


def test_publish_without_retry_fails_fast_on_a_dead_broker(dead_url: str) -> None:
    started = time.monotonic()

    with pytest.raises(OperationalError):
        Connection(dead_url, connect_timeout=1).Producer().publish(
            {"x": 1}, routing_key="q"
        )

    assert time.monotonic() - started < 2


def test_publish_retry_gives_up_within_the_policy(dead_url: str) -> None:
    errors: list[BaseException] = []
    started = time.monotonic()

    with pytest.raises(OperationalError, match="gave up after 3 attempt"):
        Connection(dead_url, connect_timeout=1).Producer().publish(
            {"x": 1},
            routing_key="q",
            retry=True,
            retry_policy={
                "max_retries": 2,
                "interval_start": 0.1,
                "interval_step": 0.1,
                "errback": lambda exc, interval: errors.append(exc),
            },
        )

    assert time.monotonic() - started < 3
    assert len(errors) == 2


def test_publish_retry_timeout_bounds_the_whole_call(dead_url: str) -> None:
    started = time.monotonic()

    with pytest.raises(OperationalError):
        Connection(dead_url, connect_timeout=1).Producer().publish(
            {"x": 1},
            routing_key="q",
            retry=True,
            retry_policy={"max_retries": None, "interval_start": 0.2, "timeout": 1.0},
        )

    assert time.monotonic() - started < 2.5


def test_ensure_connection_gives_up_after_max_retries(dead_url: str) -> None:
    seen: list[float] = []

    with pytest.raises(OperationalError):
        Connection(dead_url, connect_timeout=1).ensure_connection(
            max_retries=2,
            interval_start=0,
            interval_step=0.05,
            errback=lambda exc, interval: seen.append(interval),
        )

    assert seen == [0.0, 0.05]


def test_retry_policy_does_not_leak_into_the_connection(dead_url: str) -> None:
    conn = Connection(dead_url, connect_timeout=1)

    with pytest.raises(OperationalError):
        conn.Producer().publish(
            {"x": 1}, routing_key="q", retry=True, retry_policy={"max_retries": 0}
        )

    assert conn.transport_options == {}


def test_the_channel_past_channel_max_is_a_resource_error_and_the_rest_live(
    url: str, unique: str, cleanup: Callable[[Queue], None]
) -> None:
    queue = Queue(f"{unique}-channels")
    cleanup(queue)
    with Connection(url, transport_options={"channel_max": 3}) as conn:
        channels = [conn.channel() for _ in range(3)]

        with pytest.raises(ResourceError, match="all 3 channel ids"):
            conn.channel()

        assert conn.connected
        for channel in channels:
            assert queue.declare(channel=channel) == queue.name
        channels[0].close()
        assert conn.channel().is_open  # a closed channel's id is free again
