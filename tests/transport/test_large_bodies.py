"""Bodies of several frames are sent and received without copying them whole.

Publishing: :meth:`PublishFramer.frames` hands a body longer than a frame
to the writer as views of the caller's ``bytes`` between the small frame
heads, and :class:`ConnectionWriter` writes those buffers in order under
one hold of its lock.  Receiving: the frame handler copies each body
frame once into one buffer that becomes the body.  The memory bounds are
measured with ``tracemalloc``; the bytes are compared with py-amqp's own
writer and reader.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from amqp import spec
from amqp.basic_message import Message as AmqpMessage
from amqp.method_framing import frame_writer
from amqp.serialization import dumps

from kombu_lite.exceptions import ConnectionLost
from kombu_lite.transport.base import BasicProperties
from kombu_lite.transport.channel_state import ChannelLifecycle
from kombu_lite.transport.pyamqp._mapping import ErrorContext
from kombu_lite.transport.pyamqp.framing import (
    FRAME_OVERHEAD,
    ConnectionWriter,
    PublishFramer,
)
from kombu_lite.transport.pyamqp.inbound import DELIVER_SINK, frame_handler
from kombu_lite.transport.pyamqp.publishing import Publisher

FRAME_MAX = 131072
CHUNK = FRAME_MAX - FRAME_OVERHEAD
#: Large enough that one more copy of it dwarfs everything else measured.
BIG = 16 << 20
PROPERTIES = BasicProperties(content_type="application/octet-stream")


def _body(size: int) -> bytes:
    return (bytes(range(251)) * (size // 251 + 1))[:size]


class _Sink:
    """Collects the bytes py-amqp's frame writer writes."""

    def __init__(self, frame_max: int) -> None:
        self.frame_max = frame_max
        self.bytes_sent = 0
        self.data = bytearray()

    def write(self, data: bytes | memoryview) -> None:
        self.data += data


def _pyamqp_publish(body: bytes, channel: int, frame_max: int) -> bytes:
    sink = _Sink(frame_max)
    args = dumps("Bssbb", (0, "ex", "rk", False, False))
    message = AmqpMessage(body, content_type="application/octet-stream")
    frame_writer(sink, sink)(1, channel, spec.Basic.Publish, args, message)
    return bytes(sink.data)


def _peak_while(action: Callable[[], object]) -> int:
    """The most memory ``action`` held at once (tracemalloc), in bytes."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- the frames ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 1, 5 * CHUNK - 1, 3_000_007]
)
def test_a_body_of_several_frames_is_byte_identical_to_pyamqps(size: int) -> None:
    body = _body(size)

    parts = PublishFramer(9, FRAME_MAX).frames(body, PROPERTIES, "ex", "rk", False)

    assert isinstance(parts, list)
    assert b"".join(parts) == _pyamqp_publish(body, 9, FRAME_MAX)


def test_a_body_of_several_frames_is_sent_as_views_of_the_body() -> None:
    body = _body(3 * CHUNK + 10)

    parts = PublishFramer(1, FRAME_MAX).frames(body, PROPERTIES, "ex", "rk", False)

    assert isinstance(parts, list)
    views = [part for part in parts if isinstance(part, memoryview)]
    assert [len(view) for view in views] == [CHUNK, CHUNK, CHUNK, 10]
    assert all(view.obj is body for view in views)
    assert max(len(part) for part in parts if isinstance(part, bytes)) < 100


def test_a_body_that_fits_one_frame_is_one_bytes_object() -> None:
    body = _body(CHUNK)

    data = PublishFramer(1, FRAME_MAX).frames(body, PROPERTIES, "ex", "rk", False)

    assert type(data) is bytes
    assert data == _pyamqp_publish(body, 1, FRAME_MAX)


def test_framing_a_large_body_allocates_no_copy_of_it() -> None:
    body = b"\x01" * BIG
    framer = PublishFramer(1, FRAME_MAX)

    peak = _peak_while(lambda: framer.frames(body, PROPERTIES, "ex", "rk", False))

    assert peak < BIG // 4


# -- the writer ----------------------------------------------------------------------


class _Transport:
    """py-amqp's transport as the writer uses it: ``_write`` and ``connected``."""

    def __init__(self, fail_at: int | None = None, error: Exception | None = None):
        self.connected = True
        self.written: list[bytes] = []
        self.types: list[type] = []
        self.fail_at = fail_at
        self.error = error
        self.lock_held: list[bool] = []
        self.writer: ConnectionWriter | None = None

    def _write(self, data: bytes | memoryview) -> None:
        if self.fail_at is not None and len(self.written) == self.fail_at:
            assert self.error is not None
            raise self.error
        if self.writer is not None:
            self.lock_held.append(self.writer.lock.locked())
        self.types.append(type(data))
        self.written.append(bytes(data))
        time.sleep(0)  # let another thread try to come in between


