"""A queue's ``x-`` arguments from :class:`~kombu_lite.Queue`'s typed keywords.

Every keyword is checked when the queue is built, and so is the whole set of
arguments against its queue type, with the rules RabbitMQ 3.10 applies on
``queue.declare`` (each one checked against a 3.10.8 broker): a queue
RabbitMQ would refuse with a 406, which closes the channel, is refused here
first with a :class:`~kombu_lite.exceptions.ConfigurationError` that names
the keyword and says what to change.

What is checked applies to ``queue_arguments`` too (``queue_arguments=
{"x-queue-type": "quorum"}`` with ``exclusive=True`` is refused as
``queue_type="quorum"`` is).  A queue without ``x-queue-type`` is checked as
a classic queue, RabbitMQ 3.10's only default (a 3.11+ virtual host's
default queue type is not known here: name the type).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from kombu_lite.entity.base import ttl_ms
from kombu_lite.entity.exchange import Exchange
from kombu_lite.exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kombu_lite.entity.queue import Queue

__all__ = [
    "OVERFLOW_MODES",
    "QUEUE_TYPES",
    "Overflow",
    "QueueType",
    "check_dead_letter_exchange",
    "check_overflow",
    "check_queue_type",
    "declare_arguments",
    "describe",
    "whole",
]

QueueType = Literal["classic", "quorum", "stream"]
Overflow = Literal["drop-head", "reject-publish", "reject-publish-dlx"]

QUEUE_TYPES: Final[tuple[str, ...]] = ("classic", "quorum", "stream")
OVERFLOW_MODES: Final[tuple[str, ...]] = (
    "drop-head",
    "reject-publish",
    "reject-publish-dlx",
)

#: The keyword that sets each argument, to name it in errors.
_KEYWORDS: Final[Mapping[str, str]] = {
    "x-expires": "expires",
    "x-message-ttl": "message_ttl",
    "x-max-length": "max_length",
    "x-max-length-bytes": "max_length_bytes",
    "x-max-priority": "max_priority",
    "x-queue-type": "queue_type",
    "x-dead-letter-exchange": "dead_letter_exchange",
    "x-dead-letter-routing-key": "dead_letter_routing_key",
    "x-delivery-limit": "delivery_limit",
    "x-overflow": "overflow",
    "x-single-active-consumer": "single_active_consumer",
}

#: The arguments RabbitMQ 3.10 refuses on each queue type ("invalid arg
#: 'x-...' for queue ... of queue type rabbit_..._queue").
_REFUSED: Final[Mapping[str, tuple[str, ...]]] = {
    "classic": ("x-delivery-limit",),
    "quorum": ("x-max-priority", "x-queue-mode"),
    "stream": (
        "x-expires",
        "x-message-ttl",
        "x-max-length",
        "x-max-priority",
        "x-dead-letter-exchange",
        "x-dead-letter-routing-key",
        "x-delivery-limit",
        "x-overflow",
        "x-single-active-consumer",
    ),
}


def whole(name: str, value: int | None) -> int | None:
    """``value`` if it is an int >= 0, or None.

    Raises:
        ConfigurationError: anything else (a bool too).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{name} must be an int >= 0, not {value!r}")
    return value


def check_queue_type(value: object) -> QueueType | None:
    """``value`` if it is a queue type RabbitMQ knows, or None.

    Raises:
        ConfigurationError: anything else.
    """
    if value is None:
        return None
    if value == "classic" or value == "quorum" or value == "stream":
        return value
    raise ConfigurationError(
        f"queue_type must be one of {', '.join(map(repr, QUEUE_TYPES))}, not {value!r}"
    )


def check_overflow(value: object) -> Overflow | None:
    """``value`` if it is an ``x-overflow`` mode, or None.

    Raises:
        ConfigurationError: anything else.
    """
    if value is None:
        return None
    if (
        value == "drop-head"
        or value == "reject-publish"
        or value == "reject-publish-dlx"
    ):
        return value
    raise ConfigurationError(
        f"overflow must be one of {', '.join(map(repr, OVERFLOW_MODES))}, not {value!r}"
    )


def check_dead_letter_exchange(value: object) -> Exchange | str | None:
    """``value`` if it is an :class:`Exchange`, a name, or None.

    Raises:
        ConfigurationError: anything else.
    """
    if value is None or isinstance(value, Exchange | str):
        return value
    raise ConfigurationError(
        "dead_letter_exchange must be an Exchange or an exchange name ('' is the "
        f"default exchange), not {type(value).__name__}"
    )


