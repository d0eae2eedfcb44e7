"""Native delayed delivery: kombu's delayed-message topology for RabbitMQ.

A message published to exchange ``celery_delayed_27`` with the routing key
:func:`calculate_routing_key` gives it (its countdown in seconds, written as
28 binary digits, then the real routing key) is delivered to its queue once
the countdown has passed.  The delay is made of up to 28 queues, one per
bit: queue ``celery_delayed_<n>`` holds its messages for ``2**n`` seconds
(``x-message-ttl``) and then dead-letters them to the exchange of the level
below; a message whose bit ``n`` is 0 skips that queue.  Level 0
dead-letters to ``celery_delayed_delivery``, where
:func:`bind_queue_to_native_delayed_delivery_exchange` bound the
destination exchange with ``#.<routing key>``.

Everything is named, typed and set as kombu 5.5+ (and Celery's quorum-queue
ETA support) does: a kombu_lite producer and a kombu consumer, or the
reverse, share one topology on one broker.  The exchanges and queues are
durable shared infrastructure; declaring them again with the same
``queue_type`` is harmless.

The delay is the broker's TTL expiry and dead-lettering: RabbitMQ runs
it, and so does the memory broker, which expires and dead-letters as
RabbitMQ does.

The functions work through the objects they are given: the connection's
``channel()`` and the queue's ``name``, ``exchange``, ``routing_key`` and
``bindings``, with py-amqp's channel method names.  Every argument is
checked before a channel is opened; a bad one raises
:class:`~kombu_lite.exceptions.ConfigurationError` (a :exc:`ValueError`,
which kombu raises) and nothing was sent.
"""

from __future__ import annotations

import operator
import re
from typing import TYPE_CHECKING, Protocol, SupportsIndex

from kombu_lite._log import get_logger
from kombu_lite.exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "CELERY_DELAYED_DELIVERY_EXCHANGE",
    "MAX_COUNTDOWN",
    "MAX_LEVEL",
    "MAX_NUMBER_OF_BITS_TO_USE",
    "DelayedDeliveryChannel",
    "DelayedDeliveryConnection",
    "bind_queue_to_native_delayed_delivery_exchange",
    "calculate_routing_key",
    "declare_native_delayed_delivery_exchanges_and_queues",
    "level_name",
]

logger = get_logger(__name__)

#: How many binary digits of the countdown the routing key carries.
MAX_NUMBER_OF_BITS_TO_USE = 28
#: The highest level: publish delayed messages to ``level_name(MAX_LEVEL)``.
MAX_LEVEL = MAX_NUMBER_OF_BITS_TO_USE - 1
#: The exchange every delayed message reaches when its countdown is over.
CELERY_DELAYED_DELIVERY_EXCHANGE = "celery_delayed_delivery"
#: The longest countdown, in seconds (about 8.5 years): 28 bits, all ones.
MAX_COUNTDOWN = 2**MAX_NUMBER_OF_BITS_TO_USE - 1

_QUEUE_TYPES = ("classic", "quorum")
#: AMQP's short strings (names, routing keys) hold at most 255 bytes.
_MAX_SHORTSTR = 255
#: The delay prefix a routing key already carries after an earlier delay
#: (a retried Celery task keeps its routing key): replaced, never stacked.
_DELAY_PREFIX = re.compile(rf"(?:[01]\.){{{MAX_NUMBER_OF_BITS_TO_USE}}}")


class DelayedDeliveryChannel(Protocol):
    """The channel methods the topology is declared with (py-amqp's names).

    :class:`kombu_lite.channel.Channel` has them, and so does py-amqp's
    channel (kombu's on ``pyamqp://``).
    """

    def exchange_declare(
        self,
        *,
        exchange: str,
        type: str,  # noqa: A002 - py-amqp's parameter name
        durable: bool,
        auto_delete: bool,
    ) -> object:
        """Declare an exchange."""

    def exchange_bind(
        self, *, destination: str, source: str, routing_key: str
    ) -> object:
        """Bind exchange ``destination`` to exchange ``source``."""

    def queue_declare(
        self,
        *,
        queue: str,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
        arguments: Mapping[str, object],
    ) -> object:
        """Declare a queue."""

    def queue_bind(self, *, queue: str, exchange: str, routing_key: str) -> object:
        """Bind a queue to an exchange."""

    def close(self) -> object:
        """Close the channel."""


