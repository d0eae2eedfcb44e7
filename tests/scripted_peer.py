"""A scripted AMQP 0-9-1 peer on loopback: a broker that plays a script.

Fault tests that need a broker to misbehave in one exact way (answer late,
never, out of order, with a frame that is too large or for a channel that
does not exist) run against this instead of RabbitMQ.  It listens on
127.0.0.1 only, on a port the system picks, and serves each client
connection in a thread of its own:

* :meth:`PeerSession.handshake` plays the server's side of the AMQP
  handshake (``connection.start``, ``tune``, ``open-ok``) with the limits
  the peer was built with; pass ``handshake=False`` to script it by hand.
* Then the script (a function taking the :class:`PeerSession`) runs.  It
  reads what the client sends (:meth:`PeerSession.expect`,
  :meth:`PeerSession.read_frame`) and writes frames
  (:meth:`PeerSession.send_method`, :meth:`PeerSession.send_message`,
  :meth:`PeerSession.send_raw`).  :meth:`PeerSession.expect` answers a
  ``channel.open`` and a client ``channel.close`` on the way by itself, so
  a script only names the methods it is about.

An exception in a script (an unexpected frame, a timeout) is kept in
:attr:`ScriptedPeer.errors`; leaving the ``with`` block raises the first
one, so a script that went wrong fails its test.  A client that hangs up
ends the session quietly (:class:`PeerHungUp` is not an error).

Example::

    def script(peer: PeerSession) -> None:
        peer.expect(QUEUE_DECLARE)        # channel.open answered on the way
        peer.idle(5)                      # never answer, heartbeats only

    with ScriptedPeer(script, heartbeat=1) as peer:
        Connection(peer.url, ...)
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from amqp.basic_message import Message as _AmqpMessage
from amqp.serialization import dumps, loads

__all__ = [
    "BASIC_ACK",
    "BASIC_CONSUME",
    "BASIC_CONSUME_OK",
    "BASIC_DELIVER",
    "BASIC_PUBLISH",
    "BASIC_QOS",
    "BASIC_QOS_OK",
    "CHANNEL_CLOSE",
    "CHANNEL_CLOSE_OK",
    "CHANNEL_OPEN",
    "CHANNEL_OPEN_OK",
    "CONFIRM_SELECT",
    "CONFIRM_SELECT_OK",
    "CONNECTION_CLOSE",
    "CONNECTION_CLOSE_OK",
    "EXCHANGE_DECLARE",
    "EXCHANGE_DECLARE_OK",
    "QUEUE_DECLARE",
    "QUEUE_DECLARE_OK",
    "Frame",
    "PeerHungUp",
    "PeerSession",
    "ScriptedPeer",
]

_LOOPBACK = "127.0.0.1"
PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_END = b"\xce"
_HEADER = struct.Struct(">BHI")

METHOD_FRAME = 1
HEADER_FRAME = 2
BODY_FRAME = 3
HEARTBEAT_FRAME = 8

Method = tuple[int, int]
CONNECTION_START: Method = (10, 10)
CONNECTION_START_OK: Method = (10, 11)
CONNECTION_TUNE: Method = (10, 30)
CONNECTION_TUNE_OK: Method = (10, 31)
CONNECTION_OPEN: Method = (10, 40)
CONNECTION_OPEN_OK: Method = (10, 41)
CONNECTION_CLOSE: Method = (10, 50)
CONNECTION_CLOSE_OK: Method = (10, 51)
CHANNEL_OPEN: Method = (20, 10)
CHANNEL_OPEN_OK: Method = (20, 11)
CHANNEL_CLOSE: Method = (20, 40)
CHANNEL_CLOSE_OK: Method = (20, 41)
EXCHANGE_DECLARE: Method = (40, 10)
EXCHANGE_DECLARE_OK: Method = (40, 11)
QUEUE_DECLARE: Method = (50, 10)
QUEUE_DECLARE_OK: Method = (50, 11)
BASIC_QOS: Method = (60, 10)
BASIC_QOS_OK: Method = (60, 11)
BASIC_CONSUME: Method = (60, 20)
BASIC_CONSUME_OK: Method = (60, 21)
BASIC_PUBLISH: Method = (60, 40)
BASIC_RETURN: Method = (60, 50)
BASIC_DELIVER: Method = (60, 60)
BASIC_ACK: Method = (60, 80)
CONFIRM_SELECT: Method = (85, 10)
CONFIRM_SELECT_OK: Method = (85, 11)


class PeerHungUp(Exception):
    """The client closed its end of the connection."""


@dataclass(frozen=True)
class Frame:
    """One frame as read off the wire."""

    type: int
    channel: int
    payload: bytes

    @property
    def method(self) -> Method | None:
        """``(class id, method id)`` of a method frame, else None."""
        if self.type != METHOD_FRAME:
            return None
        class_id, method_id = struct.unpack_from(">HH", self.payload)
        return class_id, method_id

    def arguments(self, signature: str) -> list[Any]:
        """The method's arguments decoded by a py-amqp signature (``'Bsb'``)."""
        values, _ = loads(signature, self.payload, 4)
        return list(values)


