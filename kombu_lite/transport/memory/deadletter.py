"""Dead-lettering in the memory broker, as RabbitMQ 3.10 does it.

A queue with ``x-dead-letter-exchange`` republishes a message it gives up
on to that exchange (``''`` is the default exchange), with the routing key
``x-dead-letter-routing-key`` if set (the message's ``CC`` header is then
dropped) or else the message's own.  The reasons, as RabbitMQ names them:
``rejected`` (``basic.reject``/``basic.nack`` with ``requeue=False``),
``expired`` (per-queue or per-message TTL), ``maxlen`` (``x-max-length``
or ``x-max-length-bytes`` with ``drop-head`` or ``reject-publish-dlx``) and
``delivery_limit`` (a quorum queue's ``x-delivery-limit``).

The dead-lettered message carries RabbitMQ's headers, checked field by
field against RabbitMQ 3.10.8:

* ``x-death``: a list of tables, most recent first.  The first one ever
  written has ``count``, ``reason``, ``queue``, ``time`` (seconds, a
  timestamp), ``exchange``, ``routing-keys`` and, when the message had a
  per-message TTL, ``original-expiration`` (the ``expiration`` property is
  removed).  Dying again in the same queue for the same reason increments
  that table's ``count`` (its other fields stay those of the first death)
  and moves it to the front; a table written after the first one has its
  fields in name order, as RabbitMQ sorts them.
* ``x-first-death-reason``, ``x-first-death-queue``,
  ``x-first-death-exchange``: set once, by the first death.

A message that would come back to a queue it already died in, with no
``rejected`` death in between (a fully automatic cycle, such as a TTL queue
dead-lettering to itself), is dropped for that queue, as RabbitMQ drops it.
A missing dead-letter exchange drops the message.  Everything runs with the
broker lock held.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from typing import TYPE_CHECKING

from kombu_lite.transport.memory.queue import QueuedMessage

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from kombu_lite.transport.memory.exchange import MemoryExchange
    from kombu_lite.transport.memory.queue import MemoryQueue

__all__ = ["DeadLetters", "dead_letter_headers", "is_cycle"]


def _wall_time() -> _dt.datetime:
    # As py-amqp decodes an AMQP timestamp: naive UTC, whole seconds.
    now = _dt.datetime.now(_dt.UTC)
    return now.replace(tzinfo=None, microsecond=0)


def dead_letter_headers(
    headers: Mapping[str, object] | None,
    *,
    reason: str,
    queue: str,
    exchange: str,
    routing_key: str,
    expiration: str | None,
    time: _dt.datetime,
    new_routing_key: str | None,
) -> dict[str, object]:
    """Return the headers of a message dead-lettered from ``queue``.

    ``exchange`` and ``routing_key`` are where the message was published
    to (its last hop); ``new_routing_key`` is ``x-dead-letter-routing-key``.
    """
    old = dict(headers or {})
    keys: list[object] = [routing_key]
    cc = old.get("CC")
    if isinstance(cc, list):
        keys.extend(cc)
    info: dict[str, object] = {
        "reason": reason,
        "queue": queue,
        "time": time,
        "exchange": exchange,
        "routing-keys": keys,
    }
    if expiration is not None:
        info["original-expiration"] = expiration
    deaths = old.get("x-death")
    if not isinstance(deaths, list):
        old["x-death"] = [{"count": 1, **info}]
        old["x-first-death-exchange"] = exchange
        old["x-first-death-queue"] = queue
        old["x-first-death-reason"] = reason
    else:
        matches = [d for d in deaths if _is_death(d, queue, reason)]
        others = [d for d in deaths if not _is_death(d, queue, reason)]
        if matches:
            first = dict(matches[0])
            counts = [d.get("count") for d in matches]
            first["count"] = sum(c for c in counts if isinstance(c, int)) + 1
            table = first
        else:
            table = {"count": 1, **info}
        old["x-death"] = [dict(sorted(table.items())), *others]
    if new_routing_key is not None:
        old.pop("CC", None)
    return dict(sorted(old.items()))


def _is_death(death: object, queue: str, reason: str) -> bool:
    return (
        isinstance(death, dict)
        and death.get("queue") == queue
        and death.get("reason") == reason
    )


def is_cycle(queue: str, deaths: object) -> bool:
    """Return whether dead-lettering into ``queue`` closes an automatic cycle.

    ``deaths`` is the new ``x-death`` list (most recent first).  A cycle is
    automatic when no death from the newest back to ``queue``'s own is a
    rejection; RabbitMQ drops the message for that queue then.
    """
    if not isinstance(deaths, list):
        return False
    for death in deaths:
        if not isinstance(death, dict) or death.get("reason") == "rejected":
            return False
        if death.get("queue") == queue:
            return True
    return False


class DeadLetters:
    """The dead-lettering of one virtual host (a queue's dead-letter sink).

    Args:
        exchanges: the virtual host's exchanges, by name (read when used).
        queues: its queues, by name (for the default exchange).
        route: the virtual host's routing, exchange bindings followed.
    """

    def __init__(
        self,
        exchanges: Mapping[str, MemoryExchange],
        queues: Mapping[str, MemoryQueue],
        route: Callable[
            [MemoryExchange, str, Mapping[str, object] | None], list[MemoryQueue]
        ],
    ) -> None:
        self._exchanges = exchanges
        self._queues = queues
        self._route = route

    def __call__(
        self, source: MemoryQueue, message: QueuedMessage, reason: str
    ) -> None:
        """Dead-letter ``message`` out of ``source`` (dropped without a DLX)."""
        limits = source.limits
        dlx = limits.dead_letter_exchange
        if dlx is None:
            return
        new_key = limits.dead_letter_routing_key
        properties = message.properties
        headers = dead_letter_headers(
            properties.headers,
            reason=reason,
            queue=source.name,
            exchange=message.exchange,
            routing_key=message.routing_key,
            expiration=properties.expiration,
            time=_wall_time(),
            new_routing_key=new_key,
        )
        routing_key = message.routing_key if new_key is None else new_key
        properties = dataclasses.replace(properties, headers=headers, expiration=None)
        if dlx == "":
            found = self._queues.get(routing_key)
            targets = [] if found is None else [found]
        else:
            exchange = self._exchanges.get(dlx)
            if exchange is None:
                return  # RabbitMQ drops it too
            targets = self._route(exchange, routing_key, headers)
        deaths = headers["x-death"]
        for target in targets:
            if target.deleted or is_cycle(target.name, deaths):
                continue
            target.publish(
                QueuedMessage(message.body, properties, dlx, routing_key), None
            )
