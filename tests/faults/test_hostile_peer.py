"""Misbehaving AMQP peers: slow handshakes, huge frames, stray channels.

Each test runs against the scripted peer (tests/scripted_peer.py) or a bare
loopback socket, never against RabbitMQ: the peer misbehaves in one exact
way and the test checks what the client makes of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import resource
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

from kombu_lite import Connection, Consumer, Queue
from kombu_lite.exceptions import (
    AccessRefused,
    OperationalError,
    ProtocolError,
    ResourceError,
)
from tests.scripted_peer import (
    BASIC_CONSUME,
    BASIC_CONSUME_OK,
    CHANNEL_CLOSE,
    CHANNEL_CLOSE_OK,
    CHANNEL_OPEN,
    CHANNEL_OPEN_OK,
    CONNECTION_CLOSE,
    CONNECTION_CLOSE_OK,
    CONNECTION_START,
    CONNECTION_START_OK,
    PROTOCOL_HEADER,
    QUEUE_DECLARE,
    QUEUE_DECLARE_OK,
    PeerSession,
    ScriptedPeer,
    method_frame,
)

#: A frame header announcing a method frame of 4 GiB - 1 on channel 0.
_HUGE_FRAME_HEADER = struct.pack(">BHI", 1, 0, 0xFFFFFFFF)
_MIB = 1024 * 1024


def _start_frame() -> bytes:
    """A plain ``connection.start`` as a broker sends it first."""
    return method_frame(
        0,
        CONNECTION_START,
        "ooFSS",
        (0, 9, {"product": "scripted-peer"}, "PLAIN AMQPLAIN", "en_US"),
    )


def _answer_declares(peer: PeerSession) -> None:
    """Answer every ``queue.declare`` (and channel opens) until the client closes."""
    while True:
        received = peer.read_frame()
        if received.method == QUEUE_DECLARE:
            name = received.arguments("Bs")[1]
            peer.send_method(received.channel, QUEUE_DECLARE_OK, "sll", (name, 0, 0))
        elif received.method == CHANNEL_OPEN:
            peer.send_method(received.channel, CHANNEL_OPEN_OK, "S", ("",))
        elif received.method == CONNECTION_CLOSE:
            peer.send_method(0, CONNECTION_CLOSE_OK)
            return
        else:
            raise AssertionError(f"unexpected {received}")


def _max_rss() -> int:
    """The process's peak resident set so far, in bytes (Linux: KiB units)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- item 9: connect_timeout is one deadline ------------------------------------


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A loopback port that accepts connections and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                return
            held.append(client)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()
    thread.join(5)
    for client in held:
        client.close()


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    trustme = pytest.importorskip("trustme", reason="trustme is in the 'dev' extra")
    path: Path = tmp_path_factory.mktemp("tls") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


def test_a_peer_that_never_answers_tls_fails_within_connect_timeout(
    silent_listener: int, ca_file: str
) -> None:
    conn = Connection(
        f"amqps://guest:guest@127.0.0.1:{silent_listener}//",
        ssl={"ca_certs": ca_file},
        connect_timeout=1,
    )
    started = time.monotonic()

    with pytest.raises(OperationalError, match=r"handshakes? within 1(\.0)?s"):
        conn.connect()

    assert time.monotonic() - started < 2.5


def test_a_handshake_trickled_byte_by_byte_fails_at_the_deadline() -> None:
    def script(peer: PeerSession) -> None:
        assert peer.read_protocol_header() == PROTOCOL_HEADER
        for byte in _start_frame()[:20]:  # 6 s of trickle, then silence
            peer.send_raw(bytes([byte]))
            time.sleep(0.3)  # the misbehaviour under test: one byte at a time
        peer.idle(5)

    with ScriptedPeer(script, handshake=False) as peer:
        conn = Connection(peer.url, connect_timeout=1)
        started = time.monotonic()

        with pytest.raises(OperationalError, match=r"handshakes? within 1(\.0)?s"):
            conn.connect()

        assert time.monotonic() - started < 2.5


# -- item 11: frames larger than frame_max ---------------------------------------


