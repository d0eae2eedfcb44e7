"""Immutable snapshots of a memory broker's state, for users' tests.

Returned by :class:`~kombu_lite.transport.memory.Broker`'s inspection
methods (``queue_messages()``, ``queues()``, ``exchanges()``, ``bindings()``,
``statistics()``).  Each object is a copy: later broker activity never
changes it, and changing it (its dicts included) never changes the broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kombu_lite.transport.base import BasicProperties

__all__ = [
    "BindingInfo",
    "BrokerStatistics",
    "ExchangeInfo",
    "MessageInfo",
    "QueueInfo",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageInfo:
    """A ready message as it waits in a queue.

    Attributes:
        body: The message body.
        properties: Its content properties (``headers`` is a private copy).
        exchange: The exchange it was published to.
        routing_key: The routing key it was published with.
        redelivered: True if it was delivered before and requeued.
        priority: Its effective priority in a priority queue (0 otherwise).
    """

    body: bytes
    properties: BasicProperties
    exchange: str
    routing_key: str
    redelivered: bool
    priority: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueInfo:
    """One queue's settings and counts.

    Attributes:
        messages_ready: Messages waiting for a consumer or ``basic.get``.
        messages_unacknowledged: Messages delivered and not yet acknowledged.
        consumers: Active consumers.
    """

    name: str
    vhost: str
    durable: bool
    exclusive: bool
    auto_delete: bool
    arguments: Mapping[str, object]
    messages_ready: int
    messages_unacknowledged: int
    consumers: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeInfo:
    """One exchange's settings (``name=''`` is the default exchange)."""

    name: str
    vhost: str
    type: str
    durable: bool
    auto_delete: bool
    internal: bool
    arguments: Mapping[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class BindingInfo:
    """One explicit binding.

    The default exchange's implicit binding to every queue is not listed.
    """

    vhost: str
    source: str
    destination: str
    destination_type: Literal["queue", "exchange"]
    routing_key: str
    arguments: Mapping[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerStatistics:
    """Counts over the whole broker at one moment.

    The first group describes the current state; the second group counts
    events since the broker was created or last reset.

    Attributes:
        running: False between ``stop()`` and ``start()``.
        published: ``basic.publish`` calls that reached an exchange.
        unroutable: Published messages that matched no queue.
        returned: Unroutable ``mandatory`` messages returned to the publisher.
        delivered: Deliveries to consumers and ``basic.get`` answers.
        redelivered: Deliveries of messages that had been requeued.
        acknowledged: Deliveries acknowledged by the client.
        expired: Messages dropped because their TTL passed.
        dropped: Messages dropped by ``x-max-length``/``x-max-length-bytes``
            or rejected without requeue.
    """

    running: bool
    vhosts: int
    connections: int
    channels: int
    exchanges: int
    queues: int
    bindings: int
    consumers: int
    messages_ready: int
    messages_unacknowledged: int
    published: int
    unroutable: int
    returned: int
    delivered: int
    redelivered: int
    acknowledged: int
    expired: int
    dropped: int
