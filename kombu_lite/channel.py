"""Channel: one AMQP channel of a :class:`~kombu_lite.Connection`.

What ``Connection.channel()`` and ``Connection.default_channel`` hand out.
It pairs the transport's wire channel with the connection that owns it, so a
:class:`~kombu_lite.Producer` or an entity bound to a channel can reach the
connection's declare cache and retry machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from kombu_lite.connection import Connection
    from kombu_lite.transport.base import WireChannel

__all__ = ["Channel"]


class Channel:
    """An open AMQP channel; use it as a context manager to close it.

    Attributes:
        connection: The :class:`~kombu_lite.Connection` it belongs to.
        wire: The transport-level channel that talks to the broker.
    """

    __slots__ = ("__weakref__", "confirming", "connection", "wire")

    def __init__(self, connection: Connection, wire: WireChannel) -> None:
        self.connection = connection
        self.wire = wire
        #: True once publisher confirms are on for this channel.
        self.confirming = False

    def enable_confirms(self) -> None:
        """Turn on publisher confirms (once; later calls do nothing)."""
        if not self.confirming:
            self.wire.confirm_select()
            self.confirming = True

    @property
    def channel_id(self) -> int:
        """The channel number on its connection."""
        return self.wire.channel_id

    @property
    def is_open(self) -> bool:
        """False once either side closed the channel."""
        return self.wire.is_open

    def close(self) -> None:
        """Close the channel; closing twice is harmless."""
        self.wire.close()

    release = close

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<Channel {self.channel_id} ({state}) of {self.connection.as_uri()}>"
