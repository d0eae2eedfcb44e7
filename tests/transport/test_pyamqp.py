"""The RabbitMQ adapter's own behaviour: login, odd peers, TLS settings."""

from __future__ import annotations

import hashlib
import select
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from kombu_lite.exceptions import (
    AccessRefused,
    ConfigurationError,
    ConnectionLost,
    NotFound,
    OperationalError,
    ProtocolError,
)
from kombu_lite.transport._tls import build_ssl_context
from kombu_lite.transport.base import BasicProperties, ConnectionParameters
from kombu_lite.transport.pyamqp import PyAmqpTransport

from .conftest import AMQP_PARAMS


@pytest.fixture
def broker(rabbitmq: str) -> ConnectionParameters:
    return AMQP_PARAMS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def fake_peer() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback server; what it sends on accept is set by the test."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    script: list[bytes] = []
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            held.append(client)
            if script:
                client.sendall(script[0])
                client.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], script
    server.close()
    for client in held:
        client.close()


@pytest.mark.broker
def test_wrong_password_is_access_refused_without_the_password(
    broker: ConnectionParameters,
) -> None:
    params = replace(broker, password="not-the-password-42")

    with pytest.raises(AccessRefused) as info:
        PyAmqpTransport().connect(params)

    assert "not-the-password-42" not in str(info.value)
    assert "guest" in str(info.value)


def test_refused_port_is_an_operational_error_at_once() -> None:
    params = replace(AMQP_PARAMS, port=_free_port())
    started = time.monotonic()

    with pytest.raises(OperationalError, match="refused"):
        PyAmqpTransport().connect(params)

    assert time.monotonic() - started < 1


