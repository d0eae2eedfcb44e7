"""``basic.publish`` frames, encoded from cached templates and written at once.

py-amqp builds each publish from scratch: it serializes the method
arguments, walks its property list, packs three frames into a buffer and
counts every step in Python.  Almost none of that changes from one message
to the next on a channel.  :class:`PublishFramer` keeps, per channel:

* the method frame for each ``(exchange, routing_key, mandatory)``;
* the content-header frame for each properties object, split around the
  8-byte body size, which is the only field patched per message;

and produces the whole message (method, header and body frames) as one
``bytes`` object.  Bodies longer than ``frame_max - 8`` are split into
several body frames, as AMQP requires; such a message is produced as a
list of buffers instead (:data:`Frames`): the frame heads as small
``bytes`` and the body as ``memoryview`` slices of the caller's object,
so a large body is never copied to be sent.

:class:`ConnectionWriter` writes those bytes with a single call through
py-amqp's transport (a list of buffers: one call per buffer, all under
one hold of the lock).  It takes over the connection's frame writer so
that py-amqp's own frames (other methods, heartbeats) and ours go
through the same lock and can never interleave on the socket.
"""

from __future__ import annotations

import errno
import struct
import threading
from typing import TYPE_CHECKING, Any, Final

from amqp import serialization as _amqp_serialization

from kombu_lite.exceptions import EncodeError
from kombu_lite.transport._rabbitmq import non_finite_detail, non_finite_field

if TYPE_CHECKING:
    from collections.abc import Callable

    from kombu_lite.transport.base import BasicProperties

__all__ = [
    "BODY_SIZE",
    "FRAME_END",
    "FRAME_SIZE",
    "ConnectionWriter",
    "Frames",
    "PublishFramer",
    "encode_properties",
    "writer_for",
]

FRAME_END: Final = b"\xce"
_FRAME_END: Final = FRAME_END
#: Method frame payload start: class 60 (basic), method 40 (publish), ticket 0.
_PUBLISH_METHOD: Final = b"\x00\x3c\x00\x28\x00\x00"
#: Content header payload start: class 60, weight 0.
_HEADER_CLASS: Final = b"\x00\x3c\x00\x00"
_FRAME_HEAD = struct.Struct(">BHI").pack
BODY_SIZE = _BODY_SIZE = struct.Struct(">Q").pack
FRAME_SIZE = _LONG = struct.Struct(">I").pack
_TIMESTAMP = struct.Struct(">Q").pack
#: Write errors that leave the connection usable (py-amqp's list).
_UNAVAILABLE: Final = frozenset(
    {errno.EAGAIN, errno.EINTR, errno.ENOENT, errno.EWOULDBLOCK}
)
#: Bytes around a frame's payload: type, channel, size, frame-end.
FRAME_OVERHEAD: Final = 8
#: Method frames kept per channel before the cache starts over (unique
#: routing keys, such as reply queues, would otherwise grow it without end).
_METHOD_CACHE_LIMIT: Final = 512
#: A message of several body frames: buffers written in order, the body's
#: parts as views of it (never copied).
Frames = list[bytes | memoryview]
#: Content headers kept per channel.  Only a properties object used again
#: (a producer reuses one for its plain messages) gains from the cache.
_HEADER_CACHE_LIMIT: Final = 64

# The basic class's properties in wire order, each with its flag bit.
_SHORTSTR_PROPERTIES: Final = (
    ("correlation_id", 1 << 10),
    ("reply_to", 1 << 9),
    ("expiration", 1 << 8),
    ("message_id", 1 << 7),
)
_TRAILING_SHORTSTRS: Final = (
    ("type", 1 << 5),
    ("user_id", 1 << 4),
    ("app_id", 1 << 3),
    ("cluster_id", 1 << 2),
)


def _shortstr(name: str, value: object) -> bytes:
    if not isinstance(value, str):
        raise EncodeError(f"{name} must be a str, not {type(value).__name__}")
    raw = value.encode("utf-8", "surrogatepass")
    if len(raw) > 255:
        raise EncodeError(
            f"{name} is {len(raw)} bytes long once encoded; AMQP short strings "
            f"hold at most 255 bytes"
        )
    return bytes((len(raw),)) + raw


