"""Incoming frames: py-amqp's frame handler, with ``basic.deliver`` taken apart here.

py-amqp turns every delivery into a ``Message`` object: it decodes the
content properties into a dict, parses the method's arguments through its
generic ``loads`` and dispatches them through the channel, a dozen Python
calls per message before kombu_lite sees it.  :func:`frame_handler` is a
drop-in replacement for ``amqp.method_framing.frame_handler`` (the same
frame checks, the same ``bytes_recv`` count, every other method handed to
py-amqp as before) that reads a ``basic.deliver`` for a channel with a
delivery sink (:attr:`DELIVER_SINK`) itself: the five method arguments
from fixed offsets, the content header's body size and properties
(:func:`decode_properties`: shared when they carry no headers), and the
body.  A malformed frame raises here, in the reading thread, as it did
in py-amqp.

A body of several frames (a delivery's, and also a ``basic.get-ok``'s
or a ``basic.return``'s, which py-amqp reads) is copied frame by frame
into one buffer sized from the content header (:func:`body_buffer`),
and that buffer becomes the body's ``bytes``: py-amqp keeps the frames
and joins them, so that for a moment it holds the body twice.

A delivery for a channel that is closing is dropped, as py-amqp drops
every method but the close handshake on such a channel; a channel without
a sink (or an unknown one) goes through py-amqp's own dispatch.
"""

from __future__ import annotations

import io
import struct
from typing import TYPE_CHECKING, Any, Final

from amqp import spec
from amqp.basic_message import Message as _AmqpMessage
from amqp.exceptions import UnexpectedFrame
from amqp.serialization import decode_properties_basic

from kombu_lite.transport.pyamqp._messages import properties_from

if TYPE_CHECKING:
    from collections.abc import Callable

    from kombu_lite.transport.base import BasicProperties

__all__ = ["DELIVER_SINK", "body_buffer", "decode_properties", "frame_handler"]

#: The attribute of a py-amqp channel that holds its delivery sink:
#: ``sink(consumer_tag, delivery_tag, redelivered, exchange, routing_key,
#: properties, body)`` with ``properties`` a :class:`BasicProperties`.
DELIVER_SINK: Final = "kl_deliver_sink"

_DELIVER: Final = b"\x00\x3c\x00\x3c"  # class 60 (basic), method 60 (deliver)
_CONTENT_METHODS: Final = frozenset(
    {spec.Basic.Return, spec.Basic.Deliver, spec.Basic.GetOk}
)
_METHOD_SIG = struct.Struct(">HH").unpack_from
_LONGLONG = struct.Struct(">Q").unpack_from
_HEADER = struct.Struct(">HxxQ").unpack_from
#: Decoded property lists without headers (the cache holds immutable
#: objects only: a headers table is a dict the application may change).
_CACHE_LIMIT: Final = 256
#: The headers bit of the property flags, in their first byte (0x2000).
_HEADERS_BIT: Final = 0x20
_property_cache: dict[bytes, BasicProperties] = {}
#: The most a body buffer is sized for up front.  The size comes from the
#: peer's content header: a bogus or hostile one (say 512 MiB, then a
#: trickle of bytes) must not make the client allocate it before the bytes
#: arrive.  A larger body grows the buffer as its frames come; CPython
#: grows a large buffer in place (``realloc``, which moves pages without
#: copying them on Linux), so the peak stays about one copy of the body.
_PREALLOCATE_LIMIT: Final = 1 << 20


def body_buffer(size: int) -> io.BytesIO:
    """An empty buffer for a body of ``size`` bytes, written from its start.

    Room for up to ``_PREALLOCATE_LIMIT`` bytes is made up front; a larger
    body grows it as it arrives.  ``getvalue()`` then hands over the buffer
    itself as the ``bytes`` of the body (CPython does so for a ``BytesIO``
    that nothing else refers to, trimming any spare room in place): each
    frame's payload is copied once, into the buffer, and the body never
    again.  Elsewhere ``getvalue()`` copies: one copy, as a join would.
    """
    buffer = io.BytesIO()
    room = min(size, _PREALLOCATE_LIMIT)
    if room > 1:
        buffer.seek(room - 1)
        buffer.write(b"\0")
        buffer.seek(0)
    return buffer


def _amqp_body(msg: Any, payload: bytes) -> None:
    """py-amqp's ``inbound_body``, with the frames gathered in a body buffer."""
    received = msg.body_received + len(payload)
    msg.body_received = received
    buffer: io.BytesIO | None = msg.__dict__.get("kl_body")
    if received < msg.body_size:
        if buffer is None:
            buffer = msg.kl_body = body_buffer(msg.body_size)
        buffer.write(payload)
        return
    if buffer is not None:
        del msg.kl_body
        buffer.write(payload)
        payload = buffer.getvalue()
    msg.body = payload
    msg.ready = True


