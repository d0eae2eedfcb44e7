"""inbound.py's frame handler: deliveries read here, everything else as py-amqp.

The frames are built with py-amqp's own writer, so what the handler reads
is byte for byte what a broker sends.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from amqp import spec
from amqp.basic_message import Message as AmqpMessage
from amqp.exceptions import UnexpectedFrame
from amqp.method_framing import frame_writer
from amqp.serialization import dumps

from kombu_lite.transport.base import BasicProperties
from kombu_lite.transport.pyamqp import inbound
from kombu_lite.transport.pyamqp.inbound import (
    DELIVER_SINK,
    decode_properties,
    frame_handler,
)


class _Sink:
    """Collects the frames py-amqp's writer produces."""

    def __init__(self, frame_max: int = 131072) -> None:
        self.frame_max = frame_max
        self.bytes_sent = 0
        self.data = b""

    def write(self, data: bytes | memoryview) -> None:
        self.data += bytes(data)


def _frames(data: bytes) -> list[tuple[int, int, bytes]]:
    frames = []
    pos = 0
    while pos < len(data):
        kind = data[pos]
        channel = int.from_bytes(data[pos + 1 : pos + 3], "big")
        size = int.from_bytes(data[pos + 3 : pos + 7], "big")
        frames.append((kind, channel, data[pos + 7 : pos + 7 + size]))
        pos += size + 8
    return frames


def _deliver_frames(
    body: bytes,
    channel: int = 1,
    frame_max: int = 131072,
    **properties: Any,
) -> list[tuple[int, int, bytes]]:
    sink = _Sink(frame_max)
    args = dumps("sLbss", ("ctag-1", 7, True, "the-exchange", "the.key"))
    frame_writer(sink, sink)(
        1, channel, spec.Basic.Deliver, args, AmqpMessage(body, **properties)
    )
    return _frames(sink.data)


class _RawChannel:
    def __init__(self, closing: bool = False) -> None:
        self.is_closing = closing
        self.delivered: list[tuple[Any, ...]] = []
        setattr(self, DELIVER_SINK, lambda *args: self.delivered.append(args))


class _Connection:
    def __init__(self, channels: dict[int, Any] | None) -> None:
        self.channels = channels
        self.bytes_recv = 0


def _handler(
    channels: dict[int, Any] | None,
) -> tuple[Any, _Connection, list[tuple[Any, ...]]]:
    conn = _Connection(channels)
    dispatched: list[tuple[Any, ...]] = []
    handle = frame_handler(conn, lambda *args: dispatched.append(args))
    return handle, conn, dispatched


def test_a_delivery_reaches_the_channel_sink_with_its_arguments() -> None:
    raw = _RawChannel()
    handle, conn, dispatched = _handler({1: raw})

    frames = _deliver_frames(b'{"a": 1}', content_type="application/json")
    completed = [handle(frame) for frame in frames]

    assert completed == [False, False, True]
    assert conn.bytes_recv == 3
    assert dispatched == []
    [(ctag, dtag, redelivered, exchange, key, props, body)] = raw.delivered
    assert (ctag, dtag, redelivered, exchange, key, body) == (
        "ctag-1",
        7,
        True,
        "the-exchange",
        "the.key",
        b'{"a": 1}',
    )
    assert props == BasicProperties(content_type="application/json")


def test_a_malformed_property_list_raises_in_the_reading_thread() -> None:
    handle, _conn, _ = _handler({1: _RawChannel()})
    method, header, _body = _deliver_frames(b"x", content_type="a/b")
    handle(method)
    kind, channel, payload = header

    with pytest.raises(struct.error):
        handle((kind, channel, payload[:14]))  # the string cut short


def test_a_body_split_over_several_frames_is_joined() -> None:
    raw = _RawChannel()
    handle, _conn, _ = _handler({1: raw})
    body = bytes(range(256)) * 40  # 10240 bytes, frame_max 4096

    frames = _deliver_frames(body, frame_max=4096)
    assert len(frames) > 3
    results = [handle(frame) for frame in frames]

    assert results[-1] is True
    assert not any(results[:-1])
    assert raw.delivered[0][-1] == body