def test_a_4_gib_frame_during_the_handshake_is_refused_from_its_header() -> None:
    def script(peer: PeerSession) -> None:
        assert peer.read_protocol_header() == PROTOCOL_HEADER
        peer.send_raw(_HUGE_FRAME_HEADER)
        peer.idle(5)

    with ScriptedPeer(script, handshake=False) as peer:
        conn = Connection(peer.url, connect_timeout=5)
        rss = _max_rss()
        started = time.monotonic()

        with pytest.raises(ProtocolError, match="frame_max"):
            conn.connect()

        assert time.monotonic() - started < 1
        assert _max_rss() - rss < 50 * _MIB


def test_a_4_gib_frame_while_consuming_is_a_protocol_error_at_once() -> None:
    def script(peer: PeerSession) -> None:
        _answer_declare_and_consume(peer)
        peer.send_raw(struct.pack(">BHI", 3, 1, 0xFFFFFFFF))
        peer.idle(5)

    with ScriptedPeer(script) as peer, Connection(peer.url) as conn:
        _consume(conn)
        rss = _max_rss()
        started = time.monotonic()

        with pytest.raises(ProtocolError, match="frame_max"):
            conn.drain_events(timeout=5)

        assert time.monotonic() - started < 1
        assert _max_rss() - rss < 50 * _MIB
        assert not conn.connected


def test_a_frame_one_byte_over_the_negotiated_frame_max_is_refused() -> None:
    def script(peer: PeerSession) -> None:
        _answer_declare_and_consume(peer)
        # frame_max counts the whole frame: 7 header bytes and the end octet.
        peer.send_raw(struct.pack(">BHI", 3, 1, 4096 - 8 + 1))
        peer.idle(5)

    with ScriptedPeer(script, frame_max=4096) as peer, Connection(peer.url) as conn:
        _consume(conn)

        with pytest.raises(ProtocolError, match=r"4089 bytes.*frame_max 4096"):
            conn.drain_events(timeout=5)


def _answer_declare_and_consume(peer: PeerSession) -> None:
    declare = peer.expect(QUEUE_DECLARE)
    peer.send_method(declare.channel, QUEUE_DECLARE_OK, "sll", ("q", 0, 0))
    consume = peer.expect(BASIC_CONSUME)
    tag = consume.arguments("Bss")[2] or "ctag"
    peer.send_method(consume.channel, BASIC_CONSUME_OK, "s", (tag,))


def _consume(conn: Connection) -> None:
    queue = Queue("q")
    consumer = Consumer(conn.default_channel, [queue], callbacks=[lambda *_: None])
    consumer.consume()


# -- item 12: frames for channels the client does not have ------------------------


def test_a_delivery_on_a_never_opened_channel_is_a_protocol_error() -> None:
    def script(peer: PeerSession) -> None:
        _answer_declare_and_consume(peer)
        peer.deliver(9, "ctag", 1, b"stray")
        peer.idle(5)

    with ScriptedPeer(script) as peer, Connection(peer.url) as conn:
        _consume(conn)

        stray = r"basic\.deliver on channel 9, .* never opened"
        with pytest.raises(ProtocolError, match=stray):
            conn.drain_events(timeout=5)

        assert not conn.connected


def test_a_channel_close_for_an_unknown_channel_is_answered_and_harmless() -> None:
    def script(peer: PeerSession) -> None:
        peer.send_method(5, CHANNEL_CLOSE, "BsBB", (404, "NOT_FOUND", 50, 10))
        closed_ok = peer.expect(CHANNEL_CLOSE_OK)
        assert closed_ok.channel == 5
        _answer_declares(peer)

    with ScriptedPeer(script) as peer, Connection(peer.url) as conn:
        conn.connect()
        conn.drain_events(timeout=5)

        assert Queue("after").declare(channel=conn.default_channel) == "after"
        assert conn.connected


