"""RabbitMQ's dead-lettering headers, read: ``x-death`` and ``x-delivery-count``.

:attr:`Message.death <kombu_lite.Message.death>` and
:attr:`Message.delivery_count <kombu_lite.Message.delivery_count>` are read
in consumer callbacks, so they never raise: a header that is not what
RabbitMQ writes (another publisher set it, or edited a message it
republished) is ignored, entry by entry, and logged as a warning on the
``kombu_lite.message`` logger.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from kombu_lite._log import get_logger

__all__ = ["DeadLettering", "DeathRecord", "parse_delivery_count", "parse_x_death"]

logger = get_logger("kombu_lite.message")


@dataclass(frozen=True, slots=True)
class DeathRecord:
    """One entry of RabbitMQ's ``x-death`` header.

    RabbitMQ keeps one entry per queue and reason a message was
    dead-lettered from, counts how many times that happened in ``count``,
    and moves the entry it updates to the front of the list.

    Attributes:
        queue: The queue the message was dead-lettered from.
        reason: Why: ``'rejected'`` (``reject``/``nack`` without requeue),
            ``'expired'`` (message or queue TTL), ``'maxlen'`` (the queue
            was full, ``x-overflow: drop-head``) or ``'delivery_limit'``
            (a quorum queue's ``x-delivery-limit``).
        count: How many times it was dead-lettered from ``queue`` for
            ``reason``.
        exchange: The exchange it had been published to (``''``: the
            default exchange).
        routing_keys: Its routing keys then (with the ``CC``/``BCC``
            ones).
        time: When it was last dead-lettered from ``queue`` for
            ``reason`` (UTC, to the second as RabbitMQ writes it), or None
            if absent.
        original_expiration: The per-message ``expiration`` it had (RabbitMQ
            removes it when dead-lettering), or None.
    """

    queue: str
    reason: str
    count: int
    exchange: str = ""
    routing_keys: tuple[str, ...] = ()
    time: datetime | None = None
    original_expiration: str | None = None


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None


def _time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _record(entry: object) -> DeathRecord | None:
    if not isinstance(entry, Mapping):
        return None
    queue, reason = _text(entry.get("queue")), _text(entry.get("reason"))
    count = entry.get("count")
    if (
        queue is None
        or reason is None
        or isinstance(count, bool)
        or not isinstance(count, int)
        or count < 0
    ):
        return None
    keys = entry.get("routing-keys")
    routing_keys: tuple[str, ...] = ()
    if isinstance(keys, list | tuple):
        texts = [_text(key) for key in keys]
        routing_keys = tuple(key for key in texts if key is not None)
    return DeathRecord(
        queue=queue,
        reason=reason,
        count=count,
        exchange=_text(entry.get("exchange")) or "",
        routing_keys=routing_keys,
        time=_time(entry.get("time")),
        original_expiration=_text(entry.get("original-expiration")),
    )


def parse_x_death(value: object) -> list[DeathRecord]:
    """The records of an ``x-death`` header value, in its order (latest first).

    None (no header) gives ``[]``.  Never raises: a value that is not a
    list gives ``[]``, and an entry without a text ``queue`` and
    ``reason`` and an int ``count`` >= 0 is left out, each logged as a
    warning; other fields of the wrong type read as their defaults.
    """
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        logger.warning(
            "ignoring an x-death header that is not a list: %r", type(value).__name__
        )
        return []
    records = []
    for index, entry in enumerate(value):
        record = _record(entry)
        if record is None:
            logger.warning(
                "ignoring x-death entry %d, which lacks a queue, reason or count: %r",
                index,
                entry,
            )
        else:
            records.append(record)
    return records


def parse_delivery_count(value: object) -> int:
    """An ``x-delivery-count`` header value as an int; 0 when absent.

    Never raises: a value that is not an int >= 0 reads as 0, logged as a
    warning.
    """
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        logger.warning("ignoring an invalid x-delivery-count header: %r", value)
        return 0
    return value


class DeadLettering:
    """:class:`~kombu_lite.Message`'s dead-lettering headers, read (its base).

    A subclass provides ``_header(name)``: the value of one application
    header, or None.
    """

    _header: Callable[[str], object]

    @property
    def death(self) -> list[DeathRecord]:
        """The ``x-death`` header as records, latest first.

        ``[]`` for a message that was never dead-lettered.  Read from
        :attr:`headers` at each access (a new list of
        :class:`~kombu_lite.message.DeathRecord`).  Never raises: a header
        that is not a list, or an entry without a text ``queue`` and
        ``reason`` and an int ``count``, is left out and logged as a
        warning on the ``kombu_lite.message`` logger; other fields of the
        wrong type read as their defaults.  To count the times a message
        was rejected from a queue::

            sum(d.count for d in message.death
                if d.queue == "work" and d.reason == "rejected")
        """
        return parse_x_death(self._header("x-death"))

    @property
    def delivery_count(self) -> int:
        """How many times a quorum queue delivered this message before.

        RabbitMQ's ``x-delivery-count`` header, which quorum queues set
        on each redelivery (after a requeue, or a channel closed with the
        message unacknowledged) and which ``x-delivery-limit`` is checked
        against.  0 when the header is absent: a first delivery, or any
        delivery from a classic queue, which does not count (see
        :attr:`redelivered` there).  Never raises: an invalid value reads
        as 0, logged as a warning.
        """
        return parse_delivery_count(self._header("x-delivery-count"))
