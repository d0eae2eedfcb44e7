"""``amqps://`` to a plain AMQP port: the error says so and what to use instead.

RabbitMQ's plain listener answers a TLS ClientHello with its ``AMQP``
protocol header, which OpenSSL reads as a record of the wrong version.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from kombu_lite import Connection
from kombu_lite.exceptions import ProtocolError


@pytest.mark.broker
def test_amqps_to_5672_suggests_amqp_or_the_tls_port(rabbitmq: str) -> None:
    del rabbitmq
    conn = Connection("amqps://guest:guest@127.0.0.1:5672//", connect_timeout=5)

    with pytest.raises(ProtocolError) as caught:
        conn.connect()

    text = str(caught.value)
    assert text.startswith("TLS handshake with 127.0.0.1:5672 failed: ")
    assert "port 5672 looks like plain AMQP" in text
    assert "use amqp:// for it, or the broker's TLS port (5671" in text
    assert not conn.connected


@pytest.fixture
def plain_listener() -> Iterator[int]:
    """A loopback port that answers as RabbitMQ's plain listener does."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        with contextlib.suppress(OSError):
            client, _ = server.accept()
            with client:
                client.recv(4096)  # the ClientHello
                client.sendall(b"AMQP\x00\x00\x09\x01")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(5)


def test_amqps_to_a_plain_listener_on_another_port_names_that_port(
    plain_listener: int,
) -> None:
    url = f"amqps://guest:guest@127.0.0.1:{plain_listener}//"

    with pytest.raises(
        ProtocolError, match=f"port {plain_listener} looks like plain AMQP"
    ):
        Connection(url, connect_timeout=5).connect()
