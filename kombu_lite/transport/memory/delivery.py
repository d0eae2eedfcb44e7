"""Delivery bookkeeping of one memory channel: tags, unacked messages, prefetch.

:class:`Outstanding` is what RabbitMQ's channel process tracks per channel:
the next delivery tag, the unacknowledged deliveries in tag order, and the
``basic.qos`` limits.  The inbox entry
:class:`ConsumerCancelled` and the property helpers used on the publish and
delivery paths live here too.  Everything runs with the broker lock held.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, TypeAlias

from kombu_lite.transport._rabbitmq import MAX_TTL_MS
from kombu_lite.transport.memory.encoding import as_from_the_wire
from kombu_lite.transport.memory.replies import PRECONDITION_FAILED, channel_error

if TYPE_CHECKING:
    from kombu_lite.transport.base import BasicProperties
    from kombu_lite.transport.memory.queue import Consumer, MemoryQueue, QueuedMessage

__all__ = [
    "ConsumerCancelled",
    "Outstanding",
    "Unacked",
    "check_publish",
    "copy_headers",
    "delivery_properties",
    "fresh_properties",
]

#: One unacknowledged delivery: its queue, the message, and the consumer
#: (None for ``basic.get``).
Unacked: TypeAlias = "tuple[MemoryQueue, QueuedMessage, Consumer | None]"

_INTEGER_PREFIX = re.compile(r"[+-]?[0-9]+")


class ConsumerCancelled:
    """A broker-side consumer cancellation (its queue was deleted)."""

    __slots__ = ("consumer",)

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer


class Outstanding:
    """The unacknowledged deliveries and prefetch limits of one channel."""

    def __init__(self) -> None:
        #: tag -> delivery; tags only grow, so the dict stays sorted by tag.
        self.unacked: dict[int, Unacked] = {}
        self.last_tag = 0
        #: ``basic.qos`` for consumers created from now on (0 = no limit).
        self.prefetch = 0
        #: ``basic.qos(apply_global=True)``: shared by all consumers.
        self.global_prefetch = 0
        self._global_unacked = 0

    def next_tag(self) -> int:
        """Issue the next delivery tag (1, 2, ...)."""
        self.last_tag += 1
        return self.last_tag

    def add(
        self,
        tag: int,
        queue: MemoryQueue,
        message: QueuedMessage,
        consumer: Consumer | None,
    ) -> None:
        """Record a delivery that needs an acknowledgement."""
        self.unacked[tag] = (queue, message, consumer)
        queue.unacked += 1
        if consumer is not None:
            consumer.unacked += 1
            self._global_unacked += 1

    def can_deliver(self, consumer: Consumer) -> bool:
        """Return whether the prefetch limits allow one more delivery."""
        if consumer.no_ack:
            return True
        if consumer.prefetch and consumer.unacked >= consumer.prefetch:
            return False
        limit = self.global_prefetch
        return not (limit and self._global_unacked >= limit)

    def take(self, delivery_tag: int, *, multiple: bool, method: str) -> list[Unacked]:
        """Remove and return the deliveries an ack or reject settles.

        Raises:
            PreconditionFailed: ``delivery_tag`` is not outstanding (406), as
                RabbitMQ answers, also with ``multiple``; ``0`` with
                ``multiple`` means all.
        """
        unacked = self.unacked
        if multiple and delivery_tag == 0:
            return self.take_all()
        if delivery_tag not in unacked:
            raise channel_error(
                PRECONDITION_FAILED, f"unknown delivery tag {delivery_tag}", method
            )
        if not multiple:
            return [self._forget(delivery_tag)]
        tags = []
        for tag in unacked:
            if tag > delivery_tag:
                break
            tags.append(tag)
        return [self._forget(tag) for tag in tags]

    def take_all(self) -> list[Unacked]:
        """Remove and return every outstanding delivery, in tag order."""
        return [self._forget(tag) for tag in list(self.unacked)]

    def take_back(self, tag: int) -> bool:
        """Forget one delivery the client never received; False if not outstanding."""
        if tag not in self.unacked:
            return False
        self._forget(tag)
        return True

    def _forget(self, tag: int) -> Unacked:
        record = self.unacked.pop(tag)
        queue, _, consumer = record
        queue.unacked -= 1
        if consumer is not None:
            consumer.unacked -= 1
            self._global_unacked -= 1
        return record


def check_publish(properties: BasicProperties, userid: str) -> int | None:
    """Check a message's properties as RabbitMQ does; return its TTL in ms.

    The client-side checks (what AMQP cannot carry) are
    :func:`~kombu_lite.transport.memory.encoding.check_properties`.

    Raises:
        PreconditionFailed: ``user_id`` is not the connection's user,
            ``expiration`` is not an integer from 0 to ten years in
            milliseconds, or
            ``delivery_mode`` is neither 1 nor 2 (406, RabbitMQ's texts, in
            RabbitMQ's order).
    """
    user_id = properties.user_id
    if user_id is not None and user_id != userid:
        raise channel_error(
            PRECONDITION_FAILED,
            f"user_id property set to '{user_id}' but authenticated user was "
            f"'{userid}'",
            "basic.publish",
        )
    ttl = _parse_expiration(properties.expiration)
    mode = properties.delivery_mode
    if mode is not None and mode != 1 and mode != 2:
        raise channel_error(
            PRECONDITION_FAILED,
            f"invalid message: {{delivery_mode_unknown,{mode}}}",
            "basic.publish",
        )
    return ttl


def _parse_expiration(expiration: str | None) -> int | None:
    if expiration is None:
        return None
    match = _INTEGER_PREFIX.match(expiration)
    if match is None:
        reason = "no_integer"
    elif match.end() != len(expiration):
        reason = f'{{leftover_string,"{expiration[match.end() :]}"}}'
    elif (value := int(match.group())) < 0:
        reason = f"{{value_negative,{value}}}"
    elif value > MAX_TTL_MS:
        reason = f"{{value_too_large,{value}}}"
    else:
        return value
    raise channel_error(
        PRECONDITION_FAILED,
        f"invalid expiration '{expiration}': {reason}",
        "basic.publish",
    )


def fresh_properties(properties: BasicProperties) -> BasicProperties:
    """Return properties whose headers the receiver may change freely."""
    return copy_headers(properties) if properties.headers else properties


def delivery_properties(
    message: QueuedMessage, quorum: bool, *, always: bool = False
) -> BasicProperties:
    """Return the properties a delivery of ``message`` carries.

    A quorum queue adds ``x-delivery-count`` (the requeues so far) as
    RabbitMQ 3.10 does: to a ``basic.get`` always, to a consumer's delivery
    once the message was requeued (``always=False``).
    """
    properties = message.properties
    count = message.delivery_count
    if not quorum or not (count or always):
        return fresh_properties(properties)
    headers = as_from_the_wire(properties.headers or {})
    headers["x-delivery-count"] = count
    return dataclasses.replace(properties, headers=headers)


def copy_headers(properties: BasicProperties) -> BasicProperties:
    """Return ``properties`` with a copy of its headers as the wire returns it.

    See :func:`~kombu_lite.transport.memory.encoding.as_from_the_wire`.
    """
    headers = properties.headers or {}
    return dataclasses.replace(properties, headers=as_from_the_wire(headers))
