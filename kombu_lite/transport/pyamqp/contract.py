"""What a py-amqp channel needs from its connection: the one named seam.

:class:`~.connection.PyAmqpConnection` provides it; the channel modules
(channel.py, publishing.py, consuming.py) know the connection only as this,
so none of them imports connection.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from kombu_lite.transport.pyamqp._mapping import Closable, ErrorContext
    from kombu_lite.transport.pyamqp.reader import FrameReader

__all__ = ["ChannelConnection"]


class ChannelConnection(Protocol):
    """What a channel needs from its connection (PyAmqpConnection has it)."""

    #: Where errors happened, for their texts.
    errors: ErrorContext
    #: The broker's reason while it blocks publishing, else None.
    blocked_reason: str | None
    #: When :meth:`before_publish` looks at the socket again.
    next_poll: float
    #: Reads frames for every thread that waits; queues deliveries.
    reader: FrameReader

    @property
    def publish_lock(self) -> AbstractContextManager[Any]:
        """Held while a confirmed publish takes its tag and writes its frames."""

    @property
    def is_connected(self) -> bool: ...

    @property
    def generation(self) -> int: ...

    def before_publish(self) -> None: ...

    def blocked_during_confirm(
        self, since: float | None, delivery_tag: int
    ) -> tuple[float | None, float | None]: ...

    def drop_stalled(self) -> None:
        """A write stalled: the connection is closed and unusable."""

    def wait_for_event(
        self, timeout: float | None, channel: Closable | None, seen: int | None = None
    ) -> None: ...

    def confirm_arrived(self) -> None: ...
