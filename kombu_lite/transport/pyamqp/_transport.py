"""py-amqp's TCP and TLS transports, reading frames in large chunks.

Both read through :class:`FrameReader`, which also enforces ``frame_max``
from a frame's header and, during a connect, the ``connect_timeout``
deadline.
"""

from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING, Any

from amqp import exceptions as amqp_errors
from amqp.transport import SSLTransport as _AmqpSSLTransport
from amqp.transport import TCPTransport as _AmqpTCPTransport

from kombu_lite.transport.pyamqp._mapping import ErrorContext, Phase, translate

if TYPE_CHECKING:
    import ssl as _ssl

__all__ = ["BufferedTCPTransport", "ContextSSLTransport", "FrameReader"]

#: Bytes asked of the socket at once: a read takes in many small frames.
_READ_SIZE = 65536
_FRAME_HEAD = struct.Struct(">BHI").unpack_from
#: Errors of a socket read are mapped by the table in _mapping.py.
_READING = ErrorContext("", Phase.READ)


class FrameReader:
    """Frame reading shared by the TCP and TLS transports (a mixin).

    py-amqp reads each frame with three ``recv`` calls (header, payload,
    frame end), exactly the bytes it needs; with a consumer or a stream of
    publisher confirms that is a system call per few bytes.  This reads up
    to 64 KiB at once into ``_read_buffer`` and cuts frames out of it.
    Bytes stay in the buffer until a whole frame is there, so a read that
    times out loses nothing.

    Two limits apply while reading:

    * ``kl_frame_max``: a frame header announcing more than that is a
      protocol error at once, before its payload is read or buffered
      (AMQP's 501 frame-error; the connection is dead after it).
    * ``kl_deadline`` (``time.monotonic``), set during the connect only:
      every socket operation gets what is left of it, so
      ``connect_timeout`` bounds TCP connect, TLS and AMQP handshakes
      together, however slowly the peer sends.
    """

    sock: Any
    connected: bool
    _read_buffer: bytes  # py-amqp's buffer (set by _setup_transport)
    _quick_recv: Any  # the socket's recv (TCP) or read (TLS)
    _kl_pos = 0  # where the next frame starts in _read_buffer
    #: The largest frame accepted, header and end octet included: what the
    #: client asks for until connection.tune, then the negotiated value.
    kl_frame_max = 131072
    #: When the connect must be done (None: no connect in progress).
    kl_deadline: float | None = None
    #: The socket timeout py-amqp leaves once connected.
    _kl_settled_timeout: float | None = None

    def read_frame(self, unpack: Any = None) -> tuple[int, int, bytes]:
        """Return the next ``(type, channel, payload)``, reading as needed."""
        del unpack
        frame = self.buffered_frame()
        while frame is None:
            self._fill()
            frame = self.buffered_frame()
        return frame

    def buffered_frame(self) -> tuple[int, int, bytes] | None:
        """The next frame if it is already whole in the buffer, else None.

        Raises:
            UnexpectedFrame: the frame does not end with ``0xce``.
            FrameError: the frame is larger than ``kl_frame_max``.
        """
        buf = self._read_buffer
        pos = self._kl_pos
        if len(buf) - pos < 7:
            return None
        frame_type, channel, size = _FRAME_HEAD(buf, pos)
        if size > self.kl_frame_max - 8:
            self._oversized(size)
        end = pos + size + 8
        if len(buf) < end:
            return None
        if buf[end - 1] != 0xCE:
            raise amqp_errors.UnexpectedFrame(
                f"Received frame_end {buf[end - 1]:#04x} while expecting 0xce"
            )
        payload = buf[pos + 7 : end - 1]
        if end == len(buf):
            # Empty means "nothing buffered" to the heartbeat watcher.
            self._read_buffer = b""
            self._kl_pos = 0
        else:
            self._kl_pos = end
        return frame_type, channel, payload

    def _oversized(self, size: int) -> None:
        # Reading on would buffer up to 4 GiB for one frame: the connection
        # is given up instead (AMQP: a frame-error is a connection error).
        self.connected = False
        limit = self.kl_frame_max
        raise amqp_errors.FrameError(
            f"the peer announced a frame with {size} bytes of payload, more "
            f"than frame_max {limit} allows ({limit - 8} bytes): not read, "
            f"the connection is given up"
        )

    def _fill(self) -> None:
        """Read once from the socket, appending to the buffer."""
        buf = self._read_buffer
        pos = self._kl_pos
        need = 7
        if len(buf) - pos >= 7:
            need = _FRAME_HEAD(buf, pos)[2] + 8  # checked by buffered_frame
        want = max(need - (len(buf) - pos), _READ_SIZE)
        try:
            self.kl_arm_deadline()
            chunk = self._quick_recv(want)
        except OSError as exc:
            error = translate(exc, _READING)
            if error is not None:  # nothing to read yet
                raise error from exc
            if not isinstance(exc, TimeoutError):
                self.connected = False
            raise
        if not chunk:
            self.connected = False
            raise OSError("Server unexpectedly closed connection")
        self._read_buffer = buf[pos:] + chunk if pos else buf + chunk
        self._kl_pos = 0

    # -- the connect deadline ---------------------------------------------------

    def kl_arm_deadline(self) -> None:
        """Give the next socket operation what is left of the connect deadline.

        Raises:
            TimeoutError: the deadline has passed.
        """
        deadline = self.kl_deadline
        if deadline is None:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the connect deadline passed")
        self.sock.settimeout(left)

    def kl_end_deadline(self) -> None:
        """Connected (or given up): back to the socket timeout py-amqp sets."""
        self.kl_deadline = None
        if self.sock is not None:
            self.sock.settimeout(self._kl_settled_timeout)

    def _kl_left(self, timeout: float | None) -> float | None:
        """``timeout``, or less when the connect deadline is nearer."""
        if self.kl_deadline is None:
            return timeout
        left = max(self.kl_deadline - time.monotonic(), 0.001)
        return left if timeout is None else min(timeout, left)

    def _connect(self, host: str, port: int, timeout: float | None) -> None:
        # Each address tried gets what is left, not a fresh connect_timeout.
        super()._connect(host, port, self._kl_left(timeout))  # type: ignore[misc]

    def write(self, s: bytes) -> None:
        """Write all of ``s`` (within the connect deadline while connecting)."""
        self.kl_arm_deadline()
        super().write(s)  # type: ignore[misc]