def test_an_empty_body_completes_with_the_content_header() -> None:
    raw = _RawChannel()
    handle, _conn, _ = _handler({1: raw})

    frames = _deliver_frames(b"")
    assert len(frames) == 2
    assert [handle(frame) for frame in frames] == [False, True]
    assert raw.delivered[0][-1] == b""


def test_a_delivery_for_a_closing_channel_goes_through_py_amqp() -> None:
    # py-amqp's dispatch drops it (only the close handshake is let through).
    raw = _RawChannel(closing=True)
    handle, _conn, dispatched = _handler({1: raw})

    for frame in _deliver_frames(b"x"):
        handle(frame)

    assert raw.delivered == []
    [(channel, method, _args, content)] = dispatched
    assert (channel, method, content.body) == (1, spec.Basic.Deliver, b"x")


@pytest.mark.parametrize("channels", [None, {}, {1: object()}])
def test_a_delivery_without_a_sink_goes_through_py_amqp(
    channels: dict[int, Any] | None,
) -> None:
    handle, _conn, dispatched = _handler(channels)

    for frame in _deliver_frames(b"body", content_type="text/plain"):
        handle(frame)

    [(_channel, method, _args, content)] = dispatched
    assert method == spec.Basic.Deliver
    assert content.body == b"body"
    assert content.properties == {"content_type": "text/plain"}


def test_a_content_method_body_in_several_frames_goes_through_py_amqp() -> None:
    handle, _conn, dispatched = _handler({})
    body = b"r" * 9000

    results = [handle(frame) for frame in _deliver_frames(body, frame_max=4096)]

    assert results[-1] is True
    assert dispatched[0][3].body == body


def test_a_bodyless_content_method_goes_through_py_amqp() -> None:
    handle, _conn, dispatched = _handler({})

    assert [handle(frame) for frame in _deliver_frames(b"")] == [False, True]
    assert dispatched[0][1] == spec.Basic.Deliver


def test_other_methods_are_dispatched_at_once() -> None:
    handle, _conn, dispatched = _handler({1: _RawChannel()})
    payload = b"\x00\x14\x00\x29"  # channel.close-ok

    assert handle((1, 1, payload)) is True
    assert dispatched == [(1, spec.Channel.CloseOk, payload, None)]


def test_a_heartbeat_is_counted_and_completes_nothing() -> None:
    handle, conn, dispatched = _handler({})

    assert handle((8, 0, b"")) is False
    assert conn.bytes_recv == 1
    assert dispatched == []


def test_a_frame_of_the_wrong_type_is_refused() -> None:
    raw = _RawChannel()
    handle, _conn, _ = _handler({1: raw})
    method, _header, body = _deliver_frames(b"x")
    handle(method)

    with pytest.raises(UnexpectedFrame, match="Received frame 3 while expecting"):
        handle(body)


def test_properties_without_headers_are_decoded_once_and_shared() -> None:
    raw = _deliver_frames(b"x", content_type="a/b", delivery_mode=2)[1][2][12:]

    first = decode_properties(raw)

    assert first == BasicProperties(content_type="a/b", delivery_mode=2)
    assert decode_properties(bytes(raw)) is first


def test_properties_with_headers_get_a_table_of_their_own() -> None:
    raw = _deliver_frames(b"x", application_headers={"k": 1})[1][2][12:]

    first = decode_properties(raw)
    second = decode_properties(raw)

    assert first.headers == {"k": 1}
    assert second == first
    assert second.headers is not first.headers


def test_the_property_cache_starts_over_when_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inbound, "_property_cache", {})
    monkeypatch.setattr(inbound, "_CACHE_LIMIT", 2)
    lists = [_deliver_frames(b"x", message_id=f"m{n}")[1][2][12:] for n in range(3)]

    decoded = [decode_properties(raw) for raw in lists]

    assert [props.message_id for props in decoded] == ["m0", "m1", "m2"]
    assert list(inbound._property_cache) == [lists[2]]