def _octet(name: str, value: object) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        raise EncodeError(f"{name} must be from 0 to 255, not {value!r}")
    return bytes((value,))


def _table(headers: object) -> bytes:
    # py-amqp's table encoder, so header values keep the wire types py-amqp
    # gives them (RabbitMQ and other clients read those today).
    try:
        data: bytes = _amqp_serialization.dumps("F", (headers,))
    except Exception as exc:  # py-amqp raises several kinds (struct, AMQP)
        raise EncodeError(f"cannot encode the message headers: {exc}") from exc
    # py-amqp encodes a NaN or an infinity, but RabbitMQ closes the whole
    # connection on reading one (541): refused here, as on memory://.
    bad = non_finite_field(headers)
    if bad is not None:
        name, value = bad
        raise EncodeError(
            f"cannot encode the message headers: header {name!r} "
            f"{non_finite_detail(value)}"
        )
    return data


def encode_properties(properties: BasicProperties) -> bytes:
    """Encode the property flags and property list of a content header.

    Raises:
        EncodeError: a value does not fit its AMQP type (a string over 255
            bytes, an octet out of range, a header value AMQP cannot carry).
    """
    flags = 0
    parts: list[bytes] = []
    if properties.content_type is not None:
        flags |= 1 << 15
        parts.append(_shortstr("content_type", properties.content_type))
    if properties.content_encoding is not None:
        flags |= 1 << 14
        parts.append(_shortstr("content_encoding", properties.content_encoding))
    if properties.headers is not None:
        flags |= 1 << 13
        parts.append(_table(properties.headers))
    if properties.delivery_mode is not None:
        flags |= 1 << 12
        parts.append(_octet("delivery_mode", properties.delivery_mode))
    if properties.priority is not None:
        flags |= 1 << 11
        parts.append(_octet("priority", properties.priority))
    for name, bit in _SHORTSTR_PROPERTIES:
        value = getattr(properties, name)
        if value is not None:
            flags |= bit
            parts.append(_shortstr(name, value))
    if properties.timestamp is not None:
        flags |= 1 << 6
        stamp: object = properties.timestamp
        if (
            isinstance(stamp, bool)
            or not isinstance(stamp, int)
            or not 0 <= stamp < 1 << 64
        ):
            raise EncodeError(
                f"timestamp must be an int of POSIX seconds >= 0, not {stamp!r}"
            )
        parts.append(_TIMESTAMP(stamp))
    for name, bit in _TRAILING_SHORTSTRS:
        value = getattr(properties, name)
        if value is not None:
            flags |= bit
            parts.append(_shortstr(name, value))
    return flags.to_bytes(2, "big") + b"".join(parts)


