"""The argument checks of :class:`~kombu_lite.messaging.consumer.Consumer`.

Each raises :class:`~kombu_lite.exceptions.ConfigurationError` naming the
argument, before the consumer sends anything to the broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from kombu_lite.channel import Channel
from kombu_lite.entity import Queue
from kombu_lite.exceptions import ConfigurationError

if TYPE_CHECKING:
    from kombu_lite.channel import ChannelOwner

__all__ = [
    "MAX_PREFETCH_COUNT",
    "as_queue",
    "check_callable",
    "check_optional_callable",
    "check_prefetch_count",
    "optional_bool",
    "queue_items",
    "resolve_channel",
]

#: The largest ``prefetch_count`` AMQP carries (a short).
MAX_PREFETCH_COUNT: Final = 65535


def resolve_channel(channel: Channel | ChannelOwner) -> Channel:
    """``channel``, or a connection's default channel."""
    return channel if isinstance(channel, Channel) else channel.default_channel


def queue_items(
    queues: Queue | str | Iterable[Queue | str] | None,
) -> list[Queue | str]:
    """``queues`` (one, many or None) as a list."""
    if queues is None:
        return []
    if isinstance(queues, Queue | str):
        return [queues]
    if not isinstance(queues, Iterable):
        raise ConfigurationError(
            f"queues must be a Queue or a list of queues, not {type(queues).__name__}"
        )
    return list(queues)


def as_queue(item: object) -> Queue:
    """A Queue; a bare name is a queue that is never declared."""
    if isinstance(item, Queue):
        return item
    if isinstance(item, str):
        # A bare name is a queue managed elsewhere: consume, never declare.
        return Queue(item, no_declare=True)
    raise ConfigurationError(
        f"queues must hold Queue objects or names, not {type(item).__name__}"
    )


def optional_bool(name: str, value: object) -> bool | None:
    """``value``: True, False or None."""
    if value is None or isinstance(value, bool):
        return value
    raise ConfigurationError(f"{name} must be True, False or None, not {value!r}")


def check_callable(name: str, value: Any) -> Any:
    """``value``, which must be callable."""
    if not callable(value):
        raise ConfigurationError(f"{name} must be callable, not {type(value).__name__}")
    return value


def check_optional_callable(name: str, value: Any) -> Any:
    """``value``: None or a callable."""
    return None if value is None else check_callable(name, value)


def check_prefetch_count(value: object) -> int | None:
    """``value``: None or an int from 0 to :data:`MAX_PREFETCH_COUNT`."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_PREFETCH_COUNT
    ):
        raise ConfigurationError(
            f"prefetch_count must be an int from 0 to {MAX_PREFETCH_COUNT}, "
            f"not {value!r}"
        )
    return value
