"""Queue and consumer arguments of the memory broker, validated as RabbitMQ 3.10 does.

:func:`queue_limits` turns a ``queue.declare``'s ``x-`` arguments into the
:class:`QueueLimits` a :class:`~.queue.MemoryQueue` enforces, refusing what
RabbitMQ refuses with RabbitMQ's 406 texts (checked against 3.10.8):

* integers (``x-message-ttl``, ``x-expires``, ``x-max-length``...) of the
  wrong type or range;
* an argument the queue type does not support (``x-max-priority`` on a
  quorum queue, ``x-delivery-limit`` on a classic one: ``invalid arg '...'
  for queue '...' in vhost '...' of queue type rabbit_quorum_queue``);
* a quorum queue that is auto-delete, exclusive or not durable
  (``invalid property 'non-durable' for queue ...``);
* an ``x-single-active-consumer`` that is not a boolean.

Streams (``x-queue-type: stream``) are refused: the memory broker does not
emulate them (no offsets, no ``x-stream-offset``), and says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kombu_lite.transport._rabbitmq import MAX_TTL_MS
from kombu_lite.transport.memory.replies import (
    PRECONDITION_FAILED,
    amqp_type_name,
    channel_error,
    describe_value,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "EQUIVALENCE_ARGUMENTS",
    "QueueLimits",
    "consumer_priority",
    "queue_limits",
]

#: Queue arguments RabbitMQ compares when a queue is declared again; any other
#: argument may differ between declarations.
EQUIVALENCE_ARGUMENTS: tuple[str, ...] = (
    "x-expires",
    "x-message-ttl",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-max-length",
    "x-max-length-bytes",
    "x-max-in-memory-length",
    "x-max-in-memory-bytes",
    "x-max-priority",
    "x-overflow",
    "x-queue-mode",
    "x-single-active-consumer",
    "x-queue-type",
    "x-delivery-limit",
    "x-queue-master-locator",
    "x-queue-leader-locator",
)

_OVERFLOW_MODES = frozenset({"drop-head", "reject-publish", "reject-publish-dlx"})

#: Arguments of other queue types that RabbitMQ 3.10 refuses on each type.
_REFUSED: dict[str, tuple[str, ...]] = {
    "classic": (
        "x-delivery-limit",
        "x-dead-letter-strategy",
        "x-quorum-initial-group-size",
        "x-max-age",
        "x-stream-max-segment-size-bytes",
        "x-initial-cluster-size",
    ),
    "quorum": (
        "x-max-priority",
        "x-queue-mode",
        "x-queue-master-locator",
        "x-max-age",
        "x-stream-max-segment-size-bytes",
        "x-initial-cluster-size",
    ),
}
_TYPE_MODULES = {"classic": "rabbit_classic_queue", "quorum": "rabbit_quorum_queue"}


class QueueLimits:
    """The queue arguments the memory broker enforces, validated."""

    __slots__ = (
        "dead_letter_exchange",
        "dead_letter_routing_key",
        "delivery_limit",
        "expires",
        "max_length",
        "max_length_bytes",
        "max_priority",
        "message_ttl",
        "overflow",
        "quorum",
        "single_active_consumer",
    )

    def __init__(self) -> None:
        self.message_ttl: int | None = None
        self.expires: int | None = None
        self.max_length: int | None = None
        self.max_length_bytes: int | None = None
        self.max_priority: int | None = None
        self.overflow = "drop-head"
        self.dead_letter_exchange: str | None = None
        self.dead_letter_routing_key: str | None = None
        self.quorum = False
        self.delivery_limit: int | None = None
        self.single_active_consumer = False

    @property
    def reject_new(self) -> bool:
        """Whether a full queue refuses new messages (``reject-publish*``)."""
        return self.overflow != "drop-head"


def queue_limits(
    queue: str,
    vhost: str,
    arguments: Mapping[str, object],
    *,
    durable: bool = True,
    exclusive: bool = False,
    auto_delete: bool = False,
) -> QueueLimits:
    """Validate queue ``arguments`` the way RabbitMQ does and return the limits.

    Raises:
        PreconditionFailed: an argument has the wrong type or value, or does
            not fit the queue type (406); nothing was declared.
    """
    limits = QueueLimits()
    where = f"for queue '{queue}' in vhost '{vhost}'"

    def invalid(name: str, reason: str) -> Exception:
        return channel_error(
            PRECONDITION_FAILED,
            f"invalid arg '{name}' {where}: {reason}",
            "queue.declare",
        )

    def integer(
        name: str, minimum: int, maximum: int | None = None, *, ttl: bool = False
    ) -> int | None:
        if name not in arguments:
            return None
        value = arguments[name]
        if not isinstance(value, int) or isinstance(value, bool):
            raise invalid(name, f'"expected integer, got {amqp_type_name(value)}"')
        if value < minimum:
            raise invalid(
                name, f"{{value_{'zero' if value == 0 else 'negative'},{value}}}"
            )
        if maximum is not None and value > maximum:
            raise invalid(name, f"{{max_value_exceeded,{value}}}")
        if ttl and value > MAX_TTL_MS:
            raise invalid(name, f"{{value_too_large,{value}}}")
        return value

    queue_type = arguments.get("x-queue-type", "classic")
    if isinstance(queue_type, bytes):
        queue_type = queue_type.decode("utf-8", "replace")
    if queue_type == "stream":
        raise invalid(
            "x-queue-type",
            "'stream' is not supported by the memory broker (streams, "
            "x-stream-offset and offsets are not emulated: test them on RabbitMQ)",
        )
    if queue_type not in _REFUSED:
        raise invalid(
            "x-queue-type", f"\"unsupported queue type '{describe_value(queue_type)}'\""
        )
    assert isinstance(queue_type, str)
    for name in _REFUSED[queue_type]:
        if name in arguments:
            raise channel_error(
                PRECONDITION_FAILED,
                f"invalid arg '{name}' {where} of queue type "
                f"{_TYPE_MODULES[queue_type]}",
                "queue.declare",
            )
    limits.quorum = queue_type == "quorum"
    limits.expires = integer("x-expires", 1, ttl=True)
    limits.message_ttl = integer("x-message-ttl", 0, ttl=True)
    limits.max_length = integer("x-max-length", 0)
    limits.max_length_bytes = integer("x-max-length-bytes", 0)
    limits.max_priority = integer("x-max-priority", 0, 255)
    overflow = arguments.get("x-overflow", "drop-head")
    if overflow not in _OVERFLOW_MODES:
        raise invalid("x-overflow", "invalid_overflow")
    assert isinstance(overflow, str)
    limits.overflow = overflow
    for name in ("x-dead-letter-exchange", "x-dead-letter-routing-key"):
        value = arguments.get(name)
        if value is None:
            continue
        if not isinstance(value, str | bytes):
            raise channel_error(
                PRECONDITION_FAILED,
                f"invalid type '{amqp_type_name(value)}' for arg '{name}' "
                f"in queue '{queue}' in vhost '{vhost}'",
                "queue.declare",
            )
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if name == "x-dead-letter-exchange":
            limits.dead_letter_exchange = text
        else:
            limits.dead_letter_routing_key = text
    sac = arguments.get("x-single-active-consumer", False)
    if not isinstance(sac, bool):
        raise invalid(
            "x-single-active-consumer", f"{{unacceptable_type,{amqp_type_name(sac)}}}"
        )
    limits.single_active_consumer = sac
    if limits.quorum:
        # RabbitMQ 3.10 takes any x-delivery-limit type; only integers limit.
        limit = arguments.get("x-delivery-limit")
        if isinstance(limit, int) and not isinstance(limit, bool):
            limits.delivery_limit = limit
        for refused, name in (
            (auto_delete, "auto-delete"),
            (exclusive, "exclusive-owner"),
            (not durable, "non-durable"),
        ):
            if refused:
                raise channel_error(
                    PRECONDITION_FAILED,
                    f"invalid property '{name}' for queue '{queue}' in vhost '{vhost}'",
                    "queue.declare",
                )
    return limits


def consumer_priority(queue: str, vhost: str, arguments: Mapping[str, object]) -> int:
    """Return a ``basic.consume``'s ``x-priority`` (0 when absent).

    Raises:
        PreconditionFailed: ``x-priority`` is not an integer (406, RabbitMQ's
            text); the channel closes.
    """
    value = arguments.get("x-priority", 0)
    if not isinstance(value, int) or isinstance(value, bool):
        raise channel_error(
            PRECONDITION_FAILED,
            f"invalid arg 'x-priority' for queue '{queue}' in vhost '{vhost}': "
            f'"expected integer, got {amqp_type_name(value)}"',
            "basic.consume",
        )
    return value