class ConnectionWriter:
    """The one way frames reach the socket of a py-amqp connection.

    Installing it replaces the connection's ``frame_writer`` with a wrapper
    that takes :attr:`lock` around py-amqp's own writer; :meth:`write` takes
    the same lock.  Frames from py-amqp (methods, heartbeats) and from
    :class:`PublishFramer` therefore never interleave.  Use
    :func:`writer_for` to get the connection's writer.
    """

    __slots__ = ("_connection", "_inner", "_transport", "_write", "frame_max", "lock")

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        #: Held for every write to this connection's socket.
        self.lock = threading.Lock()
        self._inner: Callable[..., Any] = connection.frame_writer
        # The transport's raw writer (``sendall`` for TCP), with the error
        # handling of py-amqp's ``Transport.write`` redone in write(): one
        # call less per message.
        self._transport = connection.transport
        self._write: Callable[[bytes | memoryview], None] = self._transport._write
        #: The negotiated frame_max (0: no limit).
        self.frame_max = int(connection.frame_max or 0)
        connection.frame_writer = self._locked_frame_writer

    def _locked_frame_writer(self, *args: Any) -> Any:
        with self.lock:
            return self._inner(*args)

    def write(
        self, data: bytes | Frames, refused: Callable[[], bool] | None = None
    ) -> bool:
        """Write whole frames, under the connection's write lock.

        ``data`` is the frames' bytes, written with one call, or a list of
        buffers (:data:`Frames`), written one after the other under the
        same hold of the lock: no other thread's frame can come between
        two of them.

        ``refused``, if given, is asked under the lock first: when it says
        True nothing is written and False is returned.  A channel uses it so
        that none of its frames follows its ``channel.close-ok``, which
        another thread may be sending.

        Raises whatever the transport raises (``OSError``, ``TimeoutError``);
        after an error part of the data may have been sent (the caller
        then drops the connection: its stream is cut inside a frame).
        """
        with self.lock:
            if refused is not None and refused():
                return False
            try:
                if isinstance(data, list):
                    write = self._write
                    for part in data:
                        write(part)
                else:
                    # Large bodies go out as a view: a TLS transport slices
                    # what is left after each partial write, and bytes
                    # slices copy.
                    self._write(data if len(data) < 65536 else memoryview(data))
            except TimeoutError:
                raise
            except OSError as exc:
                # As py-amqp's Transport.write: a real failure marks the
                # transport as disconnected.
                if exc.errno not in _UNAVAILABLE:
                    self._transport.connected = False
                raise
            # py-amqp counts writes; heartbeats are skipped while it grows.
            self._connection.bytes_sent += 1
        return True


def writer_for(connection: Any) -> ConnectionWriter:
    """The :class:`ConnectionWriter` of a connected py-amqp connection.

    Installed on first use; two threads asking at once get the same one.
    The lock that ensures it is the connection's own, made on first use
    (``dict.setdefault`` gives racing threads the same one): none is made
    at import, where it would be a real OS lock in a program that monkey
    patches ``threading`` afterwards.
    """
    writer = connection.__dict__.get("_kombu_lite_writer")
    if writer is None:
        lock = connection.__dict__.setdefault(
            "_kombu_lite_install_lock", threading.Lock()
        )
        with lock:
            writer = connection.__dict__.get("_kombu_lite_writer")
            if writer is None:
                writer = ConnectionWriter(connection)
                connection._kombu_lite_writer = writer
    return writer  # type: ignore[no-any-return]  # py-amqp objects are untyped


