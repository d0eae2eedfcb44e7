"""The memory broker: an in-process AMQP 0-9-1 broker with RabbitMQ's semantics.

A :class:`Broker` holds virtual hosts (``'/'`` exists from the start), their
exchanges, queues, bindings and messages, and the connections open to it.
All ``memory://`` connections of a process share :func:`default_broker`, as
kombu's memory transport does; a test can build a private ``Broker()`` and
pass it to :class:`~kombu_lite.transport.memory.MemoryTransport`.

Thread safety: one lock guards the whole broker.  Each connection waits for
its events on its own :class:`threading.Condition` built over that lock, so a
publish in one thread wakes exactly the connection it delivered to.

Fault simulation for tests: :meth:`Broker.stop` / :meth:`Broker.start` (a
node restart), :meth:`Broker.close_all_connections`, resource alarms
(:meth:`Broker.set_alarm`) and a lower message size limit
(:meth:`Broker.set_max_message_size`).  Inspection without a consumer:
:meth:`Broker.queue_messages`, :meth:`Broker.queues`, :meth:`Broker.exchanges`,
:meth:`Broker.bindings` and :meth:`Broker.statistics`.

A restart keeps what a RabbitMQ node recovers from disk, and only that:
durable exchanges and queues, the bindings between two of them, and the
persistent messages (``delivery_mode`` 2) of durable queues.  Transient
exchanges and queues, their bindings and every other message are gone.

Known differences from RabbitMQ (the memory broker is for tests, not a
server):

* Nothing is written to disk: a restart is :meth:`Broker.stop` then
  :meth:`Broker.start` in the same process; a new ``Broker()`` starts
  empty.
* Dead-lettering, TTLs (expired on time by a timer thread, see
  :mod:`~kombu_lite.transport.memory.expiry`), ``x-expires``, quorum queues'
  delivery counts and limits, ``x-single-active-consumer`` and consumer
  priorities behave as on RabbitMQ 3.10; streams (``x-queue-type:
  stream``) are refused.  A quorum queue is otherwise a classic queue (no
  replicas, no leader to lose).
* Only the built-in exchange types; no ``amq.rabbitmq.trace``.
* No per-user permissions; ``channel_max`` is RabbitMQ's default (2047,
  lowered by the ``channel_max`` transport option); ``frame_max`` is
  RabbitMQ's default (131072) for the properties check and bodies are never
  split.
* Refusals of asynchronous methods (``basic.publish`` to a missing exchange
  or with an oversize body, ``basic.ack`` with an unknown tag) are raised by
  the call itself; RabbitMQ reports them with the next synchronous call on
  the channel.
"""

from __future__ import annotations

import threading
import time
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from kombu_lite.exceptions import (
    AccessRefused,
    ConfigurationError,
    NotFound,
    OperationalError,
)
from kombu_lite.transport.memory.alarms import Alarms
from kombu_lite.transport.memory.delivery import fresh_properties
from kombu_lite.transport.memory.expiry import Timers
from kombu_lite.transport.memory.inspection import (
    BindingInfo,
    BrokerStatistics,
    ExchangeInfo,
    MessageInfo,
    QueueInfo,
)
from kombu_lite.transport.memory.queue import Counters
from kombu_lite.transport.memory.replies import (
    ACCESS_REFUSED,
    CONNECTION_FORCED,
    MAX_MESSAGE_SIZE_LIMIT,
    NOT_ALLOWED,
    connection_error,
    reply_text,
)
from kombu_lite.transport.memory.vhost import VirtualHost

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from kombu_lite.transport.base import ConnectionParameters

__all__ = ["DEFAULT_MAX_MESSAGE_SIZE", "Broker", "BrokerConnection", "default_broker"]


class BrokerConnection(Protocol):
    """An open connection, as the broker sees it (MemoryConnection is one)."""

    @property
    def channel_count(self) -> int:
        """The number of open channels."""

    def break_locked(self, error: OperationalError, *, noticed: bool) -> None:
        """Break the connection with a connection-level error (lock held)."""


#: RabbitMQ's default ``max_message_size`` since 3.8: 128 MiB.
DEFAULT_MAX_MESSAGE_SIZE = 128 * 1024 * 1024