# py-amqp is untyped, so its classes are Any to mypy.
class BufferedTCPTransport(FrameReader, _AmqpTCPTransport):  # type: ignore[misc,no-any-unimported]
    """py-amqp's TCP transport with :class:`FrameReader`'s reading."""

    def _setup_transport(self) -> None:
        super()._setup_transport()
        # py-amqp made the socket blocking; the protocol header it writes
        # next is part of the connect.
        self._kl_settled_timeout = None
        self.kl_arm_deadline()


class ContextSSLTransport(FrameReader, _AmqpSSLTransport):  # type: ignore[misc,no-any-unimported]
    """py-amqp's TLS transport with our own context and :class:`FrameReader`."""

    kl_context: _ssl.SSLContext
    kl_server_hostname: str

    def _setup_transport(self) -> None:
        # py-amqp's own version lets wrap_socket shake hands on a blocking
        # socket (no timeout at all); this one shakes hands within the
        # connect deadline.
        self.sock = self.kl_context.wrap_socket(
            self.sock,
            server_hostname=self.kl_server_hostname,
            do_handshake_on_connect=False,
        )
        self._kl_settled_timeout = self.connect_timeout  # as py-amqp leaves it
        self.sock.settimeout(self._kl_left(self.connect_timeout))
        self.sock.do_handshake()
        self._quick_recv = self.sock.read