def _keyword_arguments(queue: Queue) -> dict[str, object]:
    """The arguments the keywords set (those left unset are absent)."""
    if not isinstance(queue.single_active_consumer, bool):
        raise ConfigurationError(
            "single_active_consumer must be True or False, "
            f"not {queue.single_active_consumer!r}"
        )
    if queue.dead_letter_routing_key is not None and not isinstance(
        queue.dead_letter_routing_key, str
    ):
        raise ConfigurationError(
            "dead_letter_routing_key must be a str, "
            f"not {type(queue.dead_letter_routing_key).__name__}"
        )
    dlx = queue.dead_letter_exchange
    arguments: dict[str, object | None] = {
        "x-expires": None
        if queue.expires is None
        else ttl_ms("expires", queue.expires),
        "x-message-ttl": None
        if queue.message_ttl is None
        else ttl_ms("message_ttl", queue.message_ttl),
        "x-max-length": queue.max_length,
        "x-max-length-bytes": queue.max_length_bytes,
        "x-max-priority": queue.max_priority,
        "x-queue-type": queue.queue_type,
        "x-dead-letter-exchange": dlx.name if isinstance(dlx, Exchange) else dlx,
        "x-dead-letter-routing-key": queue.dead_letter_routing_key,
        "x-delivery-limit": whole("delivery_limit", queue.delivery_limit),
        "x-overflow": queue.overflow,
        "x-single-active-consumer": True if queue.single_active_consumer else None,
    }
    if arguments["x-expires"] == 0:
        raise ConfigurationError("expires must be > 0 seconds")
    return {key: value for key, value in arguments.items() if value is not None}


def _same(a: object, b: object) -> bool:
    # True == 1 in Python, but RabbitMQ tells a bool from an int.
    return type(a) is type(b) and a == b


def declare_arguments(queue: Queue) -> dict[str, object] | None:
    """The ``queue.declare`` arguments of ``queue``: its keywords merged in.

    Raises:
        ConfigurationError: a keyword's value is invalid; a keyword and
            ``queue_arguments`` give the same argument different values;
            or RabbitMQ 3.10 refuses the combination (see the module's
            docstring).
    """
    arguments = dict(queue.queue_arguments or {})
    for key, value in _keyword_arguments(queue).items():
        if key in arguments and not _same(arguments[key], value):
            raise ConfigurationError(
                f"queue {queue.name!r}: {_KEYWORDS[key]} sets {key} to {value!r} "
                f"but queue_arguments has {key}={arguments[key]!r}; give it once"
            )
        arguments[key] = value
    _check_combination(queue, arguments)
    return arguments or None


def _name(key: str) -> str:
    keyword = _KEYWORDS.get(key)
    return f"{key} ({keyword})" if keyword else key


def _check_combination(queue: Queue, arguments: Mapping[str, object]) -> None:
    if "x-dead-letter-routing-key" in arguments and (
        "x-dead-letter-exchange" not in arguments
    ):
        raise ConfigurationError(
            f"queue {queue.name!r}: {_name('x-dead-letter-routing-key')} needs a "
            "dead-letter exchange (RabbitMQ refuses it alone: "
            "routing_key_but_no_dlx_defined); give dead_letter_exchange, '' for "
            "the default exchange"
        )
    queue_type = arguments.get("x-queue-type", "classic")
    if queue_type not in _REFUSED:
        return  # a type from a plugin, or not a str: the broker decides
    if queue_type != "classic":
        problem = None
        if not queue.name:
            problem = "needs a name (RabbitMQ does not name one itself)"
        elif not queue.durable:
            problem = "must be durable (durable=False is refused)"
        elif queue.exclusive:
            problem = "cannot be exclusive"
        elif queue.auto_delete:
            problem = "cannot be auto-delete"
        if problem is not None:
            raise ConfigurationError(
                f"queue {queue.name!r}: a {queue_type} queue {problem}"
            )
    for key in _REFUSED[str(queue_type)]:
        if key in arguments:
            hint = "; set queue_type='quorum'" if key == "x-delivery-limit" else ""
            where = (
                "a classic queue (one without x-queue-type is classic)"
                if queue_type == "classic"
                else f"a {queue_type} queue"
            )
            raise ConfigurationError(
                f"queue {queue.name!r}: RabbitMQ 3.10 refuses {_name(key)} on "
                f"{where}{hint}"
            )


def describe(queue: Queue) -> str:
    """The typed keywords' part of the queue's repr ('' when none is set)."""
    parts: list[str] = []
    if queue.queue_type is not None:
        parts.append(queue.queue_type)
    dlx = queue.dead_letter_exchange
    if dlx is not None:
        name = dlx.name if isinstance(dlx, Exchange) else dlx
        target = repr(name)
        if queue.dead_letter_routing_key is not None:
            target += f"/{queue.dead_letter_routing_key!r}"
        parts.append(f"dead-letter -> {target}")
    if queue.delivery_limit is not None:
        parts.append(f"delivery_limit={queue.delivery_limit}")
    if queue.overflow is not None:
        parts.append(f"overflow={queue.overflow}")
    if queue.single_active_consumer:
        parts.append("single-active-consumer")
    return f" [{', '.join(parts)}]" if parts else ""
