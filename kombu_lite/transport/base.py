"""Transport contract: the only interface the core uses to talk to a broker.

The core reaches a broker only through :class:`kombu_lite.channel.Channel`
(the one door) and its connection, which speak to it through the
:class:`Transport`, :class:`WireConnection` and :class:`WireChannel`
protocols below, and exchange data with it only as the frozen dataclasses
defined here.  Two transports implement the contract: the
``transport/pyamqp`` package (RabbitMQ over py-amqp) and the
``transport/memory`` package (an in-process broker with RabbitMQ's
semantics).  Inside each, a channel knows its connection only as that
transport's ``contract.ChannelConnection`` Protocol, and a channel's life is
a :class:`~kombu_lite.transport.channel_state.ChannelLifecycle`.

Rules every implementation keeps:

* It raises only :mod:`kombu_lite.exceptions` classes (and the builtin
  :class:`TimeoutError` from ``drain_events``).  A broker that closes a
  channel raises the :class:`~kombu_lite.exceptions.ChannelError` subclass
  for the reply code (404 -> ``NotFound``...) and the channel is then closed;
  a later call on it raises :class:`~kombu_lite.exceptions.ChannelClosed`.
  A broken or broker-closed connection raises
  :class:`~kombu_lite.exceptions.ConnectionLost`; a refused login raises
  :class:`~kombu_lite.exceptions.AccessRefused`; an unknown vhost raises
  :class:`~kombu_lite.exceptions.NotAllowed`.
* No error text contains the password.
* Deliveries and consumer cancellations are dispatched only by
  :meth:`WireConnection.drain_events`, in the thread that calls it, one at
  a time: never nested inside a confirm wait or a synchronous call (a
  delivery that arrives meanwhile is queued), and never for a consumer
  whose ``basic_cancel`` has returned.  Return handlers run inside
  ``drain_events`` or inside a call on the same connection that waits for
  the broker; no callback runs from a background thread.
* One thread's ``drain_events`` never stops other threads' synchronous
  calls on the same connection: whichever thread reads dispatches every
  frame, replies to other threads included.  Every synchronous call is
  bounded by :attr:`ConnectionParameters.rpc_timeout`
  (:class:`~kombu_lite.exceptions.RpcTimeout`).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Mapping, Sequence

    from kombu_lite.transport.idle import IdleHooks

__all__ = [
    "BasicProperties",
    "ConnectionParameters",
    "Delivery",
    "QueueDeclareOk",
    "ReturnedMessage",
    "Transport",
    "WireChannel",
    "WireConnection",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class BasicProperties:
    """The AMQP ``basic`` content properties of one message.

    ``headers`` is the AMQP ``application_headers`` table.  ``expiration``
    is the wire form (milliseconds as a decimal string).  ``timestamp`` is
    POSIX seconds.
    """

    content_type: str | None = None
    content_encoding: str | None = None
    headers: Mapping[str, object] | None = None
    delivery_mode: int | None = None
    priority: int | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    expiration: str | None = None
    message_id: str | None = None
    timestamp: int | None = None
    type: str | None = None
    user_id: str | None = None
    app_id: str | None = None
    cluster_id: str | None = None

    def as_dict(self) -> dict[str, object]:
        """Return the properties that are set, as a new dict."""
        # One C call reads every field: this runs once per received message.
        return {
            name: value
            for name, value in zip(_PROPERTY_NAMES, _read_all(self), strict=True)
            if value is not None
        }


_PROPERTY_NAMES: tuple[str, ...] = tuple(BasicProperties.__dataclass_fields__)
_read_all = operator.attrgetter(*_PROPERTY_NAMES)


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """A message as the broker handed it over (``basic.get`` or a consumer)."""

    body: bytes
    properties: BasicProperties
    delivery_tag: int
    exchange: str
    routing_key: str
    redelivered: bool = False
    consumer_tag: str | None = None
    message_count: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnedMessage:
    """A ``mandatory`` message the broker could not route (``basic.return``)."""

    reply_code: int
    reply_text: str
    exchange: str
    routing_key: str
    body: bytes
    properties: BasicProperties


class QueueDeclareOk(NamedTuple):
    """The broker's answer to ``queue.declare``."""

    queue: str
    message_count: int
    consumer_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionParameters:
    """Everything a transport needs to open one connection.

    Built by :class:`kombu_lite.Connection` from its URL and keyword
    arguments; defaults are already filled in.  The password is excluded
    from ``repr``.
    """

    hostname: str
    port: int
    userid: str
    password: str = field(repr=False)
    virtual_host: str
    ssl: bool | Mapping[str, object] | ssl.SSLContext = False
    connect_timeout: float | None = 4.0
    heartbeat: float = 0.0
    login_method: str | None = None
    #: Seconds a publish waits while the broker blocks the connection
    #: (``None``: no limit); then ``ConnectionBlocked``.
    blocked_connection_timeout: float | None = 60.0
    #: Seconds a synchronous call (declare, bind, qos, get, confirm.select,
    #: channel open and close...) waits for the broker's reply; then
    #: ``RpcTimeout`` and the channel is closed.
    rpc_timeout: float = 30.0
    #: Told the reason when the broker blocks publishing (connection.blocked).
    on_blocked: Callable[[str], None] | None = field(default=None, repr=False)
    #: Told when the broker unblocks publishing.
    on_unblocked: Callable[[], None] | None = field(default=None, repr=False)
    transport_options: Mapping[str, object] = field(default_factory=dict)