class DelayedDeliveryConnection(Protocol):
    """A connection that opens channels: :class:`kombu_lite.Connection`."""

    def channel(self) -> DelayedDeliveryChannel:
        """Open a new channel."""


class _Exchange(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...


class _Binding(Protocol):
    @property
    def exchange(self) -> _Exchange | None: ...
    @property
    def routing_key(self) -> str: ...


class _Queue(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def exchange(self) -> _Exchange | None: ...
    @property
    def routing_key(self) -> str: ...
    @property
    def bindings(self) -> Iterable[_Binding]: ...


def _whole_number(what: str, value: object) -> int:
    # operator.index takes ints and int-likes (numpy), refuses floats; a bool
    # is an int to Python but never a level or a countdown.
    if isinstance(value, bool) or not isinstance(value, SupportsIndex):
        raise ConfigurationError(f"{what} must be an int, not {type(value).__name__}")
    return operator.index(value)


def _check_prefix(prefix: str | None) -> str:
    if prefix is None:
        return ""
    if not isinstance(prefix, str):
        raise ConfigurationError(
            f"prefix must be a str or None, not {type(prefix).__name__}"
        )
    longest = f"{prefix}_{CELERY_DELAYED_DELIVERY_EXCHANGE}"
    if len(longest.encode("utf-8")) > _MAX_SHORTSTR:
        raise ConfigurationError(
            f"prefix is too long: {longest[:40]!r}... would exceed AMQP's "
            f"{_MAX_SHORTSTR}-byte limit for names"
        )
    return prefix


def _name(prefix: str, base: str) -> str:
    return f"{prefix}_{base}" if prefix else base


def level_name(level: int, prefix: str | None = None) -> str:
    """The name of level ``level``'s exchange and queue (they share it).

    ``celery_delayed_<level>``, or ``<prefix>_celery_delayed_<level>`` when
    ``prefix`` is a non-empty string (``None`` and ``""`` mean no prefix),
    as in kombu.

    Raises:
        ConfigurationError: ``level`` is not an int from 0 to
            :data:`MAX_LEVEL` (kombu only refuses negative levels), or
            ``prefix`` is not a str or would make a name over 255 bytes.
    """
    number = _whole_number("level", level)
    if not 0 <= number <= MAX_LEVEL:
        raise ConfigurationError(
            f"level must be from 0 to {MAX_LEVEL} (a non-negative number the "
            f"topology has), not {number}"
        )
    return _name(_check_prefix(prefix), f"celery_delayed_{number}")


def _delivery_exchange(prefix: str) -> str:
    return _name(prefix, CELERY_DELAYED_DELIVERY_EXCHANGE)


def _level_key(level: int, bit: str) -> str:
    """The binding key that tests bit ``level`` of the countdown for ``bit``."""
    return "*." * (MAX_LEVEL - level) + f"{bit}.#"


def _queue_arguments(level: int, queue_type: str, prefix: str) -> dict[str, object]:
    below = (
        _name(prefix, f"celery_delayed_{level - 1}")
        if level > 0
        else _delivery_exchange(prefix)
    )
    arguments: dict[str, object] = {
        "x-queue-type": queue_type,
        "x-overflow": "reject-publish",
        "x-message-ttl": 2**level * 1000,
        "x-dead-letter-exchange": below,
    }
    if queue_type == "quorum":
        # Quorum queues drop dead letters unless told otherwise; at-least-once
        # needs x-overflow reject-publish, set above.
        arguments["x-dead-letter-strategy"] = "at-least-once"
    return arguments


def declare_native_delayed_delivery_exchanges_and_queues(
    connection: DelayedDeliveryConnection, queue_type: str, prefix: str | None = None
) -> None:
    """Declare the 28 levels and the delivery exchange, as kombu does.

    For each level ``n`` from 27 down to 0: a durable topic exchange and a
    durable queue, both named :func:`level_name` ``(n, prefix)``; the queue
    has ``x-queue-type`` ``queue_type``, ``x-overflow: reject-publish``,
    ``x-message-ttl`` ``2**n * 1000`` ms and ``x-dead-letter-exchange`` the
    level below (level 0: the delivery exchange), plus
    ``x-dead-letter-strategy: at-least-once`` for quorum queues.  The queue
    is bound to its exchange for keys whose bit ``n`` is 1, and the exchange
    below to it for keys whose bit is 0.  The delivery exchange
    (``celery_delayed_delivery``, after ``prefix`` and ``_`` when a prefix is
    given) is a durable topic exchange bound to level 0's exchange.

    Declaring again with the same arguments changes nothing.  The channel
    it opens is closed before it returns, whatever happened.

    Args:
        connection: Where to declare (anything whose ``channel()`` has
            py-amqp's channel methods: a :class:`kombu_lite.Connection`).
        queue_type: ``"classic"`` or ``"quorum"``.
        prefix: Put before every name, with ``_``; ``None`` or ``""``: none.

    Raises:
        ConfigurationError: ``queue_type`` or ``prefix`` is not valid;
            nothing was sent.
        PreconditionFailed: One of them already exists with other settings
            (another ``queue_type``): the levels above it were declared,
            declare the rest after deleting or fixing that one.
        OperationalError: The connection failed: part of the topology may
            exist; declaring again completes it.
    """
    if queue_type not in _QUEUE_TYPES:
        raise ConfigurationError(
            f"queue_type must be either classic or quorum, not {queue_type!r}"
        )
    checked = _check_prefix(prefix)
    names = [
        _name(checked, f"celery_delayed_{level}") for level in range(MAX_LEVEL + 1)
    ]
    delivery = _delivery_exchange(checked)
    channel = connection.channel()
    try:
        for level in range(MAX_LEVEL, -1, -1):
            name = names[level]
            channel.exchange_declare(
                exchange=name, type="topic", durable=True, auto_delete=False
            )
            channel.queue_declare(
                queue=name,
                durable=True,
                exclusive=False,
                auto_delete=False,
                arguments=_queue_arguments(level, queue_type, checked),
            )
            channel.queue_bind(
                queue=name, exchange=name, routing_key=_level_key(level, "1")
            )
        for level in range(MAX_LEVEL, 0, -1):
            channel.exchange_bind(
                destination=names[level - 1],
                source=names[level],
                routing_key=_level_key(level, "0"),
            )
        channel.exchange_declare(
            exchange=delivery, type="topic", durable=True, auto_delete=False
        )
        channel.exchange_bind(
            destination=delivery, source=names[0], routing_key=_level_key(0, "0")
        )
    finally:
        channel.close()


def _queue_bindings(queue: _Queue) -> list[tuple[_Exchange, str]]:
    """The (exchange, routing key) pairs ``queue`` is bound with."""
    bindings = list(queue.bindings or ())
    if not bindings:
        # A queue with bindings has kombu's exchange None, whatever it names.
        exchange = queue.exchange
        return [] if exchange is None else [(exchange, queue.routing_key or "")]
    found: list[tuple[_Exchange, str]] = []
    for binding in bindings:
        if binding.exchange is None:
            raise ConfigurationError(
                f"a binding of queue {queue.name!r} has no exchange; "
                "delayed messages could not be routed back to it"
            )
        found.append((binding.exchange, binding.routing_key or ""))
    return found


def bind_queue_to_native_delayed_delivery_exchange(
    connection: DelayedDeliveryConnection, queue: _Queue, prefix: str | None = None
) -> None:
    """Let delayed messages for ``queue`` reach it when their countdown is over.

    For each exchange ``queue`` is bound to (its ``exchange`` and
    ``routing_key``, or each of its ``bindings``), as kombu does: that
    exchange is bound to the delivery exchange, and ``queue`` to that
    exchange, with the key ``#.<routing key>`` (the routing key itself when
    it starts with ``#``).  A direct exchange (the default exchange
    included) cannot match the delayed routing key: it is skipped with a
    warning on this module's logger, as in kombu, and delayed messages for
    that binding never arrive.  The exchanges and the queue must exist
    already; the delivery exchange too (declare the topology first).

    Raises:
        ConfigurationError: ``queue`` has no name, a binding has no
            exchange or a routing key that is not a str or is too long
            (``#.`` and the key must fit 255 bytes), or ``prefix`` is not
            valid; nothing was sent.
        NotFound: The delivery exchange, an exchange or the queue does not
            exist; the bindings made before it stay.
    """
    delivery = _delivery_exchange(_check_prefix(prefix))
    if not isinstance(queue.name, str) or not queue.name:
        raise ConfigurationError(
            "the queue must have a name: declare a server-named queue first"
        )
    plan: dict[tuple[str, str], None] = {}
    for exchange, routing_key in _queue_bindings(queue):
        if not isinstance(routing_key, str):
            raise ConfigurationError(
                f"routing_key must be a str, not {type(routing_key).__name__}"
            )
        if exchange.type == "direct" or not exchange.name:
            logger.warning(
                "Exchange %r is a direct exchange: native delayed delivery does "
                "not support direct exchanges; delayed messages bound to it "
                "for queue %r will not arrive",
                exchange.name,
                queue.name,
            )
            continue
        key = routing_key if routing_key.startswith("#") else f"#.{routing_key}"
        if len(key.encode("utf-8")) > _MAX_SHORTSTR:
            raise ConfigurationError(
                f"routing key {key[:40]!r}... is longer than {_MAX_SHORTSTR} bytes"
            )
        plan[exchange.name, key] = None
    if not plan:
        return
    channel = connection.channel()
    try:
        for exchange_name, key in plan:
            channel.exchange_bind(
                destination=exchange_name, source=delivery, routing_key=key
            )
            channel.queue_bind(
                queue=queue.name, exchange=exchange_name, routing_key=key
            )
    finally:
        channel.close()


def calculate_routing_key(countdown: int, routing_key: str) -> str:
    """The routing key that delays a message by ``countdown`` seconds.

    The countdown as 28 binary digits, each followed by ``.``, then
    ``routing_key``; a delay prefix already on ``routing_key`` (an earlier
    delay of the same message) is replaced, not kept, as in kombu.  Publish
    with it to the exchange ``level_name(MAX_LEVEL)``.

    Raises:
        ConfigurationError: ``countdown`` is not an int from 1 to
            :data:`MAX_COUNTDOWN` (kombu builds a key that delivers at a
            wrong time for a longer one), or ``routing_key`` is not a str,
            is empty (after its old prefix), or makes a key over 255 bytes.
    """
    seconds = _whole_number("countdown", countdown)
    if seconds < 1:
        raise ConfigurationError(f"countdown must be a positive number, not {seconds}")
    if seconds > MAX_COUNTDOWN:
        raise ConfigurationError(
            f"countdown must be at most {MAX_COUNTDOWN} seconds "
            f"({MAX_NUMBER_OF_BITS_TO_USE} bits), not {seconds}"
        )
    if not isinstance(routing_key, str):
        raise ConfigurationError(
            f"routing_key must be a str, not {type(routing_key).__name__}"
        )
    old = _DELAY_PREFIX.match(routing_key)
    base = routing_key[old.end() :] if old else routing_key
    if not base:
        raise ConfigurationError("routing_key must be non-empty")
    bits = ".".join(format(seconds, f"0{MAX_NUMBER_OF_BITS_TO_USE}b"))
    key = f"{bits}.{base}"
    if len(key.encode("utf-8")) > _MAX_SHORTSTR:
        raise ConfigurationError(
            f"routing_key is too long: with the delay prefix it has "
            f"{len(key.encode('utf-8'))} bytes, AMQP allows {_MAX_SHORTSTR}"
        )
    return key
