"""One virtual host of the memory broker: RabbitMQ's declare, bind and delete rules.

Every rule and every refusal text here was checked against RabbitMQ 3.10:

* The default exchange ``''`` cannot be declared (not even passively),
  bound, unbound or deleted: 403 ``operation not permitted on the default
  exchange``.
* A new exchange or queue name starting with ``amq.`` is refused (403);
  ``amq.direct`` & co. may be re-declared with their own settings, queues
  named ``amq.*`` never (not even server-named ones).
* An exchange is re-declared equivalently when type, durable, auto_delete,
  internal and the ``alternate-exchange`` argument match (other arguments
  are not compared); a queue when exclusivity, durable, auto_delete and the
  arguments in :data:`~.queue.EQUIVALENCE_ARGUMENTS` match.  Otherwise 406,
  or 405 for exclusivity.
* An unknown exchange type is a connection error (503 COMMAND_INVALID).
* Unbinding something missing, deleting a missing exchange or queue and
  re-binding an existing binding all succeed.
* An exclusive queue is usable only from its connection (405); publishing to
  it and unbinding it are not checked, as on RabbitMQ.
* An auto-delete exchange goes when its last outgoing binding goes; an
  auto-delete queue when its last consumer goes (once it had one); a queue
  with ``x-expires`` when unused for that long (:mod:`.expiry`).
* Queues dead-letter through :class:`~.deadletter.DeadLetters`.

All methods run with the broker lock held.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from kombu_lite.transport.base import QueueDeclareOk
from kombu_lite.transport.memory.arguments import EQUIVALENCE_ARGUMENTS, queue_limits
from kombu_lite.transport.memory.binding import Binding, BindingKey, binding_key
from kombu_lite.transport.memory.deadletter import DeadLetters
from kombu_lite.transport.memory.equivalence import check_arguments, inequivalent
from kombu_lite.transport.memory.exchange import (
    EXCHANGE_TYPES,
    Destination,
    MemoryExchange,
)
from kombu_lite.transport.memory.expiry import QueueExpiry, Timers
from kombu_lite.transport.memory.queue import Counters, MemoryQueue
from kombu_lite.transport.memory.replies import (
    ACCESS_REFUSED,
    COMMAND_INVALID,
    NOT_FOUND,
    PRECONDITION_FAILED,
    RESOURCE_LOCKED,
    amqp_type_name,
    channel_error,
    connection_error,
)
from kombu_lite.transport.memory.routing import x_match_error

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["STANDARD_EXCHANGES", "VirtualHost"]

#: The exchanges every RabbitMQ virtual host starts with (besides ``''``).
STANDARD_EXCHANGES: tuple[tuple[str, str], ...] = (
    ("amq.direct", "direct"),
    ("amq.fanout", "fanout"),
    ("amq.topic", "topic"),
    ("amq.headers", "headers"),
    ("amq.match", "headers"),
)

_DEFAULT_EXCHANGE_REFUSED = "operation not permitted on the default exchange"


class VirtualHost:
    """The exchanges, queues and bindings of one virtual host."""

    def __init__(
        self, name: str, clock: Callable[[], float], counters: Counters, timers: Timers
    ) -> None:
        self.name = name
        self._clock = clock
        self._counters = counters
        self._timers = timers
        self.queues: dict[str, MemoryQueue] = {}
        self.exchanges: dict[str, MemoryExchange] = {}
        self._dead_letters = DeadLetters(self.exchanges, self.queues, self.route)
        self._expiry = QueueExpiry(timers, clock, self.delete_queue)
        for exchange_name, exchange_type in (("", "direct"), *STANDARD_EXCHANGES):
            self.exchanges[exchange_name] = MemoryExchange(
                exchange_name,
                exchange_type,
                durable=True,
                auto_delete=False,
                internal=False,
                arguments={},
            )

    # -- exchanges -----------------------------------------------------------

    def exchange_declare(
        self,
        name: str,
        exchange_type: str,
        *,
        passive: bool,
        durable: bool,
        auto_delete: bool,
        internal: bool,
        arguments: Mapping[str, object],
    ) -> None:
        """Declare an exchange, or check it exists (``passive``)."""
        method = "exchange.declare"
        if not passive and exchange_type not in EXCHANGE_TYPES:
            # RabbitMQ closes the whole connection for this (503).
            raise connection_error(
                COMMAND_INVALID, f"invalid exchange type '{exchange_type}'"
            )
        self._refuse_default(name, method)
        existing = self.exchanges.get(name)
        if passive:
            if existing is None:
                raise self._no_exchange(name, method)
            return
        if existing is None:
            self._refuse_reserved("exchange", name, method)
            alternate = arguments.get("alternate-exchange", "")
            if not isinstance(alternate, str | bytes):
                raise channel_error(
                    PRECONDITION_FAILED,
                    f"invalid type '{amqp_type_name(alternate)}' for arg "
                    f"'alternate-exchange' in exchange '{name}' in vhost "
                    f"'{self.name}'",
                    method,
                )
            self.exchanges[name] = MemoryExchange(
                name,
                exchange_type,
                durable=durable,
                auto_delete=auto_delete,
                internal=internal,
                arguments=arguments,
            )
            return
        where = f"for exchange '{name}' in vhost '{self.name}'"
        for field, current, received in (
            ("type", existing.type, exchange_type),
            ("durable", existing.durable, durable),
            ("auto_delete", existing.auto_delete, auto_delete),
            ("internal", existing.internal, internal),
        ):
            if current != received:
                raise inequivalent(field, where, received, current, method)
        check_arguments(
            existing.arguments, arguments, ("alternate-exchange",), where, method
        )

    def exchange_delete(self, name: str, *, if_unused: bool) -> None:
        """Delete an exchange and its bindings; a missing one is fine."""
        method = "exchange.delete"
        self._refuse_default(name, method)
        if name.startswith("amq.") and name in self.exchanges:
            raise channel_error(
                ACCESS_REFUSED,
                f"deletion of system exchange '{name}' in vhost '{self.name}' "
                "not allowed",
                method,
            )
        exchange = self.exchanges.get(name)
        if exchange is None:
            return
        if if_unused and exchange.bindings:
            raise channel_error(
                PRECONDITION_FAILED,
                f"exchange '{name}' in vhost '{self.name}' in use",
                method,
            )
        self._delete_exchange(exchange)

    def exchange_for_publish(self, name: str) -> MemoryExchange:
        """Return the exchange a message is published to (404, or 403 if internal)."""
        exchange = self.exchanges.get(name)
        if exchange is None:
            raise self._no_exchange(name, "basic.publish")
        if exchange.internal:
            raise channel_error(
                ACCESS_REFUSED,
                f"cannot publish to internal exchange '{name}' in vhost '{self.name}'",
                "basic.publish",
            )
        return exchange

    # -- bindings ------------------------------------------------------------

    def bind(
        self,
        source: str,
        destination: str,
        *,
        to_queue: bool,
        routing_key: str,
        arguments: Mapping[str, object],
        connection: object,
    ) -> None:
        """Bind a queue or an exchange to exchange ``source`` (idempotent)."""
        method = "queue.bind" if to_queue else "exchange.bind"
        if not to_queue:
            self._refuse_default(destination, method)
        self._refuse_default(source, method)
        exchange = self.exchanges.get(source)
        if exchange is None:
            raise self._no_exchange(source, method)
        target: Destination
        if to_queue:
            target = self.queue_for(destination, connection, method)
        else:
            found = self.exchanges.get(destination)
            if found is None:
                raise self._no_exchange(destination, method)
            target = found
        if exchange.type == "headers" and (problem := x_match_error(arguments)):
            raise channel_error(PRECONDITION_FAILED, problem, method)
        key = binding_key(to_queue, destination, routing_key, arguments)
        if key in exchange.bindings:
            return
        binding = Binding(exchange, target, routing_key, arguments, key)
        exchange.add_binding(binding)
        target.incoming[(source, *key[1:])] = binding

    def unbind(
        self,
        source: str,
        destination: str,
        *,
        to_queue: bool,
        routing_key: str,
        arguments: Mapping[str, object],
    ) -> None:
        """Remove a binding; a missing binding, queue or exchange is fine."""
        method = "queue.unbind" if to_queue else "exchange.unbind"
        if not to_queue:
            self._refuse_default(destination, method)
        self._refuse_default(source, method)
        exchange = self.exchanges.get(source)
        if exchange is not None:
            self._remove_binding(
                exchange, binding_key(to_queue, destination, routing_key, arguments)
            )

    # -- queues --------------------------------------------------------------

    def queue_declare(
        self,
        name: str,
        *,
        passive: bool,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
        arguments: Mapping[str, object],
        connection: object,
    ) -> QueueDeclareOk:
        """Declare a queue (``''`` gets a server name), or check it exists."""
        method = "queue.declare"
        if passive:
            queue = self.queue_for(name, connection, method)
            return QueueDeclareOk(name, queue.ready_count(), len(queue.consumers))
        if name == "":
            name = "amq.gen-" + secrets.token_urlsafe(16)
        else:
            self._refuse_reserved("queue", name, method)
        owner = connection if exclusive else None
        existing = self.queues.get(name)
        if existing is None:
            limits = queue_limits(
                name,
                self.name,
                arguments,
                durable=durable,
                exclusive=exclusive,
                auto_delete=auto_delete,
            )
            queue = self.queues[name] = MemoryQueue(
                name,
                self.name,
                durable=durable,
                auto_delete=auto_delete,
                owner=owner,
                arguments=arguments,
                limits=limits,
                clock=self._clock,
                counters=self._counters,
                dead_letter=self._dead_letters,
                schedule=self._timers.call_at,
            )
            self._expiry.touch(queue)
            return QueueDeclareOk(name, 0, 0)
        if existing.owner is not owner:
            raise self._locked(name, method)
        where = f"for queue '{name}' in vhost '{self.name}'"
        for field, current, received in (
            ("durable", existing.durable, durable),
            ("auto_delete", existing.auto_delete, auto_delete),
        ):
            if current != received:
                raise inequivalent(field, where, received, current, method)
        check_arguments(
            existing.arguments, arguments, EQUIVALENCE_ARGUMENTS, where, method
        )
        self._expiry.touch(existing)
        return QueueDeclareOk(name, existing.ready_count(), len(existing.consumers))

    def queue_for(self, name: str, connection: object, method: str) -> MemoryQueue:
        """Return a queue the connection may use (404 if missing, 405 if locked)."""
        queue = self.queues.get(name)
        if queue is None:
            raise channel_error(
                NOT_FOUND, f"no queue '{name}' in vhost '{self.name}'", method
            )
        if queue.owner is not None and queue.owner is not connection:
            raise self._locked(name, method)
        return queue

    def queue_for_consume(
        self, name: str, connection: object, *, exclusive: bool
    ) -> MemoryQueue:
        """Return a queue to consume from (403 if someone has it exclusively)."""
        queue = self.queue_for(name, connection, "basic.consume")
        if queue.consumers and (
            exclusive or any(other.exclusive for other in queue.consumers)
        ):
            raise channel_error(
                ACCESS_REFUSED,
                f"queue '{name}' in vhost '{self.name}' in exclusive use",
                "basic.consume",
            )
        return queue

    def queue_delete(
        self, name: str, *, if_unused: bool, if_empty: bool, connection: object
    ) -> int:
        """Delete a queue; return its ready message count (0 if it was missing)."""
        method = "queue.delete"
        if name not in self.queues:
            return 0
        queue = self.queue_for(name, connection, method)
        where = f"queue '{name}' in vhost '{self.name}'"
        if if_unused and queue.consumers:
            raise channel_error(PRECONDITION_FAILED, f"{where} in use", method)
        count = queue.ready_count()
        if if_empty and count:
            raise channel_error(PRECONDITION_FAILED, f"{where} not empty", method)
        self.delete_queue(queue)
        return count

    def delete_queue(self, queue: MemoryQueue) -> None:
        """Delete ``queue``: drop its messages and bindings, cancel its consumers."""
        if queue.deleted:
            return
        queue.deleted = True
        del self.queues[queue.name]
        queue.purge()
        for consumer in list(queue.consumers):
            consumer.owner.cancelled_by_broker(consumer)
        queue.consumers.clear()
        for binding in list(queue.incoming.values()):
            self._remove_binding(binding.source, binding.key)

    def consumer_gone(self, queue: MemoryQueue) -> None:
        """Apply auto-delete (or restart ``x-expires``) after a consumer went."""
        if queue.consumers:
            return
        if queue.auto_delete and queue.had_consumer:
            self.delete_queue(queue)
        else:
            self._expiry.touch(queue)

    def used(self, queue: MemoryQueue) -> None:
        """``queue`` was read with ``basic.get``: restart its ``x-expires``."""
        self._expiry.touch(queue)

    # -- restart -------------------------------------------------------------

    def recover(self) -> None:
        """Keep what a RabbitMQ node recovers from disk when it restarts.

        Durable exchanges and queues stay, with the bindings between two of
        them and their queues' persistent messages; the rest goes.  Nothing
        is auto-deleted on the way: a durable auto-delete exchange left
        without bindings stays, as RabbitMQ recovers it.  Called on a
        stopped broker, so no consumer or exclusive queue is left.
        """
        for queue in [queue for queue in self.queues.values() if not queue.durable]:
            queue.deleted = True
            queue.purge()
            del self.queues[queue.name]
        for exchange in [e for e in self.exchanges.values() if not e.durable]:
            exchange.deleted = True
            del self.exchanges[exchange.name]
        for exchange in self.exchanges.values():
            for key, binding in list(exchange.bindings.items()):
                if binding.destination.deleted:
                    exchange.remove_binding(key)
            for key, binding in list(exchange.incoming.items()):
                if binding.source.deleted:
                    del exchange.incoming[key]
        for queue in self.queues.values():
            for key, binding in list(queue.incoming.items()):
                if binding.source.deleted:
                    del queue.incoming[key]
            queue.keep_persistent()
            self._expiry.touch(queue)

    # -- routing -------------------------------------------------------------

    def route(
        self,
        exchange: MemoryExchange,
        routing_key: str,
        headers: Mapping[str, object] | None,
    ) -> list[MemoryQueue]:
        """Return the queues a message reaches, following exchange bindings.

        An exchange whose own bindings match nothing hands the message to its
        alternate exchange, if that exists.  Each queue gets one copy, even
        through cycles.
        """
        queues: dict[MemoryQueue, None] = {}
        seen = {exchange}
        pending = [exchange]
        while pending:
            current = pending.pop()
            matched = False
            for target in current.route(routing_key, headers):
                matched = True
                if isinstance(target, MemoryQueue):
                    queues[target] = None
                elif target not in seen:
                    seen.add(target)
                    pending.append(target)
            if not matched and current.alternate is not None:
                alternate = self.exchanges.get(current.alternate)
                if alternate is not None and alternate not in seen:
                    seen.add(alternate)
                    pending.append(alternate)
        return list(queues)

    # -- internals -----------------------------------------------------------

    def _remove_binding(self, exchange: MemoryExchange, key: BindingKey) -> None:
        binding = exchange.remove_binding(key)
        if binding is None:
            return
        binding.destination.incoming.pop((exchange.name, *key[1:]), None)
        if exchange.auto_delete and not exchange.bindings and not exchange.deleted:
            self._delete_exchange(exchange)

    def _delete_exchange(self, exchange: MemoryExchange) -> None:
        exchange.deleted = True
        del self.exchanges[exchange.name]
        for key in list(exchange.bindings):
            self._remove_binding(exchange, key)
        for binding in list(exchange.incoming.values()):
            self._remove_binding(binding.source, binding.key)

    def _refuse_default(self, name: str, method: str) -> None:
        if name == "":
            raise channel_error(ACCESS_REFUSED, _DEFAULT_EXCHANGE_REFUSED, method)

    def _refuse_reserved(self, kind: str, name: str, method: str) -> None:
        if name.startswith("amq."):
            raise channel_error(
                ACCESS_REFUSED,
                f"{kind} name '{name}' contains reserved prefix 'amq.*'",
                method,
            )

    def _no_exchange(self, name: str, method: str) -> Exception:
        return channel_error(
            NOT_FOUND, f"no exchange '{name}' in vhost '{self.name}'", method
        )

    def _locked(self, name: str, method: str) -> Exception:
        return channel_error(
            RESOURCE_LOCKED,
            f"cannot obtain exclusive access to locked queue '{name}' in vhost "
            f"'{self.name}'. It could be originally declared on another connection "
            "or the exclusive property value does not match that of the original "
            "declaration.",
            method,
        )
