"""Publishing on one py-amqp channel: frames straight to the socket, confirms awaited.

Publish frames are encoded once per message (framing.py) and written in one
write under the connection's frame lock (a body of several frames: its
parts one after the other under one hold of the lock, the body never
copied), bypassing py-amqp's
``basic_publish``: that first reads from the socket (to notice
``connection.blocked``) outside any lock, racing the thread that reads
confirms, and its frame writer re-encodes what framing.py caches.  With
confirms on, the tags and the returns are kept by a
:class:`~.confirms.ConfirmBook`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from kombu_lite.exceptions import ConfirmTimeout, MessageNacked
from kombu_lite.transport.base import ReturnedMessage
from kombu_lite.transport.channel_state import ChannelState
from kombu_lite.transport.pyamqp._mapping import Phase, map_amqp_errors
from kombu_lite.transport.pyamqp._messages import body_of, properties_from
from kombu_lite.transport.pyamqp.confirms import ConfirmBook, ReturnKey
from kombu_lite.transport.pyamqp.framing import (
    BODY_SIZE,
    FRAME_END,
    FRAME_SIZE,
    ConnectionWriter,
    Frames,
    PublishFramer,
    writer_for,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from kombu_lite.transport.base import BasicProperties
    from kombu_lite.transport.channel_state import ChannelLifecycle
    from kombu_lite.transport.pyamqp.contract import ChannelConnection

__all__ = ["Publisher", "PublishingChannel"]

_OPEN, _CONFIRMING = ChannelState.OPEN, ChannelState.CONFIRMING


class PublishingChannel(Protocol):
    """What publishing needs from its channel."""

    @property
    def channel_id(self) -> int: ...

    @property
    def lifecycle(self) -> ChannelLifecycle: ...

    def check(self) -> None:
        """Raise why the channel cannot be used, if it cannot."""

    def mark_closed(self, reason: str) -> None: ...


class Publisher:
    """The publishing side of one channel (a part of :class:`PyAmqpChannel`)."""

    # Set up by the first publish (see _start_framing).
    _framer: PublishFramer | None = None
    _writer: ConnectionWriter

    def __init__(
        self, channel: PublishingChannel, connection: ChannelConnection, raw: Any
    ) -> None:
        self._channel = channel
        self._life = channel.lifecycle
        self._conn = connection
        self._raw = raw
        self.book = ConfirmBook()
        self.on_return: Callable[[ReturnedMessage], None] | None = None
        #: Messages sent without confirms since the last call that heard back
        #: from the broker: reported if the broker closes the channel.
        self.unconfirmed = 0
        raw.events["basic_return"].add(self._dispatch_return)

    def publish(
        self,
        body: bytes,
        properties: BasicProperties,
        exchange: str,
        routing_key: str,
        mandatory: bool,
    ) -> int:
        """See :meth:`PyAmqpChannel.basic_publish`."""
        # The hot path: the state read once, no property calls.
        state = self._life.state
        if (state is not _OPEN and state is not _CONFIRMING) or not self._raw.is_open:
            self._channel.check()  # raises the reason
        conn = self._conn
        # Must stay first: waits while the broker blocks publishing (see
        # PyAmqpConnection.before_publish), so nothing is written then.
        # Called only when it has something to do: blocked, or time to
        # look at the socket (the same test it starts with).
        if conn.blocked_reason is not None or time.monotonic() >= conn.next_poll:
            conn.before_publish()
        framer = self._framer or self._start_framing()
        data = framer.frames(body, properties, exchange, routing_key, mandatory)
        if state is not _CONFIRMING:
            # _send() inlined: an unconfirmed publish is the common one.
            try:
                written = self._writer.write(data, self._refuses_writes)
            except Exception as exc:  # noqa: BLE001 - every error is mapped
                self._write_failed(exc)
            if not written:
                self._channel.check()  # raises why
            self.unconfirmed += 1
            return 0
        # The tag and the write must happen together: the broker numbers
        # messages in the order their frames arrive on the channel.
        with conn.publish_lock:
            tag = self.book.take_tag(
                (exchange, routing_key, _as_bytes(body)) if mandatory else None
            )
            self._send(data)
        return tag

    def publish_batch(
        self,
        messages: Sequence[tuple[bytes, BasicProperties]],
        exchange: str,
        routing_key: str,
        mandatory: bool,
    ) -> list[int]:
        """See :meth:`PyAmqpChannel.basic_publish_batch`."""
        self._channel.check()
        self._conn.before_publish()
        framer = self._framer or self._start_framing()
        frames = framer.frames
        data = _joined(
            [
                frames(body, properties, exchange, routing_key, mandatory)
                for body, properties in messages
            ]
        )
        count = len(messages)
        if not self._life.confirming:
            self._send(data)
            self.unconfirmed += count
            return [0] * count
        keys: list[ReturnKey] | None = None
        if mandatory:
            keys = [(exchange, routing_key, _as_bytes(body)) for body, _ in messages]
        with self._conn.publish_lock:
            tags = self.book.take_tags(keys, count)
            self._send(data)
        return tags

    def prepare(
        self,
        properties: BasicProperties,
        exchange: str,
        routing_key: str,
        mandatory: bool,
    ) -> Callable[[bytes], int]:
        """See :meth:`PyAmqpChannel.prepare_publish`.

        The frames before the body size (method frame, content header
        start) and between it and the body are encoded here, once; each
        call then joins them with the body and writes them as
        :meth:`publish` would.  Whatever the prepared path does not cover
        (confirms on, a closed channel, a blocked connection, an empty or
        multi-frame body) goes through :meth:`publish` itself.

        Raises:
            EncodeError: a name or property does not fit its AMQP type.
        """
        framer = self._framer or self._start_framing()
        start, end = framer.header_parts(properties)
        head = framer.method_frame(exchange, routing_key, mandatory) + start
        chunk = framer.chunk
        limit = chunk if chunk is not None else 1 << 62
        life = self._life
        raw = self._raw
        conn = self._conn
        write = self._writer.write
        refuses = self._refuses_writes
        publish = self.publish
        monotonic = time.monotonic
        body_size = BODY_SIZE
        frame_size = FRAME_SIZE
        join = b"".join

        def prepared(body: bytes) -> int:
            size = len(body)
            if (
                life.state is not _OPEN
                or not 0 < size <= limit
                or conn.blocked_reason is not None
                or not raw.is_open
            ):
                return publish(body, properties, exchange, routing_key, mandatory)
            if monotonic() >= conn.next_poll:
                # As in publish(): the look at the socket comes first.
                conn.before_publish()
            data = join((head, body_size(size), end, frame_size(size), body, FRAME_END))
            try:
                written = write(data, refuses)
            except Exception as exc:  # noqa: BLE001 - every error is mapped
                self._write_failed(exc)
            if not written:
                self._channel.check()  # raises why
            self.unconfirmed += 1
            return 0

        return prepared

    def _start_framing(self) -> PublishFramer:
        writer = writer_for(self._raw.connection)
        self._writer = writer
        framer = PublishFramer(self._channel.channel_id, writer.frame_max)
        self._framer = framer
        return framer

    def _send(self, data: bytes | Frames) -> None:
        # In one write under the connection's frame lock.
        try:
            written = self._writer.write(data, self._refuses_writes)
        except Exception as exc:  # noqa: BLE001 - every error is mapped
            self._write_failed(exc)
        if not written:
            self._channel.check()  # raises why

    def _refuses_writes(self) -> bool:
        # Asked under the write lock.  True once a channel.close was read,
        # by this thread's pre-publish poll or by another thread (see
        # PyAmqpChannel._on_broker_close): a frame after the close-ok would
        # be dropped and make the broker close the whole connection.
        return self._life.reason is not None

    def _write_failed(self, exc: Exception) -> NoReturn:
        """Raise kombu_lite's error for a failed write of publish frames."""
        conn = self._conn
        if isinstance(exc, TimeoutError | BlockingIOError):
            # Part of a frame may have gone out: the connection is dropped.
            conn.drop_stalled()
        context = conn.errors.during(Phase.WRITE, blocked_reason=conn.blocked_reason)
        with map_amqp_errors(context, self._channel):
            raise exc

    # -- confirms ----------------------------------------------------------------------

    def select(self) -> None:
        """Listen to the broker's acks and nacks (after ``confirm.select``)."""
        self._raw.events["basic_ack"].add(self._on_ack)
        self._raw.events["basic_nack"].add(self._on_nack)

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self.book.settle(int(delivery_tag), bool(multiple), acked=True)
        self._conn.confirm_arrived()

    def _on_nack(self, delivery_tag: int, multiple: bool, *_rest: object) -> None:
        self.book.settle(int(delivery_tag), bool(multiple), acked=False)
        self._conn.confirm_arrived()

    def wait_for_confirm(
        self, delivery_tag: int, timeout: float | None
    ) -> ReturnedMessage | None:
        """See :meth:`PyAmqpChannel.wait_for_confirm`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        outcomes = self.book.outcomes
        blocked_since: float | None = None
        conn = self._conn
        channel = self._channel
        while True:
            # Read before looking at outcomes: a confirm another thread
            # reads after the look then ends the wait at once.
            seen = conn.generation
            if delivery_tag in outcomes:
                break
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise ConfirmTimeout(
                    f"no publisher confirm for message {delivery_tag} on channel "
                    f"{channel.channel_id} within {timeout}s: the outcome is "
                    f"unknown (the broker may or may not have enqueued it)",
                    delivery_tag=delivery_tag,
                )
            # A blocked broker reads nothing: the wait is bounded by
            # blocked_connection_timeout as well.
            blocked_since, blocked_left = conn.blocked_during_confirm(
                blocked_since, delivery_tag
            )
            if blocked_left is not None and (
                remaining is None or blocked_left < remaining
            ):
                remaining = blocked_left
            channel.check()
            conn.wait_for_event(remaining, channel, seen)
        acked, returned = self.book.outcome(delivery_tag)
        if not acked:
            raise MessageNacked(
                f"the broker refused message {delivery_tag} on channel "
                f"{channel.channel_id} (basic.nack): it was not enqueued",
                delivery_tag=delivery_tag,
            )
        return returned

    # -- returns -----------------------------------------------------------------------

    def _dispatch_return(
        self, exc: Any, exchange: str, routing_key: str, message: Any
    ) -> None:
        returned = ReturnedMessage(
            reply_code=int(getattr(exc, "reply_code", 312) or 312),
            reply_text=str(getattr(exc, "reply_text", "NO_ROUTE") or "NO_ROUTE"),
            exchange=exchange,
            routing_key=routing_key,
            body=body_of(message),
            properties=properties_from(message.properties),
        )
        if self._life.confirming:
            # Matched to its publish when the publish's confirm settles it.
            self.book.returned((exchange, routing_key, returned.body), returned)
        handler = self.on_return
        if handler is not None:
            handler(returned)


def _joined(encoded: list[bytes | Frames]) -> bytes | Frames:
    """The messages of a batch as one write.

    One ``bytes`` object when every body fits in one frame; else a list of
    buffers in which a large body stays a view (runs of small messages
    between large ones are joined).
    """
    if not any(isinstance(item, list) for item in encoded):
        return b"".join(encoded)  # type: ignore[arg-type]  # all bytes
    parts: Frames = []
    run: list[bytes] = []
    for item in encoded:
        if not isinstance(item, list):
            run.append(item)
            continue
        if run:
            parts.append(b"".join(run))
            run = []
        parts += item
    if run:
        parts.append(b"".join(run))
    return parts


def _as_bytes(body: bytes) -> bytes:
    """``body`` as a hashable key, without a copy when it is bytes already."""
    return body if type(body) is bytes else bytes(body)