class PublishFramer:
    """Builds the frames of ``basic.publish`` messages for one channel.

    Not thread-safe on its own: its caches may be filled twice by two
    threads, which is harmless (the same bytes), and they are only ever
    replaced whole.
    """

    __slots__ = (
        "_between",
        "_body_head",
        "_channel",
        "_chunk",
        "_headers",
        "_methods",
    )

    @property
    def chunk(self) -> int | None:
        """The largest body frame payload (None: no limit)."""
        return self._chunk

    def header_parts(self, properties: BasicProperties) -> tuple[bytes, bytes]:
        """The content header before the body size, and from it to the body.

        The second part ends with the body frame's type and channel: the
        body frame's size, the body and the frame end follow it.

        Raises:
            EncodeError: a property does not fit its AMQP type.
        """
        return self._header(properties)

    def __init__(self, channel_id: int, frame_max: int) -> None:
        self._channel = channel_id
        #: The largest body frame payload (None: no limit).
        self._chunk = frame_max - FRAME_OVERHEAD if frame_max else None
        self._body_head = b"\x03" + channel_id.to_bytes(2, "big")
        # Between two full body frames: the end of one, the head of the next.
        self._between = (
            b""
            if self._chunk is None
            else _FRAME_END + self._body_head + _LONG(self._chunk)
        )
        self._methods: dict[tuple[str, str, bool], bytes] = {}
        # id(properties) -> (properties, header start, header end + body
        # frame start).  The properties object is kept so its id stays
        # unique while the entry lives.
        self._headers: dict[int, tuple[BasicProperties, bytes, bytes]] = {}

    def method_frame(self, exchange: str, routing_key: str, mandatory: bool) -> bytes:
        """The ``basic.publish`` method frame (cached)."""
        key = (exchange, routing_key, mandatory)
        frame = self._methods.get(key)
        if frame is None:
            payload = b"".join(
                (
                    _PUBLISH_METHOD,
                    _shortstr("exchange", exchange),
                    _shortstr("routing_key", routing_key),
                    b"\x01" if mandatory else b"\x00",
                )
            )
            frame = _FRAME_HEAD(1, self._channel, len(payload)) + payload + _FRAME_END
            if len(self._methods) >= _METHOD_CACHE_LIMIT:
                self._methods = {}
            self._methods[key] = frame
        return frame

    def _header(self, properties: BasicProperties) -> tuple[bytes, bytes]:
        entry = self._headers.get(id(properties))
        if entry is not None and entry[0] is properties:
            return entry[1], entry[2]
        encoded = encode_properties(properties)
        # class + weight + body size + flags/properties
        size = 12 + len(encoded)
        chunk = self._chunk
        if chunk is not None and size > chunk:
            raise EncodeError(
                f"the message properties take {size} bytes, more than a frame "
                f"holds on this connection (frame_max {chunk + FRAME_OVERHEAD}): "
                f"send fewer or smaller headers"
            )
        start = _FRAME_HEAD(2, self._channel, size) + _HEADER_CLASS
        end = encoded + _FRAME_END + self._body_head
        if len(self._headers) >= _HEADER_CACHE_LIMIT:
            self._headers = {}
        self._headers[id(properties)] = (properties, start, end)
        return start, end

    def encode(
        self,
        body: bytes,
        properties: BasicProperties,
        exchange: str,
        routing_key: str,
        mandatory: bool,
    ) -> bytes:
        """The frames of one message (method, content header, body) as bytes.

        :meth:`frames` without the list: a body of several frames is
        copied into the result.

        Raises:
            EncodeError: a name or property does not fit its AMQP type.
        """
        data = self.frames(body, properties, exchange, routing_key, mandatory)
        return b"".join(data) if isinstance(data, list) else data

    def frames(
        self,
        body: bytes,
        properties: BasicProperties,
        exchange: str,
        routing_key: str,
        mandatory: bool,
    ) -> bytes | Frames:
        """The frames of one message: method, content header and body.

        One ``bytes`` object when the body fits in one frame (joining is
        the fastest way to write a small message); else a list of buffers
        (:data:`Frames`) whose body parts are views of ``body``, which must
        not change until they are written.

        Raises:
            EncodeError: a name or property does not fit its AMQP type;
                nothing was written.
        """
        # The cache lookups inline: this runs once per message.
        method = self._methods.get((exchange, routing_key, mandatory))
        if method is None:
            method = self.method_frame(exchange, routing_key, mandatory)
        entry = self._headers.get(id(properties))
        if entry is not None and entry[0] is properties:
            start, end = entry[1], entry[2]
        else:
            start, end = self._header(properties)
        size = len(body)
        chunk = self._chunk
        if chunk is None or size <= chunk:
            if not size:
                # No body frame for an empty body: drop the prepared start.
                return method + start + _BODY_SIZE(0) + end[:-3]
            return b"".join(
                (method, start, _BODY_SIZE(size), end, _LONG(size), body, _FRAME_END)
            )
        return self._split(body, chunk, method + start + _BODY_SIZE(size) + end)

    def _split(self, body: bytes, chunk: int, head: bytes) -> Frames:
        """The buffers of a body of several ``chunk``-byte frames.

        ``head`` is every byte before the first body frame's size.
        """
        size = len(body)
        view = memoryview(body)
        parts: Frames = [head + _LONG(chunk), view[:chunk]]
        between = self._between
        last = size - chunk  # the offset of the last full frame at most
        for offset in range(chunk, size, chunk):
            if offset <= last:
                parts += (between, view[offset : offset + chunk])
            else:
                tail = _FRAME_END + self._body_head + _LONG(size - offset)
                parts += (tail, view[offset:])
        parts.append(_FRAME_END)
        return parts
