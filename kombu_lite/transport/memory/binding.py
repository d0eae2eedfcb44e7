"""Bindings of the memory broker: what joins an exchange to a queue or exchange.

A binding is told apart from another by its :data:`BindingKey`: the kind
and name of its destination, its routing key, and its arguments in a
hashable, order-insensitive form (:func:`freeze_arguments`).  Exchanges
and queues know bindings only as this module has them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, Protocol, TypeAlias, TypeVar

__all__ = ["Binding", "BindingEnd", "BindingKey", "binding_key", "freeze_arguments"]

#: What makes a binding unique: destination kind and name, key, arguments.
BindingKey: TypeAlias = tuple[str, str, str, object]


class BindingEnd(Protocol):
    """An exchange or a queue, as a binding joins it."""

    name: str
    deleted: bool


_S = TypeVar("_S", bound=BindingEnd)
_D = TypeVar("_D", bound=BindingEnd)


def binding_key(
    to_queue: bool, destination: str, routing_key: str, arguments: Mapping[str, object]
) -> BindingKey:
    """The key of a binding to queue (or exchange) ``destination``."""
    return (
        "queue" if to_queue else "exchange",
        destination,
        routing_key,
        freeze_arguments(arguments),
    )


def freeze_arguments(arguments: Mapping[str, object] | None) -> object:
    """Return a hashable, order-insensitive form of a binding's arguments."""
    if not arguments:
        return ()
    return tuple(sorted((key, _freeze(value)) for key, value in arguments.items()))


def _freeze(value: object) -> object:
    if isinstance(value, Mapping):
        return ("table", tuple(sorted((k, _freeze(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("array", tuple(_freeze(item) for item in value))
    try:
        hash(value)
    except TypeError:
        return ("unhashable", repr(value))
    return (type(value).__name__, value)


class Binding(Generic[_S, _D]):
    """One binding from ``source`` to a queue or exchange."""

    __slots__ = ("arguments", "destination", "key", "routing_key", "source")

    def __init__(
        self,
        source: _S,
        destination: _D,
        routing_key: str,
        arguments: Mapping[str, object],
        key: BindingKey,
    ) -> None:
        self.source = source
        self.destination = destination
        self.routing_key = routing_key
        self.arguments = dict(arguments)
        self.key = key