class _AmqpConnection:
    def __init__(self, transport: _Transport) -> None:
        self.transport = transport
        self.frame_max = FRAME_MAX
        self.bytes_sent = 0
        self.frame_writer = lambda *args: None


def _writer(transport: _Transport) -> ConnectionWriter:
    writer = ConnectionWriter(_AmqpConnection(transport))
    transport.writer = writer
    return writer


def test_the_writer_writes_the_buffers_in_order_under_its_lock() -> None:
    transport = _Transport()
    writer = _writer(transport)
    body = _body(2 * CHUNK + 5)
    parts = PublishFramer(1, FRAME_MAX).frames(body, PROPERTIES, "ex", "rk", False)
    assert isinstance(parts, list)

    assert writer.write(parts) is True

    assert b"".join(transport.written) == _pyamqp_publish(body, 1, FRAME_MAX)
    assert all(transport.lock_held)
    assert memoryview in transport.types
    assert writer._connection.bytes_sent == 1


def test_two_threads_writing_large_bodies_never_interleave() -> None:
    transport = _Transport()
    writer = _writer(transport)
    bodies = {channel: bytes([channel]) * (4 * CHUNK + 3) for channel in (1, 2)}
    start = threading.Barrier(2)

    def publish(channel: int) -> None:
        framer = PublishFramer(channel, FRAME_MAX)
        start.wait()
        for _ in range(5):
            parts = framer.frames(bodies[channel], PROPERTIES, "ex", "rk", False)
            assert isinstance(parts, list)
            writer.write(parts)

    threads = [threading.Thread(target=publish, args=(c,)) for c in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    one = {c: _pyamqp_publish(body, c, FRAME_MAX) for c, body in bodies.items()}
    stream = b"".join(transport.written)
    messages = []
    while stream:
        channel = stream[2]  # the method frame's channel (low byte)
        assert stream.startswith(one[channel])
        messages.append(channel)
        stream = stream[len(one[channel]) :]
    assert sorted(messages) == [1] * 5 + [2] * 5


def test_a_write_failing_half_way_stops_and_raises() -> None:
    transport = _Transport(fail_at=3, error=ConnectionResetError(104, "reset"))
    writer = _writer(transport)
    parts = PublishFramer(1, FRAME_MAX).frames(
        _body(4 * CHUNK), PROPERTIES, "ex", "rk", False
    )

    with pytest.raises(ConnectionResetError):
        writer.write(parts)

    assert len(transport.written) == 3
    assert transport.connected is False
    assert not writer.lock.locked()


# -- a publish whose write stalls half-way -----------------------------------------


class _Channel:
    channel_id = 1

    def __init__(self) -> None:
        self.lifecycle = ChannelLifecycle()

    def check(self) -> None:
        pass

    def mark_closed(self, reason: str) -> None:
        pass


class _Connection:
    blocked_reason = None
    next_poll = float("inf")

    def __init__(self) -> None:
        self.errors = ErrorContext("127.0.0.1:5672")
        self.stalled = 0

    def drop_stalled(self) -> None:
        self.stalled += 1

    def before_publish(self) -> None:
        pass


class _Raw:
    is_open = True

    def __init__(self, transport: _Transport) -> None:
        self.events: dict[str, set[Any]] = {"basic_return": set()}
        self.connection = _AmqpConnection(transport)


def test_a_large_publish_stalling_half_way_drops_the_connection() -> None:
    transport = _Transport(fail_at=4, error=TimeoutError("timed out"))
    conn = _Connection()
    publisher = Publisher(_Channel(), conn, _Raw(transport))  # type: ignore[arg-type]

    with pytest.raises(ConnectionLost):
        publisher.publish(_body(6 * CHUNK), PROPERTIES, "ex", "rk", False)

    assert conn.stalled == 1
    assert len(transport.written) == 4


def test_a_batch_mixing_small_and_large_bodies_keeps_the_large_ones_as_views() -> None:
    transport = _Transport()
    publisher = Publisher(_Channel(), _Connection(), _Raw(transport))  # type: ignore[arg-type]
    bodies = [b"a", _body(3 * CHUNK + 1), b"b", b"c", _body(CHUNK + 9), b"d"]

    publisher.publish_batch([(b, PROPERTIES) for b in bodies], "ex", "rk", False)

    expected = b"".join(_pyamqp_publish(body, 1, FRAME_MAX) for body in bodies)
    assert b"".join(transport.written) == expected
    assert (
        max(
            len(part)
            for part, kind in zip(transport.written, transport.types, strict=True)
            if kind is bytes
        )
        < CHUNK
    )


# -- receiving -----------------------------------------------------------------------


def _deliver_frames(body: bytes, method: Any = spec.Basic.Deliver) -> list[bytes]:
    """The frames' payloads, as a broker sends them (py-amqp's writer)."""
    sink = _Sink(FRAME_MAX)
    if method == spec.Basic.Deliver:
        args = dumps("sLbss", ("ctag", 7, False, "ex", "rk"))
    else:
        args = dumps("Lbssl", (7, False, "ex", "rk", 0))
    message = AmqpMessage(body, content_type="application/octet-stream")
    frame_writer(sink, sink)(1, 1, method, args, message)
    data, payloads, pos = bytes(sink.data), [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos + 3 : pos + 7], "big")
        payloads.append(data[pos : pos + 7 + size])
        pos += size + FRAME_OVERHEAD
    return payloads