def test_a_non_amqp_peer_is_a_protocol_error(
    fake_peer: tuple[int, list[bytes]],
) -> None:
    port, script = fake_peer
    script.append(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    with pytest.raises(ProtocolError, match="not an AMQP 0-9-1 server"):
        PyAmqpTransport().connect(replace(AMQP_PARAMS, port=port, connect_timeout=2))


def test_a_silent_peer_times_out_within_connect_timeout(
    fake_peer: tuple[int, list[bytes]],
) -> None:
    port, _script = fake_peer
    started = time.monotonic()

    with pytest.raises(OperationalError, match=r"handshake within 0\.5s"):
        PyAmqpTransport().connect(replace(AMQP_PARAMS, port=port, connect_timeout=0.5))

    assert time.monotonic() - started < 2


def _rabbitmqctl(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def _listed(connection_name: str) -> tuple[str, str] | None:
    """The broker's pid and state of the connection named ``connection_name``."""
    listing = _rabbitmqctl(
        "list_connections", "--silent", "pid", "state", "client_properties"
    )
    wanted = f'{{"connection_name","{connection_name}"}}'
    for line in listing.splitlines():
        pid, state, client_properties = line.split("\t", 2)
        if wanted in client_properties:
            return pid, state
    return None


def _wait_until_listed(connection_name: str, *, running: bool) -> str:
    """Poll the listing until the connection is there (running or not).

    Returns its pid.
    """
    for _ in range(30):  # each listing takes the broker a moment
        listed = _listed(connection_name)
        if listed is not None and (listed[1] == "running") == running:
            return listed[0]
    pytest.fail(f"{connection_name!r} was not listed as running={running}")


@pytest.mark.broker
def test_a_connection_closed_by_name_on_the_broker_is_lost_on_the_next_call(
    broker: ConnectionParameters, unique: str
) -> None:
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl is needed to close connections from the broker side")
    name = f"kombu_lite {unique}"
    conn = PyAmqpTransport().connect(
        replace(
            broker, transport_options={"client_properties": {"connection_name": name}}
        )
    )
    try:
        channel = conn.channel()
        # Only this test's own connection is closed: others share the broker.
        pid = _wait_until_listed(name, running=True)
        _rabbitmqctl("close_connection", pid, "closed by a kombu_lite test")
        # No longer running: the broker has sent its connection.close (and
        # waits for the close-ok that only the next call will read).
        _wait_until_listed(name, running=False)

        with pytest.raises(ConnectionLost):
            channel.queue_declare("", exclusive=True)
        assert not conn.is_connected
    finally:
        conn.close()


@pytest.mark.broker
def test_a_one_mebibyte_body_round_trips(broker: ConnectionParameters) -> None:
    conn = PyAmqpTransport().connect(broker)
    channel = conn.channel()
    queue = channel.queue_declare("", exclusive=True).queue
    body = bytes(range(256)) * 4096

    channel.basic_publish(body, BasicProperties(), "", queue)
    delivery = None
    for _ in range(50):
        delivery = channel.basic_get(queue, no_ack=True)
        if delivery is not None:
            break
        time.sleep(0.02)

    assert delivery is not None
    assert hashlib.sha256(delivery.body).digest() == hashlib.sha256(body).digest()
    conn.close()


@pytest.mark.broker
def test_lower_client_limits_win_the_negotiation(
    broker: ConnectionParameters,
) -> None:
    params = replace(broker, transport_options={"frame_max": 4096, "channel_max": 8})
    conn = PyAmqpTransport().connect(params)

    assert (conn._conn.frame_max, conn._conn.channel_max) == (4096, 8)
    conn.close()


@pytest.mark.broker
def test_a_body_split_into_small_frames_round_trips(
    broker: ConnectionParameters,
) -> None:
    conn = PyAmqpTransport().connect(
        replace(broker, transport_options={"frame_max": 4096})
    )
    channel = conn.channel()
    queue = channel.queue_declare("", exclusive=True).queue
    body = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB, 256 frames

    channel.basic_publish(body, BasicProperties(), "", queue)
    delivery = None
    for _ in range(50):
        delivery = channel.basic_get(queue, no_ack=True)
        if delivery is not None:
            break
        time.sleep(0.02)

    assert delivery is not None
    assert hashlib.sha256(delivery.body).digest() == hashlib.sha256(body).digest()
    conn.close()


@pytest.mark.broker
def test_server_properties_and_close_twice(broker: ConnectionParameters) -> None:
    conn = PyAmqpTransport().connect(broker)

    assert conn.server_properties["product"] == "RabbitMQ"
    conn.close()
    conn.close()
    assert not conn.is_connected


def test_tls_true_checks_chain_and_host_name() -> None:
    context, server = build_ssl_context(True, "rabbit.example")

    assert context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert server == "rabbit.example"


def test_tls_dict_options() -> None:
    context, server = build_ssl_context(
        {"cert_reqs": ssl.CERT_NONE, "server_hostname": "other"}, "h"
    )

    assert not context.check_hostname
    assert context.verify_mode == ssl.CERT_NONE
    assert server == "other"


def test_tls_optional_and_explicit_check_hostname() -> None:
    context, _ = build_ssl_context(
        {"cert_reqs": ssl.CERT_OPTIONAL, "check_hostname": False}, "h"
    )

    assert context.verify_mode == ssl.CERT_OPTIONAL
    assert not context.check_hostname


def test_tls_context_is_used_as_given() -> None:
    given = ssl.create_default_context()

    assert build_ssl_context(given, "h") == (given, "h")


def test_tls_unknown_option_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="ciphers"):
        build_ssl_context({"ciphers": "ALL"}, "h")


def test_tls_handshake_failure_is_a_protocol_error(
    fake_peer: tuple[int, list[bytes]],
) -> None:
    port, script = fake_peer
    script.append(b"\x00" * 64)

    with pytest.raises((ProtocolError, OperationalError)):
        PyAmqpTransport().connect(
            replace(AMQP_PARAMS, port=port, ssl=True, connect_timeout=2)
        )


# -- the buffered frame reader -------------------------------------------------------


def _frame(kind: int, channel: int, payload: bytes) -> bytes:
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"


@pytest.fixture
def scripted_peer() -> Iterator[tuple[Any, socket.socket]]:
    """A connected buffered transport and the server side of its socket."""
    from kombu_lite.transport.pyamqp._transport import (
        BufferedTCPTransport as _BufferedTCPTransport,
    )

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    transport = _BufferedTCPTransport(
        f"127.0.0.1:{server.getsockname()[1]}", connect_timeout=2
    )
    transport.connect()
    peer, _ = server.accept()
    assert peer.recv(8) == b"AMQP\x00\x00\x09\x01"  # py-amqp's protocol header
    yield transport, peer
    transport.close()
    peer.close()
    server.close()


def test_many_frames_from_one_read_come_out_one_by_one(
    scripted_peer: tuple[Any, socket.socket],
) -> None:
    transport, peer = scripted_peer
    frames = [_frame(1, n, bytes([n]) * n) for n in range(1, 40)]
    peer.sendall(b"".join(frames))

    read = [transport.read_frame() for _ in frames]

    assert read == [(1, n, bytes([n]) * n) for n in range(1, 40)]
    assert transport.buffered_frame() is None
    assert transport._read_buffer == b""


def test_a_frame_sent_byte_by_byte_is_reassembled(
    scripted_peer: tuple[Any, socket.socket],
) -> None:
    transport, peer = scripted_peer
    data = _frame(3, 7, b"body bytes") + _frame(8, 0, b"")

    def dribble() -> None:
        for byte in data:
            peer.sendall(bytes([byte]))
            time.sleep(0.001)

    sender = threading.Thread(target=dribble)
    sender.start()
    first, second = transport.read_frame(), transport.read_frame()
    sender.join()

    assert (first, second) == ((3, 7, b"body bytes"), (8, 0, b""))


def test_a_timeout_mid_frame_loses_nothing(
    scripted_peer: tuple[Any, socket.socket],
) -> None:
    transport, peer = scripted_peer
    data = _frame(3, 1, b"x" * 100_000)
    peer.sendall(data[:50_000])

    with pytest.raises(TimeoutError), transport.having_timeout(0.2):
        transport.read_frame()
    assert transport.buffered_frame() is None
    peer.sendall(data[50_000:])

    assert transport.read_frame() == (3, 1, b"x" * 100_000)


def test_a_frame_with_a_bad_end_octet_is_an_unexpected_frame(
    scripted_peer: tuple[Any, socket.socket],
) -> None:
    from amqp.exceptions import UnexpectedFrame

    transport, peer = scripted_peer
    peer.sendall(_frame(1, 1, b"abc")[:-1] + b"\x00")

    with pytest.raises(UnexpectedFrame, match="0x00"):
        transport.read_frame()


def test_the_peer_closing_mid_frame_is_an_os_error(
    scripted_peer: tuple[Any, socket.socket],
) -> None:
    transport, peer = scripted_peer
    peer.sendall(_frame(1, 1, b"abcdef")[:5])
    peer.close()

    with pytest.raises(OSError, match="unexpectedly closed"):
        transport.read_frame()
    assert transport.connected is False


@pytest.mark.broker
def test_read_and_write_timeouts_reach_the_transport(
    broker: ConnectionParameters,
) -> None:
    params = replace(
        broker, transport_options={"read_timeout": 7.0, "write_timeout": 3.0}
    )
    conn = PyAmqpTransport().connect(params)

    transport = conn._conn.transport
    assert (transport.read_timeout, transport.write_timeout) == (7.0, 3.0)
    conn.close()


@pytest.mark.broker
def test_a_batch_without_confirms_goes_out_in_order_without_tags(
    broker: ConnectionParameters,
) -> None:
    conn = PyAmqpTransport().connect(broker)
    channel = conn.channel()
    queue = channel.queue_declare("", exclusive=True).queue
    messages = [(f"m{n}".encode(), BasicProperties()) for n in range(5)]

    tags = channel.basic_publish_batch(messages, "", queue)
    received: list[bytes] = []
    while len(received) < 5:
        delivery = channel.basic_get(queue, no_ack=True)
        if delivery is None:
            time.sleep(0.02)
            continue
        received.append(delivery.body)

    assert tags == [0] * 5
    assert received == [f"m{n}".encode() for n in range(5)]
    conn.close()


@pytest.mark.broker
def test_a_batch_with_confirms_gets_consecutive_tags_all_acked(
    broker: ConnectionParameters,
) -> None:
    conn = PyAmqpTransport().connect(broker)
    channel = conn.channel()
    queue = channel.queue_declare("", exclusive=True).queue
    channel.confirm_select()
    first = channel.basic_publish(b"single", BasicProperties(), "", queue)

    tags = channel.basic_publish_batch(
        [(b"a", BasicProperties()), (b"b", BasicProperties())], "", queue
    )

    assert tags == [first + 1, first + 2]
    assert all(channel.wait_for_confirm(tag, 5.0) is None for tag in tags)
    conn.close()


def _publish_one(channel: Any, exchange: str) -> None:
    channel.basic_publish(b"after", BasicProperties(), exchange, "k")


def _publish_batch(channel: Any, exchange: str) -> None:
    channel.basic_publish_batch([(b"after", BasicProperties())], exchange, "k")


@pytest.mark.broker
@pytest.mark.parametrize("publish", [_publish_one, _publish_batch])
def test_a_publish_after_the_broker_closed_the_channel_is_refused_not_written(
    broker: ConnectionParameters, unique: str, publish: Any
) -> None:
    conn = PyAmqpTransport().connect(broker)
    try:
        channel = conn.channel()
        # Without confirms the broker answers a publish to a missing
        # exchange only by closing the channel, asynchronously.
        channel.basic_publish(b"lost", BasicProperties(), f"{unique}.missing", "k")
        # Wait for the channel.close to be on the socket, unread, and for the
        # next publish to be due to look at the socket.
        sock = conn._conn.transport.sock
        assert select.select([sock], [], [], 10.0)[0], "no channel.close came"
        while time.monotonic() < conn.next_poll:
            time.sleep(0.005)

        # The next publish reads it before writing: refused, not sent.  Sent
        # after the close-ok, it would make the broker close the connection
        # (504 CHANNEL_ERROR, expected 'channel.open'), which the broker
        # would do before answering the declare below.
        with pytest.raises(NotFound):
            publish(channel, f"{unique}.missing")
        other = conn.channel()
        assert other.queue_declare("", exclusive=True).queue
        assert conn.is_connected
    finally:
        conn.close()