def test_a_repeated_channel_close_is_not_answered_twice() -> None:
    # RabbitMQ 3.10 repeats a consumer_timeout's channel.close at each
    # channel tick until it reads the close-ok; a second close-ok would be a
    # frame on a channel it has freed, which it answers by closing the
    # whole connection (504 CHANNEL_ERROR "expected 'channel.open'").
    def script(peer: PeerSession) -> None:
        _answer_declare_and_consume(peer)
        timed_out = (406, "PRECONDITION_FAILED - delivery acknowledgement timed out")
        peer.send_method(1, CHANNEL_CLOSE, "BsBB", (*timed_out, 0, 0))
        peer.expect(CHANNEL_CLOSE_OK)
        peer.send_method(1, CHANNEL_CLOSE, "BsBB", (*timed_out, 0, 0))
        peer.send_method(1, CHANNEL_CLOSE, "BsBB", (*timed_out, 0, 0))
        # _answer_declares fails on anything else, a close-ok included.
        _answer_declares(peer)

    with ScriptedPeer(script) as peer, Connection(peer.url) as conn:
        _consume(conn)
        for _ in range(3):
            with contextlib.suppress(TimeoutError):
                conn.drain_events(timeout=0.5)

        assert Queue("after").declare(channel=conn.default_channel) == "after"
        assert conn.connected


def test_a_delivery_racing_our_channel_close_is_ignored() -> None:
    def script(peer: PeerSession) -> None:
        _answer_declare_and_consume(peer)
        peer.expect(CHANNEL_CLOSE)  # the client closes the consuming channel
        peer.send_method(1, CHANNEL_CLOSE_OK)
        peer.deliver(1, "ctag", 1, b"in flight")  # sent before the close arrived
        _answer_declares(peer)

    with ScriptedPeer(script) as peer, Connection(peer.url) as conn:
        _consume(conn)
        conn.default_channel.close()
        conn.drain_events(timeout=5)  # reads the late delivery, ignores it

        assert Queue("after").declare(channel=conn.default_channel) == "after"
        assert conn.connected


# -- item 13: running out of channel ids ----------------------------------------


def test_the_channel_past_channel_max_is_a_resource_error_and_the_rest_live() -> None:
    with (
        ScriptedPeer(_answer_declares, channel_max=3) as peer,
        Connection(peer.url) as conn,
    ):
        channels = [conn.channel() for _ in range(3)]

        with pytest.raises(ResourceError, match="3 channel"):
            conn.channel()

        assert conn.connected
        for n, channel in enumerate(channels):
            assert Queue(f"q{n}").declare(channel=channel) == f"q{n}"


# -- item 17: the password stays out of the connect path's locals ---------------

_SECRET = "s3cret-Pa55word-4711"


def _reprs(value: object, depth: int = 0) -> Iterator[str]:
    """``repr`` of ``value`` and of what it holds (dicts, sequences, dataclasses)."""
    yield repr(value)
    if depth > 4:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _reprs(key, depth + 1)
            yield from _reprs(item, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _reprs(item, depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            if field.repr:
                yield from _reprs(getattr(value, field.name), depth + 1)


def _our_frames_showing(exc: BaseException, secret: str) -> list[str]:
    """Frames of kombu_lite code whose locals show ``secret`` in a repr.

    Follows the whole chain (``__cause__``, ``__context__``): a reporter
    such as Sentry shows the locals of every frame of every link.
    """
    found: list[str] = []
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        tb: TracebackType | None = link.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            module = str(frame.f_globals.get("__name__", ""))
            if module.startswith("kombu_lite"):
                for name, value in frame.f_locals.items():
                    if any(secret in text for text in _reprs(value)):
                        found.append(f"{module}:{frame.f_code.co_name}:{name}")
            tb = tb.tb_next
        link = link.__cause__ or link.__context__
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_refused_connect_keeps_the_password_out_of_every_local() -> None:
    conn = Connection(f"amqp://guest:{_SECRET}@127.0.0.1:{_free_port()}//")

    with pytest.raises(OperationalError, match="refused") as info:
        conn.connect()

    assert _our_frames_showing(info.value, _SECRET) == []


def test_a_refused_login_keeps_the_password_out_of_every_local() -> None:
    def script(peer: PeerSession) -> None:
        assert peer.read_protocol_header() == PROTOCOL_HEADER
        peer.send_raw(_start_frame())
        peer.expect(CONNECTION_START_OK)
        peer.send_method(
            0, CONNECTION_CLOSE, "BsBB", (403, "ACCESS_REFUSED - login refused", 0, 0)
        )
        peer.idle(2)

    with ScriptedPeer(script, handshake=False) as peer:
        conn = Connection(f"amqp://guest:{_SECRET}@127.0.0.1:{peer.port}//")

        with pytest.raises(AccessRefused) as info:
            conn.connect()

    assert _our_frames_showing(info.value, _SECRET) == []