def decode_properties(raw: bytes) -> BasicProperties:
    """The :class:`BasicProperties` of a raw content-header property list.

    Decoded as py-amqp decodes them (``decode_properties_basic``).  A
    property list without a headers table is decoded once and the
    (immutable) result shared by every message with the same bytes: the
    messages of one publisher usually have the same properties.

    Raises what py-amqp raises for a malformed list.
    """
    props = _property_cache.get(raw)
    if props is not None:
        return props
    decoded, _end = decode_properties_basic(raw, 0)
    props = properties_from(decoded)
    if not raw[0] & _HEADERS_BIT:
        if len(_property_cache) >= _CACHE_LIMIT:
            _property_cache.clear()
        _property_cache[raw] = props
    return props


class _Incoming:
    """A delivery whose content frames are still coming."""

    __slots__ = (
        "body_size",
        "buffer",
        "consumer_tag",
        "delivery_tag",
        "exchange",
        "properties",
        "received",
        "redelivered",
        "routing_key",
        "sink",
    )

    def __init__(self, sink: Callable[..., None], payload: bytes) -> None:
        self.sink = sink
        # basic.deliver: consumer-tag (shortstr), delivery-tag (longlong),
        # redelivered (bit), exchange (shortstr), routing-key (shortstr).
        end = 5 + payload[4]
        self.consumer_tag = payload[5:end].decode("utf-8", "surrogatepass")
        (self.delivery_tag,) = _LONGLONG(payload, end)
        self.redelivered = bool(payload[end + 8] & 1)
        start = end + 10
        end = start + payload[end + 9]
        self.exchange = payload[start:end].decode("utf-8", "surrogatepass")
        start = end + 1
        end = start + payload[end]
        self.routing_key = payload[start:end].decode("utf-8", "surrogatepass")
        self.properties: BasicProperties | None = None
        self.body_size = 0
        self.received = 0
        #: The body's frames so far (the first one made it).
        self.buffer: io.BytesIO | None = None

    def deliver(self, body: bytes) -> None:
        self.sink(
            self.consumer_tag,
            self.delivery_tag,
            self.redelivered,
            self.exchange,
            self.routing_key,
            self.properties,
            body,
        )


def frame_handler(
    connection: Any, callback: Callable[[int, Any, bytes, Any], Any]
) -> Callable[[tuple[int, int, bytes]], bool]:
    """py-amqp's ``frame_handler(connection, callback)``, deliveries read here.

    Returns ``on_frame((type, channel, payload))``, True when a method was
    completed (py-amqp's contract).  Raises ``UnexpectedFrame`` for a frame
    of the wrong type, as py-amqp does.
    """
    expected: dict[int, int] = {}
    partial: dict[int, Any] = {}

    def on_frame(frame: tuple[int, int, bytes]) -> bool:
        frame_type, channel, payload = frame
        connection.bytes_recv += 1
        want = expected.get(channel, 1)
        if frame_type != want and frame_type != 8:
            raise UnexpectedFrame(
                f"Received frame {frame_type} while expecting type: {want}"
            )
        if frame_type == 1:
            if payload[:4] == _DELIVER:
                channels = connection.channels
                raw: Any = None if channels is None else channels.get(channel)
                sink = None if raw is None else getattr(raw, DELIVER_SINK, None)
                if sink is not None and not raw.is_closing:
                    partial[channel] = _Incoming(sink, payload)
                    expected[channel] = 2
                    return False
            method_sig = _METHOD_SIG(payload, 0)
            if method_sig in _CONTENT_METHODS:
                partial[channel] = _AmqpMessage(
                    frame_method=method_sig, frame_args=payload
                )
                expected[channel] = 2
                return False
            callback(channel, method_sig, payload, None)
            return True
        if frame_type == 2:
            msg = partial[channel]
            if type(msg) is _Incoming:
                _class_id, msg.body_size = _HEADER(payload, 0)
                msg.properties = decode_properties(payload[12:])
                if msg.body_size:
                    expected[channel] = 3
                    return False
                del partial[channel]
                expected[channel] = 1
                msg.deliver(b"")
                return True
            msg.inbound_header(payload)
            if not msg.ready:
                expected[channel] = 3
                return False
            del partial[channel]
            expected[channel] = 1
            callback(channel, msg.frame_method, msg.frame_args, msg)
            return True
        if frame_type == 3:
            msg = partial[channel]
            if type(msg) is _Incoming:
                received = msg.received + len(payload)
                if received < msg.body_size:
                    msg.received = received
                    buffer = msg.buffer
                    if buffer is None:
                        buffer = msg.buffer = body_buffer(msg.body_size)
                    buffer.write(payload)
                    return False
                del partial[channel]
                expected[channel] = 1
                buffer = msg.buffer
                if buffer is not None:
                    msg.buffer = None
                    buffer.write(payload)
                    payload = buffer.getvalue()
                msg.deliver(payload)
                return True
            _amqp_body(msg, payload)
            if not msg.ready:
                return False
            del partial[channel]
            expected[channel] = 1
            callback(channel, msg.frame_method, msg.frame_args, msg)
            return True
        return False  # a heartbeat: counted in bytes_recv already

    return on_frame
