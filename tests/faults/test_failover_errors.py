"""When every host fails, the error names each host tried and why it failed.

No broker: one loopback port refuses, another listens and never answers.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from kombu_lite import Connection
from kombu_lite.connection.failover import all_failed
from kombu_lite.exceptions import ConnectionLost, OperationalError


def _dead_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_the_error_names_every_host_tried_and_its_reason(silent_port: int) -> None:
    dead = _dead_port()
    conn = Connection(
        f"amqp://alice:s3cret@127.0.0.1:{dead}//;"
        f"amqp://bob:hunter2@127.0.0.1:{silent_port}/vh",
        connect_timeout=0.5,
        heartbeat=0,
    )

    with pytest.raises(OperationalError) as caught:
        conn.connect()

    text = str(caught.value)
    assert text.startswith("could not connect to any broker (2 tried): ")
    first, second = text.split(": ", 1)[1].split("; ")
    assert first.startswith(f"amqp://alice:**@127.0.0.1:{dead}//: connection refused")
    assert second.startswith(f"amqp://bob:**@127.0.0.1:{silent_port}/vh: ")
    assert "did not complete the AMQP handshake within 0.5s" in second
    assert "s3cret" not in text
    assert "hunter2" not in text
    assert isinstance(caught.value.__cause__, OperationalError)
    assert str(caught.value.__cause__) in second


def test_a_single_host_s_error_is_raised_as_it_is() -> None:
    dead = _dead_port()
    conn = Connection(f"amqp://guest:guest@127.0.0.1:{dead}//", connect_timeout=1)

    with pytest.raises(OperationalError, match=r"^connection refused by 127\.0\.0\.1"):
        conn.connect()


def test_hosts_left_untried_for_lack_of_time_are_counted() -> None:
    last = ConnectionLost("lost", reply_code=320, reply_text="CONNECTION_FORCED")

    error = all_failed(last, ["amqp://a:**@h1:5672//: lost"], untried=2)

    assert type(error) is ConnectionLost
    assert (error.reply_code, error.reply_text) == (320, "CONNECTION_FORCED")
    assert str(error) == (
        "could not connect to any broker (1 tried): amqp://a:**@h1:5672//: lost; "
        "no time left to try 2 more"
    )
