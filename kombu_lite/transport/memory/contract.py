"""What a memory channel needs from its connection: the one named seam.

:class:`~.connection.MemoryConnection` provides it; the channel modules
(channel.py, consuming.py) know the connection only as
:class:`ChannelConnection`, so neither imports connection.py.  Every method
here runs with the broker lock held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from kombu_lite.exceptions import OperationalError
    from kombu_lite.transport.memory.alarms import BlockedNotice
    from kombu_lite.transport.memory.broker import Broker
    from kombu_lite.transport.memory.queue import Consumer, QueuedMessage
    from kombu_lite.transport.memory.vhost import VirtualHost

__all__ = ["Action", "ChannelConnection", "InboxOwner"]

#: What ``drain_events`` runs once the broker lock is released:
#: ``function(argument)`` (a consumer callback and its delivery, a return
#: handler and the returned message...).
Action: TypeAlias = "tuple[Callable[[Any], object], object]"


class InboxOwner(Protocol):
    """A channel, as the connection's inbox knows it."""

    def action_for(self, payload: object) -> Action | None:
        """The callback to run for an inbox entry, or None if it is stale."""

    def delivery_action(
        self, consumer: Consumer, message: QueuedMessage, tag: int
    ) -> Action | None:
        """The callback to run for one delivery of a run, or None if stale."""


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
        """Put a return or cancel in the inbox for drain_events."""

    def push_delivery(
        self, channel: InboxOwner, consumer: Consumer, message: QueuedMessage, tag: int
    ) -> None:
        """Put one delivery to ``consumer`` in the inbox for drain_events."""

    def withdraw_channel(self, channel: InboxOwner) -> None:
        """Drop every inbox entry of ``channel`` (it closed)."""

    def withdraw_deliveries(
        self, consumer: Consumer
    ) -> list[tuple[QueuedMessage, int]]:
        """Take out the deliveries to ``consumer`` not drained yet, in order."""

    def break_locked(self, error: OperationalError, *, noticed: bool) -> None:
        """Break the connection with a connection-level error."""

    def forget_channel(self, channel_id: int) -> None:
        """The channel closed: its number is free again."""