def frame(frame_type: int, channel: int, payload: bytes) -> bytes:
    """Encode one frame."""
    return _HEADER.pack(frame_type, channel, len(payload)) + payload + FRAME_END


def method_frame(
    channel: int, method: Method, signature: str = "", arguments: tuple[Any, ...] = ()
) -> bytes:
    """Encode a method frame; ``signature`` is py-amqp's (``'BsBB'``...)."""
    payload = struct.pack(">HH", *method)
    if signature:
        payload += dumps(signature, list(arguments))
    return frame(METHOD_FRAME, channel, payload)


class PeerSession:
    """One client connection to the scripted peer, as a script sees it."""

    def __init__(self, sock: socket.socket, peer: ScriptedPeer) -> None:
        self.sock = sock
        self._peer = peer
        self._buffer = b""
        #: Channels the client opened (answered by :meth:`expect`).
        self.open_channels: set[int] = set()
        #: Every frame read from the client, in order.
        self.received: list[Frame] = []

    # -- reading ------------------------------------------------------------------

    def _recv(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the client sent nothing more for {size} bytes")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                raise PeerHungUp(str(exc)) from exc
            if not chunk:
                raise PeerHungUp("the client closed the connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def read_protocol_header(self, timeout: float = 5.0) -> bytes:
        """Read the 8-byte protocol header the client starts with."""
        return self._recv(8, time.monotonic() + timeout)

    def read_frame(self, timeout: float = 5.0, *, heartbeats: bool = False) -> Frame:
        """Read the next frame; heartbeat frames are skipped unless asked for."""
        deadline = time.monotonic() + timeout
        while True:
            frame_type, channel, size = _HEADER.unpack(self._recv(7, deadline))
            payload = self._recv(size + 1, deadline)[:-1]
            received = Frame(frame_type, channel, payload)
            self.received.append(received)
            if frame_type != HEARTBEAT_FRAME or heartbeats:
                return received

    def expect(self, method: Method, timeout: float = 5.0) -> Frame:
        """Read frames until ``method`` arrives; answer channel open/close.

        Content frames of a publish and ``basic.ack`` frames on the way are
        passed over.  Any other method first is a script error.
        """
        deadline = time.monotonic() + timeout
        while True:
            received = self.read_frame(max(deadline - time.monotonic(), 0.0))
            if received.method == method:
                return received
            if received.method == CHANNEL_OPEN:
                self.open_channels.add(received.channel)
                self.send_method(received.channel, CHANNEL_OPEN_OK, "S", ("",))
            elif received.method == CHANNEL_CLOSE:
                self.open_channels.discard(received.channel)
                self.send_method(received.channel, CHANNEL_CLOSE_OK)
            elif received.type in (HEADER_FRAME, BODY_FRAME) or received.method in (
                BASIC_PUBLISH,
                BASIC_ACK,
            ):
                continue
            else:
                raise AssertionError(
                    f"expected method {method}, the client sent {received}"
                )

    def idle(self, seconds: float, *, heartbeat: float | None = None) -> None:
        """Answer nothing for ``seconds``, but read (and keep) what comes.

        With ``heartbeat`` set, send a heartbeat frame that often, as a
        live broker that ignores the client would.
        """
        deadline = time.monotonic() + seconds
        next_beat = time.monotonic()
        while (now := time.monotonic()) < deadline:
            if heartbeat is not None and now >= next_beat:
                self.send_raw(frame(HEARTBEAT_FRAME, 0, b""))
                next_beat = now + heartbeat
            step = min(deadline, next_beat if heartbeat else deadline) - now
            with contextlib.suppress(TimeoutError):
                self.read_frame(max(step, 0.01), heartbeats=True)

    # -- writing ------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are."""
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise PeerHungUp(str(exc)) from exc

    def send_method(
        self,
        channel: int,
        method: Method,
        signature: str = "",
        arguments: tuple[Any, ...] = (),
    ) -> None:
        """Write one method frame."""
        self.send_raw(method_frame(channel, method, signature, arguments))

    def send_message(
        self,
        channel: int,
        method: Method,
        signature: str,
        arguments: tuple[Any, ...],
        body: bytes,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Write a method with content (``basic.deliver``, ``basic.return``)."""
        message = _AmqpMessage(**dict(properties or {}))
        header = struct.pack(">HHQ", 60, 0, len(body))
        header += message._serialize_properties()
        data = method_frame(channel, method, signature, arguments)
        data += frame(HEADER_FRAME, channel, header)
        if body:
            data += frame(BODY_FRAME, channel, body)
        self.send_raw(data)

    def deliver(
        self,
        channel: int,
        consumer_tag: str,
        delivery_tag: int,
        body: bytes,
        *,
        exchange: str = "",
        routing_key: str = "q",
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Write a ``basic.deliver`` with its content."""
        self.send_message(
            channel,
            BASIC_DELIVER,
            "sLbss",
            (consumer_tag, delivery_tag, False, exchange, routing_key),
            body,
            properties,
        )

    # -- the handshake ------------------------------------------------------------

    def handshake(self) -> None:
        """Play the server's side of the AMQP handshake."""
        header = self.read_protocol_header()
        if header != PROTOCOL_HEADER:
            raise AssertionError(f"not an AMQP 0-9-1 client: {header!r}")
        peer = self._peer
        self.send_method(
            0,
            CONNECTION_START,
            "ooFSS",
            (
                0,
                9,
                {
                    "product": "scripted-peer",
                    "capabilities": {
                        "publisher_confirms": True,
                        "basic.nack": True,
                        "consumer_cancel_notify": True,
                        "connection.blocked": True,
                        "authentication_failure_close": True,
                    },
                },
                "PLAIN AMQPLAIN",
                "en_US",
            ),
        )
        self.expect(CONNECTION_START_OK)
        self.send_method(
            0,
            CONNECTION_TUNE,
            "BlB",
            (peer.channel_max, peer.frame_max, peer.heartbeat),
        )
        self.expect(CONNECTION_TUNE_OK)
        self.expect(CONNECTION_OPEN)
        self.send_method(0, CONNECTION_OPEN_OK, "s", ("",))

    def answer_until_closed(self, timeout: float = 5.0) -> None:
        """Answer channel opens and closes until the client closes."""
        with contextlib.suppress(PeerHungUp, TimeoutError):
            self.expect(CONNECTION_CLOSE, timeout)
            self.send_method(0, CONNECTION_CLOSE_OK)


Script = Callable[[PeerSession], None]


class ScriptedPeer:
    """A loopback AMQP server that runs ``script`` for each client.

    Args:
        script: what to do once a client is connected (and, unless
            ``handshake=False``, through the handshake).
        handshake: play the handshake before the script.
        frame_max, channel_max, heartbeat: the limits sent in
            ``connection.tune``.
    """

    def __init__(
        self,
        script: Script,
        *,
        handshake: bool = True,
        frame_max: int = 131072,
        channel_max: int = 2047,
        heartbeat: int = 0,
    ) -> None:
        self.script = script
        self.handshake = handshake
        self.frame_max = frame_max
        self.channel_max = channel_max
        self.heartbeat = heartbeat
        self.errors: list[BaseException] = []
        self.sessions: list[PeerSession] = []
        self._listener = socket.create_server((_LOOPBACK, 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(
            target=self._accept, name="scripted-peer", daemon=True
        )

    @property
    def url(self) -> str:
        """A URL for a Connection to this peer."""
        return f"amqp://guest:guest@{_LOOPBACK}:{self.port}//"

    @property
    def address(self) -> tuple[str, int]:
        """Where the peer listens."""
        return _LOOPBACK, self.port

    def __enter__(self) -> ScriptedPeer:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        if exc is None and self.errors:
            raise AssertionError(f"the peer's script failed: {self.errors[0]!r}")

    def close(self) -> None:
        """Stop accepting, hang up on every client, and join the threads."""
        self._stop.set()
        self._listener.close()
        for session in self.sessions:
            with contextlib.suppress(OSError):
                session.sock.shutdown(socket.SHUT_RDWR)
            session.sock.close()
        self._acceptor.join(5)
        for thread in self._threads:
            thread.join(5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            session = PeerSession(sock, self)
            self.sessions.append(session)
            thread = threading.Thread(
                target=self._serve, args=(session,), name="scripted-peer-session"
            )
            thread.daemon = True
            self._threads.append(thread)
            thread.start()

    def _serve(self, session: PeerSession) -> None:
        try:
            if self.handshake:
                session.handshake()
            self.script(session)
        except PeerHungUp:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported by __exit__
            # A socket error once close() hung up is ours, not the script's;
            # anything else counts, even if it came while closing (close()
            # joins this thread before __exit__ reads the errors).
            if not (self._stop.is_set() and isinstance(exc, OSError)):
                self.errors.append(exc)