class WireChannel(Protocol):
    """One AMQP channel.  Every method blocks until the broker answered.

    Each method raises the ``ChannelError`` subclass for the broker's reply
    code (the channel is closed afterwards), ``ChannelClosed`` when the
    channel was already closed, or ``ConnectionLost``/``OperationalError``
    when the connection failed.
    """

    @property
    def channel_id(self) -> int:
        """The channel number on its connection."""
        ...

    @property
    def is_open(self) -> bool:
        """False once the channel was closed by either side."""
        ...

    def exchange_declare(
        self,
        exchange: str,
        exchange_type: str,
        *,
        passive: bool = False,
        durable: bool = True,
        auto_delete: bool = False,
        internal: bool = False,
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Declare an exchange (``passive`` only checks that it exists)."""
        ...

    def exchange_delete(self, exchange: str, *, if_unused: bool = False) -> None:
        """Delete an exchange; deleting a missing one is not an error."""
        ...

    def exchange_bind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Bind exchange ``destination`` to exchange ``source``."""
        ...

    def exchange_unbind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Remove an exchange-to-exchange binding."""
        ...

    def queue_declare(
        self,
        queue: str,
        *,
        passive: bool = False,
        durable: bool = True,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: Mapping[str, object] | None = None,
    ) -> QueueDeclareOk:
        """Declare a queue; ``queue=''`` asks the broker to name it."""
        ...

    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Bind a queue to an exchange."""
        ...

    def queue_unbind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Remove a queue binding."""
        ...

    def queue_purge(self, queue: str) -> int:
        """Drop the ready messages of a queue; return how many."""
        ...

    def queue_delete(
        self, queue: str, *, if_unused: bool = False, if_empty: bool = False
    ) -> int:
        """Delete a queue; return how many messages it held."""
        ...

    def basic_publish(
        self,
        body: bytes,
        properties: BasicProperties,
        exchange: str,
        routing_key: str,
        *,
        mandatory: bool = False,
    ) -> int:
        """Send one message; return its delivery tag (0 without confirms).

        Guarantee: when this returns, the frames were handed to the
        connection; without publisher confirms that says nothing about the
        broker.  If it raises ``ConnectionLost``, the message may or may not
        have reached the broker.
        """
        ...

    def basic_publish_batch(
        self,
        messages: Sequence[tuple[bytes, BasicProperties]],
        exchange: str,
        routing_key: str,
        *,
        mandatory: bool = False,
    ) -> list[int]:
        """Send several messages to one destination; return their tags.

        The tags are in order, zeros when confirms are off.  A transport
        may write them at once (py-amqp: one socket write).

        Raises:
            EncodeError: a message does not fit its AMQP types; nothing of
                the batch was sent.
            ConnectionLost: the write failed; each message of the batch
                may or may not have reached the broker.
        """
        ...

    def confirm_select(self) -> None:
        """Turn on publisher confirms: later publishes get delivery tags."""
        ...

    def wait_for_confirm(
        self, delivery_tag: int, timeout: float | None
    ) -> ReturnedMessage | None:
        """Wait until the broker confirmed the message with ``delivery_tag``.

        Confirms are matched by tag (``multiple`` acks included), never by
        arrival order.  Returns the ``basic.return`` that came before the
        confirm of a ``mandatory`` message that could not be routed (after
        the return handler, if any, was called), else ``None``.

        Raises:
            MessageNacked: the broker refused this message (it was not
                enqueued).
            ConfirmTimeout: no answer within ``timeout`` seconds; the
                message may or may not have been enqueued.
            ConnectionLost: the connection died first (outcome unknown).
        """
        ...

    def basic_get(self, queue: str, *, no_ack: bool = False) -> Delivery | None:
        """Fetch one message from a queue, or ``None`` when it is empty."""
        ...

    def basic_ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        """Acknowledge a delivery (and all before it when ``multiple``)."""
        ...

    def basic_reject(self, delivery_tag: int, *, requeue: bool) -> None:
        """Reject a delivery; ``requeue`` puts it back in its queue."""
        ...

    def basic_recover(self, *, requeue: bool = True) -> None:
        """Redeliver every unacknowledged message of this channel."""
        ...

    def basic_qos(
        self,
        *,
        prefetch_size: int = 0,
        prefetch_count: int = 0,
        apply_global: bool = False,
    ) -> None:
        """Limit how many unacknowledged deliveries the broker sends."""
        ...

    def basic_consume(
        self,
        queue: str,
        callback: Callable[[Delivery], None],
        *,
        consumer_tag: str = "",
        no_ack: bool = False,
        exclusive: bool = False,
        arguments: Mapping[str, object] | None = None,
        on_cancel: Callable[[str], None] | None = None,
    ) -> str:
        """Start a consumer and return its tag.

        ``callback`` runs inside ``drain_events``.  ``on_cancel`` runs when
        the broker cancels the consumer (for example its queue was deleted).
        """
        ...

    def basic_cancel(self, consumer_tag: str) -> None:
        """Stop a consumer; unknown tags are ignored."""
        ...

    def set_return_handler(
        self, handler: Callable[[ReturnedMessage], None] | None
    ) -> None:
        """Call ``handler`` for each ``basic.return`` on this channel."""
        ...

    def close(self) -> None:
        """Close the channel; closing twice is harmless and never raises."""
        ...


class WireConnection(Protocol):
    """One open connection to a broker.

    Attributes:
        idle_hooks: Run by :meth:`drain_events` when it is about to wait
            (nothing read is left to hand out).
    """

    idle_hooks: IdleHooks

    @property
    def is_connected(self) -> bool:
        """False once the connection was closed or found broken."""
        ...

    @property
    def server_properties(self) -> Mapping[str, object]:
        """What the broker said about itself in ``connection.start``."""
        ...

    @property
    def heartbeat(self) -> float:
        """The heartbeat interval agreed with the broker, in seconds (0: off)."""
        ...

    def channel(self) -> WireChannel:
        """Open a new channel."""
        ...

    def drain_events(self, timeout: float | None = None) -> None:
        """Wait for one event from the broker and dispatch it.

        Raises:
            TimeoutError: nothing arrived within ``timeout`` seconds.
        """
        ...

    def close(self) -> None:
        """Close the connection and its channels; never raises."""
        ...


class Transport(Protocol):
    """A way to reach a broker: opens :class:`WireConnection` objects."""

    name: str
    default_port: int
    #: The ``transport_options`` keys this transport understands; the
    #: Connection rejects any other key before connecting.
    options: frozenset[str]

    def connect(self, params: ConnectionParameters) -> WireConnection:
        """Open a connection.

        Raises:
            OperationalError: the broker cannot be reached (recoverable).
            AccessRefused: the credentials were refused.
            NotAllowed: the virtual host does not exist or is not allowed.
            ProtocolError: the peer is not an AMQP 0-9-1 server.
        """
        ...
