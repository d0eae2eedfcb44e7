"""What a memory channel needs from its connection: the one named seam.

:class:`~.connection.MemoryConnection` provides it; the channel modules
(channel.py, consuming.py) know the connection only as
:class:`ChannelConnection`, so neither imports connection.py.  Every method
here runs with the broker lock held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from kombu_lite.exceptions import OperationalError
    from kombu_lite.transport.memory.alarms import BlockedNotice
    from kombu_lite.transport.memory.broker import Broker
    from kombu_lite.transport.memory.vhost import VirtualHost

__all__ = ["ChannelConnection", "InboxOwner"]


class InboxOwner(Protocol):
    """A channel, as the connection's inbox knows it."""

    def action_for(self, payload: object) -> Callable[[], None] | None:
        """The callback to run for an inbox entry, or None if it is stale."""


class ChannelConnection(Protocol):
    """What a channel needs from its connection (MemoryConnection has it)."""

    #: The login user; RabbitMQ checks the ``user_id`` property against it.
    userid: str

    @property
    def lock(self) -> AbstractContextManager[Any]:
        """The broker lock."""

    @property
    def vhost(self) -> VirtualHost: ...

    @property
    def broker(self) -> Broker: ...

    @property
    def notice(self) -> BlockedNotice:
        """What to do when a broker alarm blocks a publish."""

    @property
    def is_connected(self) -> bool: ...

    def check(self) -> None:
        """Raise ConnectionLost unless the connection is open."""

    def push(self, channel: InboxOwner, payload: object) -> None:
        """Put a delivery, return or cancel in the inbox for drain_events."""

    def withdraw(self, matches: Callable[[Any, object], bool]) -> list[object]:
        """Take the inbox entries ``matches`` selects out; return them."""

    def break_locked(self, error: OperationalError, *, noticed: bool) -> None:
        """Break the connection with a connection-level error."""

    def forget_channel(self, channel_id: int) -> None:
        """The channel closed: its number is free again."""
