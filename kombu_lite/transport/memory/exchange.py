"""Exchanges of the memory broker and their binding indexes.

Each exchange keeps its bindings in the shape its type routes fastest with:
a direct exchange maps routing keys to destinations (one dict lookup per
publish), a fanout exchange keeps one set of destinations, and topic results
are cached per routing key until the bindings change.  Headers bindings are
scanned, as RabbitMQ does.  One hop only: following exchange-to-exchange
bindings and alternate exchanges is the virtual host's job.  All methods run
with the broker lock held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from kombu_lite.transport.memory.routing import headers_match, topic_matches

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from kombu_lite.transport.memory.binding import Binding, BindingKey
    from kombu_lite.transport.memory.queue import MemoryQueue

__all__ = ["EXCHANGE_TYPES", "Destination", "ExchangeBinding", "MemoryExchange"]

#: The exchange types the memory broker implements (RabbitMQ's built-in ones).
EXCHANGE_TYPES: frozenset[str] = frozenset({"direct", "fanout", "topic", "headers"})

#: Where a binding leads: a queue, or an exchange (exchange-to-exchange).
Destination: TypeAlias = "MemoryQueue | MemoryExchange"
#: A binding from an exchange (the only kind of source).
ExchangeBinding: TypeAlias = "Binding[MemoryExchange, Destination]"

# Topic results are cached per routing key; past this many keys the cache is
# simply dropped, which bounds memory when routing keys are unique ids.
_TOPIC_CACHE_SIZE = 4096


class MemoryExchange:
    """An exchange: its declare settings and its outgoing bindings."""

    def __init__(
        self,
        name: str,
        exchange_type: str,
        *,
        durable: bool,
        auto_delete: bool,
        internal: bool,
        arguments: Mapping[str, object],
    ) -> None:
        self.name = name
        self.type = exchange_type
        self.durable = durable
        self.auto_delete = auto_delete
        self.internal = internal
        self.arguments = dict(arguments)
        alternate = self.arguments.get("alternate-exchange")
        if isinstance(alternate, bytes):  # a longstr, as RabbitMQ reads it
            alternate = alternate.decode("utf-8", "replace")
        self.alternate = alternate if isinstance(alternate, str) else None
        self.deleted = False
        #: Outgoing bindings (this exchange is their source).
        self.bindings: dict[BindingKey, ExchangeBinding] = {}
        #: Bindings towards this exchange, kept so deleting it can remove them.
        self.incoming: dict[BindingKey, ExchangeBinding] = {}
        self._direct: dict[str, dict[Destination, int]] = {}
        self._fanout: dict[Destination, int] = {}
        self._topic_cache: dict[str, tuple[Destination, ...]] = {}

    def add_binding(self, binding: ExchangeBinding) -> None:
        """Add an outgoing binding (the caller made sure it is new)."""
        self.bindings[binding.key] = binding
        if self.type == "direct":
            _count_up(
                self._direct.setdefault(binding.routing_key, {}), binding.destination
            )
        elif self.type == "fanout":
            _count_up(self._fanout, binding.destination)
        self._topic_cache.clear()

    def remove_binding(self, key: BindingKey) -> ExchangeBinding | None:
        """Remove an outgoing binding; return it, or None if there was none."""
        binding = self.bindings.pop(key, None)
        if binding is None:
            return None
        if self.type == "direct":
            targets = self._direct[binding.routing_key]
            _count_down(targets, binding.destination)
            if not targets:
                del self._direct[binding.routing_key]
        elif self.type == "fanout":
            _count_down(self._fanout, binding.destination)
        self._topic_cache.clear()
        return binding

    def route(
        self, routing_key: str, headers: Mapping[str, object] | None
    ) -> Iterable[Destination]:
        """Return the destinations one hop away for a message."""
        kind = self.type
        if kind == "direct":
            return self._direct.get(routing_key, ())
        if kind == "fanout":
            return self._fanout
        if kind == "topic":
            cached = self._topic_cache.get(routing_key)
            if cached is None:
                if len(self._topic_cache) >= _TOPIC_CACHE_SIZE:
                    self._topic_cache.clear()
                cached = tuple(
                    dict.fromkeys(
                        binding.destination
                        for binding in self.bindings.values()
                        if topic_matches(binding.routing_key, routing_key)
                    )
                )
                self._topic_cache[routing_key] = cached
            return cached
        return dict.fromkeys(
            binding.destination
            for binding in self.bindings.values()
            if headers_match(binding.arguments, headers)
        )


def _count_up(counts: dict[Destination, int], destination: Destination) -> None:
    counts[destination] = counts.get(destination, 0) + 1


def _count_down(counts: dict[Destination, int], destination: Destination) -> None:
    remaining = counts[destination] - 1
    if remaining:
        counts[destination] = remaining
    else:
        del counts[destination]
