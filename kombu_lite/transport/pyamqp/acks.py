"""``basic.ack`` and ``basic.reject``, written as whole frames in one call.

py-amqp sends an ack through its generic method writer: the arguments are
serialized by format string, the frame packed into a shared buffer, the
write counted, all in Python, and kombu_lite wrapped that in its own
per-call bookkeeping.  An ack is 21 fixed bytes: :class:`Settler` packs
them with one ``struct`` call and writes them through the connection's
:class:`~.framing.ConnectionWriter` (the lock every frame of the
connection is written under), so an ack costs one ``send``.

Guarantees are those of the method it replaces: when the call returns the
frame was handed to the socket (the broker does not answer acks); a
failed write raises kombu_lite's error (``ConnectionLost``...), and the
message is then still unacknowledged on the broker, which requeues it
with the channel.  No frame is written after the channel's ``close-ok``
(the channel's state is asked under the write lock).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, Final, NoReturn, Protocol

from kombu_lite.transport.channel_state import ChannelState
from kombu_lite.transport.pyamqp._mapping import Phase, map_amqp_errors
from kombu_lite.transport.pyamqp.framing import writer_for

if TYPE_CHECKING:
    from kombu_lite.transport.channel_state import ChannelLifecycle
    from kombu_lite.transport.pyamqp._mapping import Closable
    from kombu_lite.transport.pyamqp.contract import ChannelConnection
    from kombu_lite.transport.pyamqp.framing import ConnectionWriter

__all__ = ["Settler", "SettlingChannel"]

#: type 1 (method), channel, size 13, class 60 (basic), method, tag, bits;
#: then the frame-end octet.
_FRAME = struct.Struct(">BHIHHQB").pack
_ACK: Final = 80
_REJECT: Final = 90
_END: Final = b"\xce"
_OPEN: Final = ChannelState.OPEN
_CONFIRMING: Final = ChannelState.CONFIRMING


class SettlingChannel(Protocol):
    """What the settler needs of its channel."""

    lifecycle: ChannelLifecycle

    @property
    def channel_id(self) -> int: ...

    def check(self) -> None:
        """Raise why the channel cannot be used, if it cannot."""

    def mark_closed(self, reason: str) -> None:
        """Remember that the broker closed the channel."""


class Settler:
    """Writes one channel's acks and rejects.

    Args:
        channel: kombu_lite's channel (its state, its error).
        connection: The connection (errors, a stalled write).
        raw: py-amqp's channel.
    """

    __slots__ = ("_channel", "_channel_id", "_conn", "_life", "_raw", "_writer")

    def __init__(
        self, channel: SettlingChannel, connection: ChannelConnection, raw: Any
    ) -> None:
        self._channel = channel
        self._channel_id = channel.channel_id
        self._life = channel.lifecycle
        self._conn = connection
        self._raw = raw
        self._writer: ConnectionWriter | None = None

    def ack(self, delivery_tag: int, multiple: bool) -> None:
        """Send ``basic.ack``.

        Raises:
            ChannelClosed: the channel is closed (nothing was sent).
            ConnectionLost: the write failed.
        """
        self._send(_ACK, delivery_tag, multiple)

    def reject(self, delivery_tag: int, requeue: bool) -> None:
        """Send ``basic.reject``; raises as :meth:`ack`."""
        self._send(_REJECT, delivery_tag, requeue)

    def _send(self, method: int, delivery_tag: int, bit: bool) -> None:
        state = self._life.state
        if (state is not _OPEN and state is not _CONFIRMING) or not self._raw.is_open:
            self._channel.check()  # raises the reason
        frame = _FRAME(1, self._channel_id, 13, 60, method, delivery_tag, bit) + _END
        writer = self._writer
        if writer is None:
            writer = self._writer = writer_for(self._raw.connection)
        try:
            written = writer.write(frame, self._refuses_writes)
        except Exception as exc:  # noqa: BLE001 - every error is mapped
            self._write_failed(exc)
        if not written:
            self._channel.check()  # raises why

    def _refuses_writes(self) -> bool:
        # Asked under the write lock: True once the channel is closing, so
        # that no frame follows its close-ok (the broker would close the
        # connection).
        return self._life.reason is not None

    def _write_failed(self, exc: Exception) -> NoReturn:
        conn = self._conn
        if isinstance(exc, TimeoutError | BlockingIOError):
            # Part of the frame may have gone out: the connection is dropped.
            conn.drop_stalled()
        channel: Closable = self._channel
        with map_amqp_errors(conn.errors.during(Phase.WRITE), channel):
            raise exc
        raise AssertionError("unreachable")  # pragma: no cover
