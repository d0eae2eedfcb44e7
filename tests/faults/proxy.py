"""A loopback TCP proxy in front of the broker, with switches for faults.

Only ever listens on and connects to 127.0.0.1.  Each accepted client gets a
connection to the broker and two pump threads; the switches act on all of
them:

* :meth:`FaultProxy.hold_replies` stops forwarding broker-to-client bytes
  (they are kept, in order) until :meth:`FaultProxy.release_replies`: the
  client sees a broker that went silent, e.g. confirms that never come.
* :meth:`FaultProxy.stall_uploads` stops reading what clients send, as
  RabbitMQ does on a connection it blocked, until
  :meth:`FaultProxy.resume_uploads`.
* :meth:`FaultProxy.send_to_clients` slips raw frames (for example a
  ``connection.blocked``) into the broker-to-client streams.
* :meth:`FaultProxy.cut` closes every open connection at once, as a dying
  broker or network would.
* :meth:`FaultProxy.cut_on_reply` closes the connection instead of passing
  on the broker's n-th frame of a given AMQP method (a lost ``basic.ack``).
* :meth:`FaultProxy.cut_after_upload` closes the connection once clients
  have sent a given number of bytes more (a cut in the middle of a body).
* :meth:`FaultProxy.delay_replies` holds every broker frame back for a
  while before passing it on (latency).

It also keeps score: :attr:`FaultProxy.acks` lists every ``basic.ack`` the
broker sent (with its ``multiple`` bit), and :meth:`FaultProxy.uploaded`
counts the bytes clients have sent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import select
import socket
import ssl
import struct
import termios
import threading
import time

__all__ = ["BASIC_ACK", "BrokerAck", "FaultProxy", "blocked_frame", "unblocked_frame"]

_LOOPBACK = "127.0.0.1"

#: ``(class id, method id)`` of ``basic.ack``.
BASIC_ACK = (60, 80)

_FRAME_HEADER = struct.Struct(">BHI")
_METHOD_FRAME = 1


def _connection_method(method_id: int, arguments: bytes = b"") -> bytes:
    payload = struct.pack(">HH", 10, method_id) + arguments
    return struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce"


def blocked_frame(reason: str) -> bytes:
    """A ``connection.blocked`` method frame, as RabbitMQ sends on an alarm."""
    text = reason.encode()
    return _connection_method(60, bytes([len(text)]) + text)


def unblocked_frame() -> bytes:
    """A ``connection.unblocked`` method frame."""
    return _connection_method(61)


class _Frames:
    """Cuts a byte stream of AMQP frames into whole frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the frames it completed, in order."""
        self._buffer += data
        frames = []
        while len(self._buffer) >= _FRAME_HEADER.size:
            _, _, size = _FRAME_HEADER.unpack_from(self._buffer)
            end = _FRAME_HEADER.size + size + 1
            if len(self._buffer) < end:
                break
            frames.append(bytes(self._buffer[:end]))
            del self._buffer[:end]
        return frames


def _method_of(frame: bytes) -> tuple[int, int] | None:
    if frame[0] != _METHOD_FRAME or len(frame) < _FRAME_HEADER.size + 4:
        return None
    class_id, method_id = struct.unpack_from(">HH", frame, _FRAME_HEADER.size)
    return class_id, method_id


@dataclasses.dataclass(frozen=True)
class BrokerAck:
    """One ``basic.ack`` frame the broker sent (a publisher confirm)."""

    channel: int
    delivery_tag: int
    multiple: bool


#: After the frame header and the class and method ids: a ``longlong``
#: delivery tag, then an octet whose lowest bit is ``multiple``.
_ACK_ARGUMENTS = struct.Struct(">QB")


def _ack_of(frame: bytes) -> BrokerAck:
    _, channel, _ = _FRAME_HEADER.unpack_from(frame)
    tag, bits = _ACK_ARGUMENTS.unpack_from(frame, _FRAME_HEADER.size + 4)
    return BrokerAck(channel, tag, bool(bits & 1))


@dataclasses.dataclass
class _ReplyCut:
    """An armed :meth:`FaultProxy.cut_on_reply`."""

    method: tuple[int, int]
    let_through: int


class _Link:
    """One client connection and its broker-side twin."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.closed = threading.Event()
        #: Held while writing to the client, so injected frames land whole.
        self.to_client = threading.Lock()
        #: Bytes read from the client so far.
        self.uploaded = 0
        #: Held around each read of the client's bytes and its count, so
        #: :meth:`sent_by_client` never sees a chunk that is in neither.
        self.upload_lock = threading.Lock()

    def sent_by_client(self) -> int:
        """Bytes the client sent: read by the proxy, or waiting in the kernel."""
        with self.upload_lock:
            try:
                waiting = struct.unpack(
                    "i", fcntl.ioctl(self.client, termios.FIONREAD, b"\0" * 4)
                )[0]
            except (OSError, ValueError):
                waiting = 0  # closed: only what was read counts
            return self.uploaded + int(waiting)

    def close(self) -> None:
        self.closed.set()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class FaultProxy:
    """Forward 127.0.0.1:<port> to the broker, with faults on demand."""

    def __init__(
        self, target_port: int = 5672, *, tls: ssl.SSLContext | None = None
    ) -> None:
        # With ``tls`` the proxy is a TLS listener (clients speak TLS to it)
        # in front of the broker's plain port.
        self._tls = tls
        self._target = (_LOOPBACK, target_port)
        self._listener = socket.create_server((_LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._replies_flowing = threading.Event()
        self._replies_flowing.set()
        self._uploads_flowing = threading.Event()
        self._uploads_flowing.set()
        self._stopped = threading.Event()
        self.accepted = 0
        self._reply_cut: _ReplyCut | None = None
        #: Upload bytes still allowed through before a cut, when armed.
        self._upload_budget: int | None = None
        self._reply_delay = 0.0
        #: How many connections :meth:`cut_on_reply` and
        #: :meth:`cut_after_upload` have closed.
        self.cuts = 0
        #: Every ``basic.ack`` the broker sent, in order, whether it was
        #: passed on or dropped by a cut.
        self.acks: list[BrokerAck] = []
        self._ack_seen = threading.Condition(self._lock)
        self._every_link: list[_Link] = []
        self._acceptor = threading.Thread(
            target=self._accept_loop, name="fault-proxy-accept", daemon=True
        )
        self._acceptor.start()

    @property
    def url(self) -> str:
        """The broker URL that goes through this proxy."""
        scheme = "amqps" if self._tls is not None else "amqp"
        return f"{scheme}://guest:guest@{_LOOPBACK}:{self.port}//"

    # -- switches ------------------------------------------------------------------

    def hold_replies(self) -> None:
        """Stop passing the broker's bytes to clients (kept for later)."""
        self._replies_flowing.clear()

    def release_replies(self) -> None:
        """Pass the held and all later broker bytes on again."""
        self._replies_flowing.set()

    def stall_uploads(self) -> None:
        """Stop reading client bytes: their writes stall once buffers fill."""
        self._uploads_flowing.clear()

    def resume_uploads(self) -> None:
        """Read and forward client bytes again."""
        self._uploads_flowing.set()

    def send_to_clients(self, frame: bytes) -> None:
        """Write ``frame`` to every client, between the broker's own writes.

        Only safe while the broker sends nothing else (an idle connection
        with heartbeats off), as frames must not be cut in two.
        """
        with self._lock:
            links = list(self._links)
        for link in links:
            with link.to_client:
                link.client.sendall(frame)

    def cut_on_reply(self, method: tuple[int, int], *, after: int = 0) -> None:
        """Cut the connection instead of passing on a broker frame of ``method``.

        The first ``after`` such frames pass; the next one is dropped and its
        connection closed.  The switch then disarms itself.
        """
        with self._lock:
            self._reply_cut = _ReplyCut(method, after)

    def cut_after_upload(self, size: int) -> None:
        """Cut the connection once clients have sent ``size`` more bytes.

        The bytes up to ``size`` reach the broker; the rest of that chunk does
        not.  The switch then disarms itself.
        """
        with self._lock:
            self._upload_budget = size

    def delay_replies(self, seconds: float) -> None:
        """Hold each chunk from the broker back for ``seconds`` (0: none)."""
        self._reply_delay = seconds

    def uploaded(self) -> int:
        """How many bytes clients have sent so far, over every connection.

        Bytes still waiting in the proxy's socket count too, so on loopback
        a client's write is counted as soon as it returns (TLS links count
        the encrypted bytes not yet read).
        """
        with self._lock:
            links = list(self._every_link)
        return sum(link.sent_by_client() for link in links)

    def wait_for_acks(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until the broker has sent ``count`` ``basic.ack`` frames.

        Returns False if fewer came within ``timeout`` seconds.
        """
        with self._ack_seen:
            return self._ack_seen.wait_for(lambda: len(self.acks) >= count, timeout)

    def cut(self) -> None:
        """Close every open connection, both sides, at once."""
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            link.close()

    def close(self) -> None:
        """Stop accepting and cut everything."""
        self._stopped.set()
        self._replies_flowing.set()
        self._uploads_flowing.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut()
        self._acceptor.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- pumping -------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                readable, _, _ = select.select([self._listener], [], [], 0.1)
                if not readable:
                    continue
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._tls is not None:
                try:
                    client.settimeout(5)
                    client = self._tls.wrap_socket(client, server_side=True)
                    client.settimeout(None)
                except (OSError, ssl.SSLError):
                    client.close()  # the client refused our certificate
                    continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            link = _Link(client, upstream)
            with self._lock:
                self._links.append(link)
                self._every_link.append(link)
                self.accepted += 1
            for src, dst, gate in (
                (client, upstream, self._uploads_flowing),
                (upstream, client, self._replies_flowing),
            ):
                threading.Thread(
                    target=self._pump,
                    args=(link, src, dst, gate),
                    name="fault-proxy-pump",
                    daemon=True,
                ).start()

    def _filter_reply(self, frames: _Frames, data: bytes) -> tuple[bytes, bool]:
        """Pass whole broker frames on, dropping the one a cut is armed for.

        Returns the bytes to forward and whether to cut after them.  The
        broker sends no protocol header, so its stream is frames from the
        first byte; a frame split across reads waits for its tail.
        """
        out = bytearray()
        for frame in frames.feed(data):
            with self._lock:
                method = _method_of(frame)
                if method == BASIC_ACK:
                    self.acks.append(_ack_of(frame))
                    self._ack_seen.notify_all()
                armed = self._reply_cut
                if armed is not None and method == armed.method:
                    if armed.let_through == 0:
                        self._reply_cut = None
                        return bytes(out), True
                    armed.let_through -= 1
            out += frame
        return bytes(out), False

    def _filter_upload(self, data: bytes) -> tuple[bytes, bool]:
        with self._lock:
            budget = self._upload_budget
            if budget is None:
                return data, False
            if len(data) < budget:
                self._upload_budget = budget - len(data)
                return data, False
            self._upload_budget = None
        return data[:budget], True

    def _pump(
        self,
        link: _Link,
        src: socket.socket,
        dst: socket.socket,
        gate: threading.Event,
    ) -> None:
        replies = dst is link.client
        lock = link.to_client if replies else threading.Lock()
        frames = _Frames()
        try:
            while not link.closed.is_set():
                if not gate.wait(0.1):
                    continue  # stalled: leave the bytes in the kernel
                buffered = isinstance(src, ssl.SSLSocket) and src.pending() > 0
                if not buffered and not select.select([src], [], [], 0.1)[0]:
                    continue
                if replies:
                    data = src.recv(65536)
                else:
                    with link.upload_lock:
                        data = src.recv(65536)
                        link.uploaded += len(data)
                if not data:
                    break
                # Switched off while this chunk was on its way: hold it.
                while not gate.wait(0.1):
                    if link.closed.is_set():
                        return
                data, cut = (
                    self._filter_reply(frames, data)
                    if replies
                    else self._filter_upload(data)
                )
                if replies and self._reply_delay:
                    time.sleep(self._reply_delay)
                with lock:
                    dst.sendall(data)
                if cut:
                    self.cuts += 1
                    break
        except (OSError, ValueError):
            pass  # the link is going down; close both sides
        finally:
            link.close()
