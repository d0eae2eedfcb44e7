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
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import struct
import threading

__all__ = ["FaultProxy", "blocked_frame", "unblocked_frame"]

_LOOPBACK = "127.0.0.1"


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


class _Link:
    """One client connection and its broker-side twin."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.closed = threading.Event()
        #: Held while writing to the client, so injected frames land whole.
        self.to_client = threading.Lock()

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

    def _pump(
        self,
        link: _Link,
        src: socket.socket,
        dst: socket.socket,
        gate: threading.Event,
    ) -> None:
        lock = link.to_client if dst is link.client else threading.Lock()
        try:
            while not link.closed.is_set():
                if not gate.wait(0.1):
                    continue  # stalled: leave the bytes in the kernel
                buffered = isinstance(src, ssl.SSLSocket) and src.pending() > 0
                if not buffered and not select.select([src], [], [], 0.1)[0]:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                # Switched off while this chunk was on its way: hold it.
                while not gate.wait(0.1):
                    if link.closed.is_set():
                        return
                with lock:
                    dst.sendall(data)
        except (OSError, ValueError):
            pass  # the link is going down; close both sides
        finally:
            link.close()