class Broker:
    """An in-process AMQP broker; see the module docstring for its rules.

    Args:
        users: ``{userid: password}``.  When given, connections must log in
            with one of these; when None (the default) any login is accepted.
        clock: Monotonic seconds, used for message TTLs and ``x-expires``.
            Tests can inject a fake clock to expire messages without
            sleeping; expiry then happens lazily, at the next channel method
            or inspection, and no timer thread runs.
        max_message_size: The largest body accepted, in bytes (RabbitMQ's
            ``max_message_size``); see :meth:`set_max_message_size`.

    Raises:
        ConfigurationError: ``max_message_size`` is not an int from 0 to
            512 MiB.
    """

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        #: Read on every publish, so kept as a plain attribute.
        self._max_message_size = _checked_size(max_message_size)
        self._configured_max_message_size = self._max_message_size
        self._lock = threading.Lock()
        self._users = dict(users) if users is not None else None
        self._clock = clock
        self._running = True
        self._counters = Counters()
        self._timers = Timers(self._lock, clock, threaded=clock is time.monotonic)
        self._vhosts: dict[str, VirtualHost] = {"/": self._new_vhost("/")}
        self._connections: dict[BrokerConnection, None] = {}
        self._alarms = Alarms(self._lock)

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<Broker {state} vhosts={sorted(self._vhosts)!r}>"

    # -- configuration and faults -------------------------------------------

    def add_vhost(self, name: str) -> None:
        """Create virtual host ``name`` (adding an existing one is harmless)."""
        with self._lock:
            if name not in self._vhosts:
                self._vhosts[name] = self._new_vhost(name)

    def reset(self) -> None:
        """Empty the broker: break every connection, drop all entities and messages.

        Every virtual host is emptied and gets its ``amq.*`` exchanges back;
        the virtual hosts themselves and the users stay.  A stopped broker is
        started again, the statistics counters restart from zero, alarms are
        cleared and ``max_message_size`` is the one given to the constructor
        again.  The timer thread (TTLs, ``x-expires``) ends before this
        returns.
        """
        with self._lock:
            self._break_all("the memory broker was reset")
            self._counters = Counters()
            self._vhosts = {name: self._new_vhost(name) for name in self._vhosts}
            self._running = True
            self._max_message_size = self._configured_max_message_size
            self._alarms.clear(None)
            # Last: breaking connections requeued messages, arming timers.
            timer_thread = self._timers.shutdown()
        if timer_thread is not None:
            timer_thread.join()

    def stop(self) -> None:
        """Simulate a broker shutdown (``rabbitmqctl stop_app``).

        Open connections break (their next call, and any ``drain_events``
        waiting now, raise ``ConnectionLost`` with reply code 320) and new
        connections are refused with ``OperationalError`` until
        :meth:`start`.  Unacknowledged messages go back to their queues,
        marked redelivered, and exclusive queues go with their connections.

        As on a RabbitMQ node restart, :meth:`start` then brings back only
        durable exchanges and queues, the bindings between them and the
        persistent messages (``delivery_mode`` 2) of durable queues; the
        rest is gone.  Until then, inspection shows the broker as it was
        when it stopped, and no TTL or ``x-expires`` timer runs (the timer
        thread has ended when this returns).
        """
        with self._lock:
            self._running = False
            self._break_all("broker forced connection closure with reason 'shutdown'")
            timer_thread = self._timers.shutdown()
        if timer_thread is not None:
            timer_thread.join()

    def start(self) -> None:
        """Start a stopped broker, keeping only what RabbitMQ keeps on a restart.

        Durable exchanges and queues survive, with the bindings between
        them and the persistent messages (``delivery_mode`` 2) of durable
        queues.  Transient exchanges and queues, the bindings to or from
        them and non-persistent messages are gone, as after a RabbitMQ
        node restart.  Calling it on a running broker does nothing.
        """
        with self._lock:
            if self._running:
                return
            for vhost in self._vhosts.values():
                vhost.recover()
            self._running = True

    @property
    def max_message_size(self) -> int:
        """The largest message body the broker accepts, in bytes."""
        return self._max_message_size

    def set_max_message_size(self, size: int | None = None) -> None:
        """Change the largest body accepted (RabbitMQ's ``max_message_size``).

        A publish with a longer body is refused with ``PreconditionFailed``
        (406, ``message size N is larger than configured max size M``) and
        closes its channel; nothing is enqueued.  ``None`` goes back to the
        size given to the constructor, as :meth:`reset` also does.

        Raises:
            ConfigurationError: ``size`` is not an int from 0 to 512 MiB,
                RabbitMQ's limit.
        """
        checked = (
            self._configured_max_message_size if size is None else _checked_size(size)
        )
        with self._lock:
            self._max_message_size = checked

    @property
    def is_running(self) -> bool:
        """False between :meth:`stop` and :meth:`start`."""
        return self._running

    def close_all_connections(self, reason: str = "Closed via rabbitmqctl") -> None:
        """Force-close every open connection (``rabbitmqctl close_all_connections``).

        Their next call raises ``ConnectionLost`` (reply code 320,
        ``CONNECTION_FORCED - <reason>``); new connections work.
        """
        with self._lock:
            self._break_all(reason)

    def set_alarm(self, resource: str = "memory") -> None:
        """Raise a resource alarm, as RabbitMQ does when memory or disk run low.

        Every publish from then on blocks: its connection's ``on_blocked`` is
        told the reason ("low on memory"), and the publish waits for
        :meth:`clear_alarm` up to the connection's
        ``blocked_connection_timeout``, then raises ``ConnectionBlocked``
        without sending.  See :mod:`kombu_lite.transport.memory.alarms`.

        Raises:
            ValueError: ``resource`` is not ``'memory'`` or ``'disk'``.
        """
        with self._lock:
            self._alarms.raise_alarm(resource)

    def clear_alarm(self, resource: str | None = None) -> None:
        """Clear one alarm (all when ``resource`` is None).

        Once none is left, held publishes go on and each connection that was
        blocked has its ``on_unblocked`` called, in this thread.
        """
        with self._lock:
            told = self._alarms.clear(resource)
        for notice in told:
            if notice.on_unblocked is not None:
                notice.on_unblocked()

    # -- inspection ----------------------------------------------------------

    def queue_messages(self, queue: str, vhost: str = "/") -> list[MessageInfo]:
        """Return the ready messages of ``queue``, in delivery order.

        Raises:
            NotFound: the virtual host or the queue does not exist.
        """
        with self._lock:
            self._due()
            found = self._vhost(vhost).queues.get(queue)
            if found is None:
                raise NotFound(f"no queue '{queue}' in vhost '{vhost}'")
            return [
                MessageInfo(
                    body=message.body,
                    properties=fresh_properties(message.properties),
                    exchange=message.exchange,
                    routing_key=message.routing_key,
                    redelivered=message.redelivered,
                    priority=found.level_of(message),
                )
                for message in found.messages()
            ]

    def queues(self, vhost: str = "/") -> list[QueueInfo]:
        """Return every queue of ``vhost``, in declaration order."""
        with self._lock:
            self._due()
            return [
                QueueInfo(
                    name=queue.name,
                    vhost=vhost,
                    durable=queue.durable,
                    exclusive=queue.owner is not None,
                    auto_delete=queue.auto_delete,
                    arguments=MappingProxyType(dict(queue.arguments)),
                    messages_ready=queue.ready_count(),
                    messages_unacknowledged=queue.unacked,
                    consumers=len(queue.consumers),
                )
                for queue in self._vhost(vhost).queues.values()
            ]

    def exchanges(self, vhost: str = "/") -> list[ExchangeInfo]:
        """Return every exchange of ``vhost``, the default one (``''``) first."""
        with self._lock:
            return [
                ExchangeInfo(
                    name=exchange.name,
                    vhost=vhost,
                    type=exchange.type,
                    durable=exchange.durable,
                    auto_delete=exchange.auto_delete,
                    internal=exchange.internal,
                    arguments=MappingProxyType(dict(exchange.arguments)),
                )
                for exchange in self._vhost(vhost).exchanges.values()
            ]

    def bindings(self, vhost: str = "/") -> list[BindingInfo]:
        """Return every explicit binding of ``vhost``."""
        with self._lock:
            return [
                BindingInfo(
                    vhost=vhost,
                    source=exchange.name,
                    destination=binding.key[1],
                    destination_type="queue"
                    if binding.key[0] == "queue"
                    else "exchange",
                    routing_key=binding.routing_key,
                    arguments=MappingProxyType(dict(binding.arguments)),
                )
                for exchange in self._vhost(vhost).exchanges.values()
                for binding in exchange.bindings.values()
            ]

    def statistics(self) -> BrokerStatistics:
        """Return a snapshot of the broker's counts."""
        with self._lock:
            self._due()
            vhosts = list(self._vhosts.values())
            queues = [queue for vhost in vhosts for queue in vhost.queues.values()]
            counters = self._counters
            return BrokerStatistics(
                running=self._running,
                vhosts=len(vhosts),
                connections=len(self._connections),
                channels=sum(conn.channel_count for conn in self._connections),
                exchanges=sum(len(vhost.exchanges) for vhost in vhosts),
                queues=len(queues),
                bindings=sum(
                    len(exchange.bindings)
                    for vhost in vhosts
                    for exchange in vhost.exchanges.values()
                ),
                consumers=sum(len(queue.consumers) for queue in queues),
                messages_ready=sum(queue.ready_count() for queue in queues),
                messages_unacknowledged=sum(queue.unacked for queue in queues),
                published=counters.published,
                unroutable=counters.unroutable,
                returned=counters.returned,
                delivered=counters.delivered,
                redelivered=counters.redelivered,
                acknowledged=counters.acknowledged,
                expired=counters.expired,
                dropped=counters.dropped,
            )

    # -- package internals (used by the connection and channel modules) -----

    def _open(self, params: ConnectionParameters) -> VirtualHost:
        """Check a login like RabbitMQ's handshake; return the virtual host.

        Called with the lock held.
        """
        if not self._running:
            raise OperationalError(
                "cannot connect to the memory broker: connection refused "
                "(the broker was stopped; call Broker.start())"
            )
        if (
            self._users is not None
            and self._users.get(params.userid) != params.password
        ):
            text = reply_text(
                ACCESS_REFUSED,
                "Login was refused using authentication mechanism PLAIN. "
                f"Check the userid and password for user '{params.userid}'.",
            )
            raise AccessRefused(text, reply_code=ACCESS_REFUSED, reply_text=text)
        vhost = self._vhosts.get(params.virtual_host)
        if vhost is None:
            raise connection_error(
                NOT_ALLOWED, f"vhost {params.virtual_host} not found"
            )
        return vhost

    def _register(self, connection: BrokerConnection) -> None:
        self._connections[connection] = None

    def _unregister(self, connection: BrokerConnection) -> None:
        self._connections.pop(connection, None)

    def _break_all(self, reason: str) -> None:
        for connection in list(self._connections):
            connection.break_locked(
                connection_error(CONNECTION_FORCED, reason), noticed=False
            )
        self._connections.clear()

    def _vhost(self, name: str) -> VirtualHost:
        vhost = self._vhosts.get(name)
        if vhost is None:
            raise NotFound(
                f"no vhost '{name}' on this broker; create it with add_vhost()"
            )
        return vhost

    def _new_vhost(self, name: str) -> VirtualHost:
        return VirtualHost(name, self._clock, self._counters, self._timers)

    def _due(self) -> None:
        """Run the timers whose time has come (lock held; an injected clock)."""
        if self._running:
            self._timers.run_due()


def _checked_size(size: object) -> int:
    if (
        isinstance(size, bool)
        or not isinstance(size, int)
        or not 0 <= size <= MAX_MESSAGE_SIZE_LIMIT
    ):
        raise ConfigurationError(
            f"max_message_size must be an int of bytes from 0 to "
            f"{MAX_MESSAGE_SIZE_LIMIT} (512 MiB, RabbitMQ's limit), not {size!r}"
        )
    return size


#: Holds the default broker once made.  Made on first use, not at import:
#: its locks would be real OS locks in a program that monkey patches
#: ``threading`` (eventlet, gevent) after importing kombu_lite.
_DEFAULT: dict[str, Broker] = {}


def default_broker() -> Broker:
    """Return the process-wide broker every ``memory://`` connection shares.

    Made on first use; threads asking at once all get the same one.
    """
    broker = _DEFAULT.get("broker")
    if broker is None:
        # setdefault is atomic: a broker made by a losing thread is dropped.
        broker = _DEFAULT.setdefault("broker", Broker())
    return broker
