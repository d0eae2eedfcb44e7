"""Connections to the memory broker, and the ``memory`` transport that opens them.

A :class:`MemoryConnection` plays the part of the socket: the broker pushes
deliveries, ``basic.return`` messages and consumer cancellations into the
connection's inbox as soon as they happen (RabbitMQ pushes eagerly too), and
:meth:`MemoryConnection.drain_events` takes them out one at a time and runs
the callback, outside the broker lock, in the draining thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from types import MappingProxyType
from typing import TYPE_CHECKING

from kombu_lite._version import __version__
from kombu_lite.exceptions import (
    ConfigurationError,
    ConnectionLost,
    OperationalError,
    ResourceError,
)
from kombu_lite.transport.idle import IdleHooks
from kombu_lite.transport.memory.alarms import BlockedNotice
from kombu_lite.transport.memory.broker import Broker, default_broker
from kombu_lite.transport.memory.channel import MemoryChannel

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from kombu_lite.transport.base import ConnectionParameters
    from kombu_lite.transport.memory.contract import Action, InboxOwner
    from kombu_lite.transport.memory.queue import Consumer, QueuedMessage
    from kombu_lite.transport.memory.vhost import VirtualHost

__all__ = ["DeliveryRun", "MemoryConnection", "MemoryTransport"]

_SERVER_PROPERTIES: Mapping[str, object] = MappingProxyType(
    {
        "product": "kombu_lite memory broker",
        "version": __version__,
        "platform": "Python",
        "capabilities": MappingProxyType(
            {
                "exchange_exchange_bindings": True,
                "consumer_cancel_notify": True,
                "per_consumer_qos": True,
                "publisher_confirms": True,
                "basic.nack": True,
            }
        ),
    }
)

_OPEN, _CLOSED, _BROKEN = "open", "closed", "broken"


class DeliveryRun:
    """Deliveries to one consumer, with consecutive tags, not drained yet.

    The connection's inbox holds one run per stretch of deliveries to the
    same consumer, not one object per delivery: a burst handed to a
    consumer costs a list slot per message.  The message at index ``i``
    has the tag ``first_tag + i``; ``position`` is the next one to drain
    (the drained slots are cleared, so the messages are not kept alive).
    A message's ``redelivered`` flag and delivery count are read when it
    is drained: until then it cannot be requeued without its delivery
    being withdrawn or going stale (its tag no longer unacknowledged).

    A delivery joins the last run of the inbox when it is for the same
    consumer, has the next tag, and draining has not started on that run
    (so that a consumer that keeps up never makes one run grow forever).
    """

    __slots__ = ("channel", "consumer", "first_tag", "messages", "position")

    def __init__(
        self, channel: InboxOwner, consumer: Consumer, message: QueuedMessage, tag: int
    ) -> None:
        self.channel = channel
        self.consumer = consumer
        self.messages: list[QueuedMessage | None] = [message]
        self.first_tag = tag
        self.position = 0

    def pending(self) -> Iterator[tuple[QueuedMessage, int]]:
        """The deliveries not drained yet, as ``(message, tag)`` pairs."""
        first = self.first_tag
        messages = self.messages
        for index in range(self.position, len(messages)):
            message = messages[index]
            assert message is not None  # drained slots come first
            yield message, first + index


#: RabbitMQ's default ``channel_max``: channels one connection may open.
DEFAULT_CHANNEL_MAX = 2047
#: The largest channel id AMQP can carry.
_CHANNEL_ID_MAX = 65535


class MemoryConnection:
    """One open connection to a :class:`~kombu_lite.transport.memory.Broker`.

    Implements :class:`kombu_lite.transport.base.WireConnection`.
    """

    def __init__(
        self,
        broker: Broker,
        vhost: VirtualHost,
        userid: str,
        notice: BlockedNotice | None = None,
        channel_max: int = DEFAULT_CHANNEL_MAX,
    ) -> None:
        self._broker = broker
        #: How many channels may be open at once (as negotiated with RabbitMQ).
        self.channel_max = channel_max
        #: The login user; RabbitMQ checks the ``user_id`` property against it.
        self.userid = userid
        self._lock = broker._lock
        # One condition per connection over the broker lock: a delivery wakes
        # only the connection it is for.
        self._cond = threading.Condition(self._lock)
        self._vhost = vhost
        #: Runs of deliveries, and (channel, payload) pairs (returns and
        #: cancels), waiting for drain_events.
        self._inbox: deque[DeliveryRun | tuple[InboxOwner, object]] = deque()
        #: Threads waiting in drain_events: a push wakes them, if any.
        self._waiting = 0
        self._channels: dict[int, MemoryChannel] = {}
        self._state = _OPEN
        self._error: OperationalError | None = None
        # A broken socket is only found out by using it: until a call has
        # raised ConnectionLost, is_connected stays True, as with py-amqp.
        self._noticed = False
        #: False once the connection was closed, or found broken.  A
        #: connection the broker broke (``Broker.stop()``,
        #: ``close_all_connections()``) reads as connected until a call on
        #: it raises ``ConnectionLost``, just as a socket connection does.
        #: An attribute, not a property: every publish and drain reads it.
        self.is_connected = True
        self._notice = notice or BlockedNotice(None, None, 60.0)
        #: Run by drain_events before it waits for a delivery.
        self.idle_hooks = IdleHooks()

    def __repr__(self) -> str:
        return f"<MemoryConnection vhost={self._vhost.name!r} {self._state}>"

    @property
    def heartbeat(self) -> float:
        """Always 0: an in-process connection cannot go silent."""
        return 0.0

    @property
    def server_properties(self) -> Mapping[str, object]:
        """What the memory broker says about itself."""
        return _SERVER_PROPERTIES

    @property
    def channel_count(self) -> int:
        """The number of open channels."""
        return len(self._channels)

    def channel(self) -> MemoryChannel:
        """Open a new channel (the lowest free channel number is used).

        Raises:
            ConnectionLost: the connection is closed or broken.
            ResourceError: ``channel_max`` channels are open already; the
                connection and its channels are unchanged.
        """
        with self._lock:
            self.check()
            if len(self._channels) >= self.channel_max:
                raise ResourceError(
                    f"all {self.channel_max} channel ids of the memory "
                    f"connection are in use (channel_max): close a channel "
                    f"before opening another; the connection and its channels "
                    f"stay open"
                )
            channel_id = 1
            while channel_id in self._channels:
                channel_id += 1
            channel = MemoryChannel(self, channel_id)
            self._channels[channel_id] = channel
            return channel

    def drain_events(self, timeout: float | None = None) -> None:
        """Wait for one delivery, return or cancel notification and dispatch it.

        The callback runs in this thread, after the broker lock is released,
        so it may call back into the broker.  ``timeout=None`` waits forever.

        Raises:
            TimeoutError: nothing arrived within ``timeout`` seconds.
            ConnectionLost: the connection is closed or was broken, also
                while waiting.
        """
        with self._lock:
            if self._state != _OPEN:
                self.check()
            action = self._next_action()
            if action is None and not self.idle_hooks:
                action = self._wait_for_action(timeout)
        if action is None:
            # About to wait: the end of a batch (batched acks are sent).
            self.idle_hooks.run()
            with self._lock:
                if self._state != _OPEN:
                    self.check()
                action = self._next_action() or self._wait_for_action(timeout)
        function, argument = action
        function(argument)

    def _wait_for_action(self, timeout: float | None) -> Action:
        # The inbox was empty: wait for a push (broker lock held).
        deadline = None if timeout is None else time.monotonic() + timeout
        self._waiting += 1
        try:
            while True:
                if deadline is None:
                    self._cond.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError(
                            f"no event from the memory broker within {timeout} s"
                        )
                    self._cond.wait(remaining)
                self.check()
                action = self._next_action()
                if action is not None:
                    return action
        finally:
            self._waiting -= 1

    def close(self) -> None:
        """Close the connection and its channels; never raises.

        Unacknowledged messages are requeued, consumers cancelled and
        exclusive queues deleted, as RabbitMQ does.
        """
        with self._lock:
            if self._state == _OPEN:
                self._state = _CLOSED
                self.is_connected = False
                self._shutdown()

    # -- what channels use (broker lock held): see contract.ChannelConnection --

    @property
    def lock(self) -> threading.Lock:
        """The broker lock."""
        return self._lock

    @property
    def vhost(self) -> VirtualHost:
        """The virtual host this connection is open to."""
        return self._vhost

    @property
    def broker(self) -> Broker:
        """The broker this connection is open to."""
        return self._broker

    @property
    def notice(self) -> BlockedNotice:
        """What to do when a broker alarm blocks a publish."""
        return self._notice

    def forget_channel(self, channel_id: int) -> None:
        """The channel closed: its number is free again."""
        self._channels.pop(channel_id, None)

    def check(self) -> None:
        """Raise ConnectionLost unless the connection is open."""
        if self._state != _OPEN:
            self._noticed = True
            self.is_connected = False
            raise self._lost()

    def _lost(self) -> OperationalError:
        error = self._error
        if error is None:
            return ConnectionLost("the connection is closed; open a new connection")
        return ConnectionLost(
            f"the memory broker closed the connection: {error.reply_text or error}; "
            "open a new connection",
            reply_code=error.reply_code,
            reply_text=error.reply_text,
        )

    def break_locked(self, error: OperationalError, *, noticed: bool) -> None:
        """Break the connection with ``error``, a connection-level reply.

        ``noticed`` says whether the client already got the error (it was the
        answer to its call) or will find out with its next call.
        """
        if self._state == _OPEN:
            self._state = _BROKEN
            self._error = error
            self._noticed = noticed
            self.is_connected = not noticed
            self._shutdown()

    def _shutdown(self) -> None:
        for channel in list(self._channels.values()):
            channel.drop_locked()
        vhost = self._vhost
        for queue in [queue for queue in vhost.queues.values() if queue.owner is self]:
            vhost.delete_queue(queue)
        self._inbox.clear()
        self._broker._unregister(self)
        self._cond.notify_all()

    def push(self, channel: InboxOwner, payload: object) -> None:
        """Put a return or cancel in the inbox for drain_events."""
        self._inbox.append((channel, payload))
        if self._waiting:
            self._cond.notify()

    def push_delivery(
        self, channel: InboxOwner, consumer: Consumer, message: QueuedMessage, tag: int
    ) -> None:
        """Put one delivery in the inbox: it extends the last run if it can."""
        inbox = self._inbox
        if inbox:
            last = inbox[-1]
            if (  # DeliveryRun.extends, inlined
                type(last) is DeliveryRun
                and last.consumer is consumer
                and last.position == 0
                and last.first_tag + len(last.messages) == tag
            ):
                last.messages.append(message)
            else:
                inbox.append(DeliveryRun(channel, consumer, message, tag))
        else:
            inbox.append(DeliveryRun(channel, consumer, message, tag))
        if self._waiting:
            self._cond.notify()

    def withdraw_channel(self, channel: InboxOwner) -> None:
        """Drop every inbox entry of ``channel`` (it closed)."""
        self._inbox = deque(
            entry
            for entry in self._inbox
            if (entry.channel if isinstance(entry, DeliveryRun) else entry[0])
            is not channel
        )

    def withdraw_deliveries(
        self, consumer: Consumer
    ) -> list[tuple[QueuedMessage, int]]:
        """Take out the deliveries to ``consumer`` not drained yet, in order."""
        taken: list[tuple[QueuedMessage, int]] = []
        kept: deque[DeliveryRun | tuple[InboxOwner, object]] = deque()
        for entry in self._inbox:
            if isinstance(entry, DeliveryRun) and entry.consumer is consumer:
                taken.extend(entry.pending())
            else:
                kept.append(entry)
        if taken:
            self._inbox = kept
        return taken

    def _next_action(self) -> Action | None:
        inbox = self._inbox
        while inbox:
            entry = inbox[0]
            if isinstance(entry, DeliveryRun):
                messages = entry.messages
                index = entry.position
                message = messages[index]
                messages[index] = None  # drained: not kept alive by the run
                if index + 1 == len(messages):
                    inbox.popleft()
                else:
                    entry.position = index + 1
                assert message is not None  # drained slots come before index
                action = entry.channel.delivery_action(
                    entry.consumer, message, entry.first_tag + index
                )
            else:
                inbox.popleft()
                channel, payload = entry
                action = channel.action_for(payload)
            if action is not None:
                return action
        return None


class MemoryTransport:
    """The ``memory`` transport: connections to an in-process :class:`Broker`.

    Args:
        broker: The broker to connect to; by default the process-wide
            :func:`default_broker`, which every ``memory://`` URL shares.

    Implements :class:`kombu_lite.transport.base.Transport`.  The hostname,
    port and SSL settings of the parameters are ignored; the virtual host
    must exist on the broker, and the credentials are checked only when the
    broker was given ``users``.
    """

    name = "memory"
    default_port = 0
    options: frozenset[str] = frozenset({"channel_max"})

    def __init__(self, broker: Broker | None = None) -> None:
        self._broker = broker if broker is not None else default_broker()

    @property
    def broker(self) -> Broker:
        """The broker this transport connects to."""
        return self._broker

    def connect(self, params: ConnectionParameters) -> MemoryConnection:
        """Open a connection to the broker.

        The ``channel_max`` transport option lowers the channels a
        connection may open below RabbitMQ's default, 2047; as with
        RabbitMQ, a higher value or 0 (no limit of the client's own) leaves
        2047.

        Raises:
            ConfigurationError: ``channel_max`` is not a number from 0 to
                65535.
            OperationalError: the broker is stopped ("connection refused").
            AccessRefused: the broker has users and the login is wrong.
            NotAllowed: the virtual host does not exist.
        """
        channel_max = _channel_max(params.transport_options)
        broker = self._broker
        with broker._lock:
            vhost = broker._open(params)
            notice = BlockedNotice(
                params.on_blocked,
                params.on_unblocked,
                params.blocked_connection_timeout,
            )
            connection = MemoryConnection(
                broker, vhost, params.userid, notice, channel_max
            )
            broker._register(connection)
            return connection


def _channel_max(options: Mapping[str, object]) -> int:
    """The ``channel_max`` option: RabbitMQ's default, and lower wins."""
    value = options.get("channel_max", DEFAULT_CHANNEL_MAX)
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not 0 <= value <= _CHANNEL_ID_MAX
    ):
        raise ConfigurationError(
            f"transport option 'channel_max' must be a number from 0 to "
            f"{_CHANNEL_ID_MAX}, not {value!r}"
        )
    # As with RabbitMQ, the lower non-zero value of the two sides wins.
    return min(value or _CHANNEL_ID_MAX, DEFAULT_CHANNEL_MAX)