def _feed(handle: Any, frames: list[bytes]) -> Iterator[bool]:
    """Hand each frame over as the socket reader does: a fresh payload each."""
    for frame in frames:
        yield handle((frame[0], 1, frame[7:]))  # the slice copies, as a read


class _RawChannel:
    is_closing = False

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        setattr(self, DELIVER_SINK, lambda *args: self.bodies.append(args[-1]))


class _InboundConnection:
    def __init__(self, channels: dict[int, Any]) -> None:
        self.channels = channels
        self.bytes_recv = 0


def test_a_delivered_body_of_many_frames_is_copied_once() -> None:
    raw = _RawChannel()
    handle = frame_handler(_InboundConnection({1: raw}), lambda *args: None)
    frames = _deliver_frames(b"\x02" * BIG)

    peak = _peak_while(lambda: list(_feed(handle, frames)))

    [body] = raw.bodies
    assert type(body) is bytes
    assert body == b"\x02" * BIG
    assert peak < BIG * 3 // 2


def test_a_pyamqp_message_of_many_frames_is_copied_once() -> None:
    # basic.get-ok (and basic.return) go to py-amqp's dispatch, their body
    # assembled the same way.
    got: list[Any] = []
    handle = frame_handler(_InboundConnection({}), lambda *args: got.append(args[-1]))
    frames = _deliver_frames(b"\x03" * BIG, spec.Basic.GetOk)

    peak = _peak_while(lambda: list(_feed(handle, frames)))

    [message] = got
    assert type(message.body) is bytes
    assert message.body == b"\x03" * BIG
    assert message.ready
    assert peak < BIG * 3 // 2


def test_a_huge_announced_body_allocates_only_what_arrives() -> None:
    # A hostile or broken peer announces 512 MiB and sends one frame: the
    # client must not allocate the announced size before the bytes come.
    raw = _RawChannel()
    handle = frame_handler(_InboundConnection({1: raw}), lambda *args: None)
    method, header, first, *_rest = _deliver_frames(b"\x05" * (3 * CHUNK))
    announced = (512 << 20).to_bytes(8, "big")
    header = header[:11] + announced + header[19:]

    peak = _peak_while(lambda: list(_feed(handle, [method, header, first])))

    assert raw.bodies == []
    assert peak < (1 << 20) + 4 * CHUNK
