"""Shared pieces of the entities: channel binding and value checks.

An entity is bound to a :class:`~kombu_lite.channel.Channel` or to anything
with a ``default_channel`` (a :class:`ChannelSource`, such as a
:class:`~kombu_lite.Connection`): the entities sit below the connection and
know it only through that one property.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Literal, Protocol

from kombu_lite.channel import Channel
from kombu_lite.exceptions import ConfigurationError, NotBoundError
from kombu_lite.transport._rabbitmq import (
    MAX_TTL_MS,
    non_finite_detail,
    non_finite_field,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Self

__all__ = [
    "DELIVERY_MODES",
    "PERSISTENT_DELIVERY_MODE",
    "TRANSIENT_DELIVERY_MODE",
    "ChannelSource",
    "DeliveryMode",
    "maybe_delivery_mode",
    "ttl_ms",
]

TRANSIENT_DELIVERY_MODE = 1
PERSISTENT_DELIVERY_MODE = 2
DELIVERY_MODES: Mapping[str, int] = {
    "transient": TRANSIENT_DELIVERY_MODE,
    "persistent": PERSISTENT_DELIVERY_MODE,
}

DeliveryMode = int | Literal["transient", "persistent"]


class ChannelSource(Protocol):
    """What an entity bound to a connection needs of it: its default channel."""

    @property
    def default_channel(self) -> Channel:
        """The channel to use, opened (and connected) if needed."""
        ...


def maybe_delivery_mode(value: DeliveryMode | None) -> int | None:
    """Normalise a delivery mode: 1/2, ``'transient'``/``'persistent'`` or None.

    Raises:
        ConfigurationError: any other value.
    """
    if value is None:
        return None
    if isinstance(value, str):
        mode = DELIVERY_MODES.get(value)
        if mode is not None:
            return mode
    elif value in (1, 2) and not isinstance(value, bool):
        return value
    raise ConfigurationError(
        f"delivery_mode must be 1, 2, 'transient' or 'persistent', not {value!r}"
    )


def frozen_args(arguments: Mapping[str, object] | None) -> str:
    # Arguments may hold unhashable values (lists, nested tables), so the
    # declaration key uses a canonical repr instead of the mapping itself.
    return repr(sorted((arguments or {}).items()))


def ttl_ms(name: str, seconds: object) -> int:
    """``seconds`` as the whole milliseconds of a TTL RabbitMQ takes.

    Raises:
        ConfigurationError: ``seconds`` is not a number, is negative, NaN,
            infinite, or over RabbitMQ's limit of ten years (it refuses a
            longer ``expiration``, ``x-message-ttl`` or ``x-expires``).
    """
    limit = MAX_TTL_MS // 1000
    # "not >= 0" also refuses NaN; an int is compared before any float
    # conversion, which could overflow.
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not seconds >= 0
        or seconds > limit
        or (millis := round(seconds * 1000)) > MAX_TTL_MS
    ):
        raise ConfigurationError(
            f"{name} must be a number of seconds from 0 to {limit} (ten years, "
            f"the longest TTL RabbitMQ takes), not {seconds!r}"
        )
    return millis


def check_arguments(
    what: str, arguments: Mapping[str, object] | None
) -> dict[str, object] | None:
    """A copy of declare, bind or consume ``arguments`` (None if empty).

    Raises:
        ConfigurationError: a value (in a nested table or array too) is a
            NaN or infinite float, which RabbitMQ cannot read: it would
            drop the whole connection.
    """
    if not arguments:
        return None
    bad = non_finite_field(arguments)
    if bad is not None:
        name, value = bad
        raise ConfigurationError(f"{what} argument {name!r} {non_finite_detail(value)}")
    return dict(arguments)


def reprstr(text: str) -> str:
    """``text`` as its repr shows it, without the quotes (kombu's reprs)."""
    return repr(text)[1:-1]


def check_name(kind: str, name: object) -> str:
    if not isinstance(name, str):
        raise ConfigurationError(
            f"{kind} name must be a str, not {type(name).__name__}"
        )
    try:
        encoded = name.encode()
    except UnicodeEncodeError as exc:
        raise ConfigurationError(
            f"{kind} name {name!r} holds a lone surrogate at index {exc.start}, "
            "which is not text: AMQP names are UTF-8"
        ) from exc
    if len(encoded) > 255:
        raise ConfigurationError(
            f"{kind} name is longer than 255 bytes: {name[:40]!r}..."
        )
    return name


class Bindable:
    """Shared channel binding for entities."""

    _channel: Channel | ChannelSource | None = None

    def bind(self, channel: Channel | ChannelSource) -> Self:
        """Return a copy of this entity bound to ``channel``."""
        bound = copy.copy(self)
        bound._channel = channel
        return bound

    __call__ = bind

    def maybe_bind(self, channel: Channel | ChannelSource) -> Self:
        """Bind in place if unbound; return self."""
        if self._channel is None:
            self._channel = channel
        return self

    def revive(self, channel: Channel) -> None:
        """Move a bound entity to a new channel (after a reconnect)."""
        if self._channel is not None:
            self._channel = channel

    @property
    def is_bound(self) -> bool:
        """True when the entity has a channel."""
        return self._channel is not None

    @property
    def channel(self) -> Channel:
        """The bound channel (a bound connection gives its default channel).

        Raises:
            NotBoundError: the entity is not bound.
        """
        return self._resolve(None)

    def _resolve(self, channel: Channel | ChannelSource | None) -> Channel:
        target = channel if channel is not None else self._channel
        if target is None:
            raise NotBoundError(
                f"{self!r} is not bound to a channel: call entity(channel) "
                f"or pass channel=..."
            )
        if isinstance(target, Channel):
            return target
        return target.default_channel

    def _bound_repr(self, text: str) -> str:
        if self._channel is None:
            return f"<unbound {text}>"
        if isinstance(self._channel, Channel):
            return f"<{text} bound to chan:{self._channel.channel_id}>"
        return f"<{text} bound to {self._channel!r}>"
