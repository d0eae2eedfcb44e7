"""A producer's memo of the entities it declared, checked by their inputs.

The connection's declare cache is keyed by every declared setting of an
entity (:attr:`Declarable.declare_key`), and building that key costs more
than the rest of a small publish.  The memo keeps, per entity object, the
inputs of its declare: the entity's own attributes and those of every
object its declare reads (its exchange, an Exchange given as its
dead-letter exchange, each binding and the binding's exchange), with
containers copied so that an edit made in place shows.  While those inputs
are unchanged and nothing was removed from the connection's cache since
(a reconnect or a lost entity removes keys, and so may the application
through ``Connection.declared_entities``: the cache's
:class:`~kombu_lite.channel.DeclaredKeys` counts every removal), nothing
needs declaring.  Counting removals, not looking the key up, keeps the
check from hashing the whole key on every publish.

Checking the inputs, not the entity's identity alone, is what makes an
object edited in place after its first declare be declared again: an
attribute of an object it refers to (a dead-letter exchange renamed, a
binding's arguments changed) is compared as well as its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kombu_lite.channel import Channel, Declarable, DeclaredKeys

    #: The objects a declare reads, each with a copy of its attributes.
    _Inputs = tuple[tuple[object, dict[str, Any]], ...]
    #: What the memo keeps per entity: the entity, its inputs, the key set
    #: it was declared into and that set's removal count.
    _MemoEntry = tuple[Declarable, _Inputs, DeclaredKeys, int]

__all__ = ["DeclareMemo", "declare_inputs"]

#: Entities a producer remembers before its memo starts over.
_MEMO_LIMIT: Final = 256


def _snapshot(entity: object) -> dict[str, Any]:
    """An object's attributes, with containers copied so edits show."""
    state = dict(vars(entity))
    for name, value in state.items():
        if type(value) is dict or type(value) is list:
            state[name] = value.copy()
    return state


def _referred(entity: object) -> list[object]:
    """The objects besides ``entity`` whose attributes its declare reads."""
    parts: list[object] = []
    for name, value in vars(entity).items():
        if name == "bindings" and type(value) is list:
            for item in value:
                if hasattr(item, "__dict__"):
                    parts.append(item)
                    exchange = getattr(item, "exchange", None)
                    if exchange is not None and hasattr(exchange, "declare_key"):
                        parts.append(exchange)
        elif hasattr(value, "declare_key") and hasattr(value, "__dict__"):
            parts.append(value)  # the exchange, an Exchange dead-letter exchange
    return parts


def declare_inputs(entity: object) -> _Inputs:
    """``entity`` and the objects it refers to, each with its attributes."""
    return tuple((part, _snapshot(part)) for part in (entity, *_referred(entity)))


class DeclareMemo:
    """Declares entities unless their inputs and key show it is done."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        # id(entity) -> (entity, inputs, the cache's key set, its removal
        # count before the entity was declared).  The entity is kept so
        # that its id stays unique.
        self._seen: dict[int, _MemoEntry] = {}

    def declare(self, entities: Iterable[Declarable], channel: Channel) -> None:
        """Declare each entity unless this connection already did."""
        declare_cache = channel.connection.declare_cache
        declared = declare_cache.keys
        # Read before anything is looked up or declared: a key the cache
        # held then is held still while no removal was counted since.
        removals = declared.removals
        seen = self._seen
        for entity in entities:
            entry = seen.get(id(entity))
            if (
                entry is not None
                and entry[0] is entity
                and entry[3] == removals
                and entry[2] is declared
            ):
                for part, state in entry[1]:
                    if vars(part) != state:
                        break
                else:
                    continue
            declare_cache.ensure_declared(entity, channel)
            if entity.can_cache_declaration:
                if len(seen) >= _MEMO_LIMIT:
                    seen.clear()
                seen[id(entity)] = (entity, declare_inputs(entity), declared, removals)
