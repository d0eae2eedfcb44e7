"""The :class:`Queue` entity."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from kombu_lite._log import get_logger
from kombu_lite.entity._queue_dict import queue_as_dict, queue_from_dict, queue_state
from kombu_lite.entity.base import (
    Bindable,
    ChannelSource,
    check_arguments,
    check_name,
    frozen_args,
    reprstr,
)
from kombu_lite.entity.exchange import Binding, Exchange
from kombu_lite.entity.queue_args import (
    Overflow,
    QueueType,
    check_dead_letter_exchange,
    check_overflow,
    check_queue_type,
    declare_arguments,
    describe,
    whole,
)
from kombu_lite.exceptions import ConfigurationError, ContentDisallowed
from kombu_lite.exceptions._arguments import checks_keywords

if TYPE_CHECKING:
    from kombu_lite.channel import Channel
    from kombu_lite.message import Message
    from kombu_lite.transport.base import QueueDeclareOk

__all__ = ["Queue"]

OnDeclared = Callable[[str, int, int], object]

logger = get_logger("kombu_lite.entity")


class Queue(Bindable):
    """An AMQP queue, with its binding to an exchange.

    Args:
        name: The queue name; ``''`` lets the broker choose one (it is set
            on this object after :meth:`declare`).
        exchange: The exchange to bind to (an :class:`Exchange` or a
            name); unset, it is ``Exchange('')``, the default exchange,
            which routes by queue name and is never bound to.  A list of
            :class:`Binding` objects here is taken as ``bindings``
            (``Queue(name, [binding(...), ...])``, as in kombu).
        routing_key: The binding key.
        channel: Bind to this channel or connection.
        bindings: More :class:`Binding` objects to bind with.
        durable, exclusive, auto_delete: The queue's flags;
            ``exclusive=True`` implies ``auto_delete=True``.
        queue_arguments: Extra ``queue.declare`` arguments (``x-...``).
        binding_arguments: Arguments of the binding (headers exchanges).
        consumer_arguments: Arguments for ``basic.consume``.
        no_ack: Default for consumers and :meth:`get`.
        alias: A free label.
        expires: Delete the queue after this many idle seconds
            (``x-expires``).
        message_ttl: Drop messages older than this many seconds
            (``x-message-ttl``).
        max_length, max_length_bytes: Cap the queue (``x-max-length...``).
        max_priority: Make it a priority queue (``x-max-priority``).
        on_declared: ``on_declared(name, message_count, consumer_count)``
            after each declare.
        queue_type: ``'classic'``, ``'quorum'`` or ``'stream'``
            (``x-queue-type``); unset, the broker's default (classic).
        dead_letter_exchange: Where rejected, expired or overflowing
            messages go (``x-dead-letter-exchange``): an :class:`Exchange`,
            which :meth:`declare` declares too, or a name (``''``: the
            default exchange, which routes by queue name).
        dead_letter_routing_key: Their new routing key
            (``x-dead-letter-routing-key``); unset, they keep theirs.
        delivery_limit: Quorum queues: dead-letter (or drop) a message
            after this many failed deliveries (``x-delivery-limit``).
        overflow: What a full queue does (``x-overflow``):
            ``'drop-head'`` (the default), ``'reject-publish'`` or
            ``'reject-publish-dlx'``.
        single_active_consumer: Deliver to one consumer at a time, the
            next taking over when it goes (``x-single-active-consumer``).

    The typed keywords are merged into ``queue_arguments`` (see
    :attr:`declare_arguments`); all are checked here, before anything is
    sent, together with the queue's flags, as RabbitMQ 3.10 checks them:
    quorum and stream queues must be named, durable, neither exclusive nor
    auto-delete; quorum queues take no ``x-max-priority``; only quorum
    queues take ``x-delivery-limit``; streams take no TTL, length limit
    (``x-max-length-bytes`` aside), dead-lettering, overflow or single
    active consumer; a dead-letter routing key needs a dead-letter
    exchange.

    Raises:
        ConfigurationError: a bad value, one of those combinations, or a
            keyword and ``queue_arguments`` giving the same ``x-`` argument
            different values.
    """

    ContentDisallowed = ContentDisallowed

    @checks_keywords()
    def __init__(
        self,
        name: str = "",
        exchange: Exchange | str | Iterable[Binding] | None = None,
        routing_key: str = "",
        channel: Channel | ChannelSource | None = None,
        bindings: Iterable[Binding] | None = None,
        durable: bool = True,
        exclusive: bool = False,
        auto_delete: bool = False,
        queue_arguments: Mapping[str, object] | None = None,
        binding_arguments: Mapping[str, object] | None = None,
        consumer_arguments: Mapping[str, object] | None = None,
        no_ack: bool | None = None,
        alias: str | None = None,
        expires: float | None = None,
        message_ttl: float | None = None,
        max_length: int | None = None,
        max_length_bytes: int | None = None,
        max_priority: int | None = None,
        on_declared: OnDeclared | None = None,
        *,
        no_declare: bool = False,
        queue_type: QueueType | None = None,
        dead_letter_exchange: Exchange | str | None = None,
        dead_letter_routing_key: str | None = None,
        delivery_limit: int | None = None,
        overflow: Overflow | None = None,
        single_active_consumer: bool = False,
    ) -> None:
        self.name = check_name("queue", name)
        if isinstance(exchange, list | tuple | set | frozenset):
            # Queue(name, [binding(...), ...]), as in kombu.
            bindings = [*exchange, *(bindings or ())]
            exchange = None
        if exchange is None:
            exchange = Exchange("")
        elif isinstance(exchange, str):
            exchange = Exchange(exchange)
        elif not isinstance(exchange, Exchange):
            raise ConfigurationError(
                f"Queue exchange must be an Exchange, a name or a list of "
                f"bindings, not {type(exchange).__name__}"
            )
        self.exchange: Exchange = exchange
        if not isinstance(routing_key, str):
            raise ConfigurationError(
                f"routing_key must be a str, not {type(routing_key).__name__}"
            )
        self.routing_key = routing_key
        self.bindings: list[Binding] = list(bindings or ())
        for item in self.bindings:
            if not isinstance(item, Binding):
                raise ConfigurationError(
                    f"Queue bindings must be Binding objects, not {type(item).__name__}"
                )
        self.durable = bool(durable)
        self.exclusive = bool(exclusive)
        # An exclusive queue goes with its connection anyway (kombu too).
        self.auto_delete = bool(auto_delete) or self.exclusive
        self.queue_arguments = check_arguments("queue", queue_arguments)
        self.binding_arguments = check_arguments("binding", binding_arguments)
        self.consumer_arguments = check_arguments("consumer", consumer_arguments)
        self.no_ack = no_ack
        self.alias = alias
        self.expires = expires
        self.message_ttl = message_ttl
        self.max_length = whole("max_length", max_length)
        self.max_length_bytes = whole("max_length_bytes", max_length_bytes)
        self.max_priority = whole("max_priority", max_priority)
        if self.max_priority is not None and self.max_priority > 255:
            raise ConfigurationError(f"max_priority must be <= 255, not {max_priority}")
        self.queue_type = check_queue_type(queue_type)
        self.dead_letter_exchange = check_dead_letter_exchange(dead_letter_exchange)
        self.dead_letter_routing_key = dead_letter_routing_key
        self.delivery_limit = whole("delivery_limit", delivery_limit)
        self.overflow = check_overflow(overflow)
        self.single_active_consumer = single_active_consumer
        self._declare_arguments = declare_arguments(self)
        self.on_declared = on_declared
        self.no_declare = bool(no_declare)
        self._channel = channel

    @property
    def declare_arguments(self) -> dict[str, object] | None:
        """The ``queue.declare`` arguments: ``queue_arguments`` and the keywords'."""
        return self._declare_arguments

    # -- value semantics -----------------------------------------------------------

    def _identity(self) -> tuple[object, ...]:
        return (
            self.name,
            self.exchange.declare_key,
            self.routing_key,
            self.durable,
            self.exclusive,
            self.auto_delete,
            frozen_args(self._declare_arguments),
            frozen_args(self.binding_arguments),
            frozen_args(self.consumer_arguments),
            tuple(sorted(repr(b._identity()) for b in self.bindings)),
            # A dead-letter Exchange is declared too; a name is not.
            self.dead_letter_exchange.declare_key
            if isinstance(self.dead_letter_exchange, Exchange)
            else None,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Queue):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(("Queue", *self._identity()))

    def __repr__(self) -> str:
        name = reprstr(self.name)
        if self.bindings:
            listed = ", ".join(map(str, self.bindings))
            return self._bound_repr(f"Queue {name} -> [{listed}]{describe(self)}")
        return self._bound_repr(
            f"Queue {name} -> {self.exchange!r} -> {reprstr(self.routing_key)}"
            f"{describe(self)}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_queue, (queue_state(self),))

    @property
    def can_cache_declaration(self) -> bool:
        """Whether a declare may be skipped once done on a connection.

        Not for server-named, exclusive, auto-delete or expiring queues: the
        broker may delete those behind our back.
        """
        args = self._declare_arguments or {}
        return bool(
            self.name
            and not self.auto_delete
            and not self.exclusive
            and "x-expires" not in args
        )

    @property
    def declare_key(self) -> tuple[object, ...]:
        """What the declare cache remembers: the queue and all its bindings."""
        return ("queue", *self._identity())

    # -- broker methods -------------------------------------------------------------

    def declare(
        self, nowait: bool = False, channel: Channel | ChannelSource | None = None
    ) -> str:
        """Declare the exchange, the queue and its bindings; return the name.

        A ``dead_letter_exchange`` given as an :class:`Exchange` is declared
        after the queue's exchange, before the queue (with ``no_declare``
        too, as the queue's exchange is).  Each step is a separate method:
        if one raises, those before it are done.

        Raises:
            PreconditionFailed: the queue or exchange exists with other
                settings (the text names the argument).
        """
        del nowait
        chan = self._resolve(channel)
        self.exchange.declare(channel=chan)
        if isinstance(self.dead_letter_exchange, Exchange):
            self.dead_letter_exchange.declare(channel=chan)
        if self.no_declare:
            return self.name
        self.queue_declare(channel=chan)
        if self.exchange.name:
            self.queue_bind(channel=chan)
        for item in self.bindings:
            item.declare(chan)
            item.bind(self, channel=chan)
        return self.name

    def queue_declare(
        self,
        nowait: bool = False,
        passive: bool = False,
        channel: Channel | ChannelSource | None = None,
    ) -> QueueDeclareOk:
        """Declare only the queue; return ``(name, message_count, consumer_count)``."""
        del nowait
        result = self._resolve(channel).queue_declare(
            self.name,
            passive=passive,
            durable=self.durable,
            exclusive=self.exclusive,
            auto_delete=self.auto_delete,
            arguments=self._declare_arguments,
        )
        if not self.name:
            self.name = result.queue
        logger.debug(
            "%s queue %r: %d messages, %d consumers",
            "checked" if passive else "declared",
            result.queue,
            result.message_count,
            result.consumer_count,
        )
        if self.on_declared is not None:
            self.on_declared(*result)
        return result

    def queue_bind(
        self, nowait: bool = False, channel: Channel | ChannelSource | None = None
    ) -> None:
        """Bind the queue to its exchange with its routing key.

        Raises:
            ConfigurationError: the exchange is the default one (``''``),
                which takes no bindings (RabbitMQ refuses them).
        """
        if not self.exchange.name:
            raise ConfigurationError(f"queue {self.name!r} has no exchange to bind to")
        self.bind_to(
            self.exchange, self.routing_key, self.binding_arguments, nowait, channel
        )

    def bind_to(
        self,
        exchange: Exchange | str = "",
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
        nowait: bool = False,
        channel: Channel | ChannelSource | None = None,
    ) -> None:
        """Bind the queue to ``exchange`` (an Exchange or a name)."""
        del nowait
        name = exchange.name if isinstance(exchange, Exchange) else exchange
        self._resolve(channel).queue_bind(
            self.name, name, routing_key, arguments=arguments
        )
        logger.debug(
            "bound queue %r to exchange %r with key %r", self.name, name, routing_key
        )

    def queue_unbind(
        self,
        arguments: Mapping[str, object] | None = None,
        nowait: bool = False,
        channel: Channel | ChannelSource | None = None,
    ) -> None:
        """Remove the binding to the queue's own exchange."""
        if not self.exchange.name:
            raise ConfigurationError(
                f"queue {self.name!r} has no exchange to unbind from"
            )
        self.unbind_from(self.exchange, self.routing_key, arguments, nowait, channel)

    def unbind_from(
        self,
        exchange: Exchange | str = "",
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
        nowait: bool = False,
        channel: Channel | ChannelSource | None = None,
    ) -> None:
        """Remove a binding to ``exchange`` (an Exchange or a name)."""
        del nowait
        name = exchange.name if isinstance(exchange, Exchange) else exchange
        self._resolve(channel).queue_unbind(
            self.name, name, routing_key, arguments=arguments
        )

    def purge(
        self, nowait: bool = False, channel: Channel | ChannelSource | None = None
    ) -> int:
        """Drop the queue's ready messages; return how many."""
        del nowait
        return self._resolve(channel).queue_purge(self.name)

    def delete(
        self,
        if_unused: bool = False,
        if_empty: bool = False,
        nowait: bool = False,
        channel: Channel | ChannelSource | None = None,
    ) -> int:
        """Delete the queue; return how many messages it held."""
        del nowait
        return self._resolve(channel).queue_delete(
            self.name, if_unused=if_unused, if_empty=if_empty
        )

    def get(
        self,
        no_ack: bool | None = None,
        accept: Iterable[str] | None = None,
        channel: Channel | ChannelSource | None = None,
    ) -> Message | None:
        """Fetch one message (``basic.get``), or ``None`` if the queue is empty.

        ``accept`` lists the serializers (names or content types) the
        message may be decoded with; the default is json only.
        """
        from kombu_lite.message import prepare_accept

        if isinstance(accept, str):
            accept = [accept]
        accepted = prepare_accept(accept)  # bad names raise before the get
        chan = self._resolve(channel)
        ack_mode = self.no_ack if no_ack is None else no_ack
        message = chan.basic_get(self.name, no_ack=bool(ack_mode))
        if message is not None:
            message.accept = accepted
        return message

    def consume(
        self,
        consumer_tag: str = "",
        callback: Callable[[Message], object] | None = None,
        no_ack: bool | None = None,
        nowait: bool = False,
        on_cancel: Callable[[str], object] | None = None,
    ) -> str:
        """Start a consumer on the bound channel; return its tag.

        ``callback(message)`` runs inside ``drain_events`` for each
        delivery (see :meth:`Channel.basic_consume
        <kombu_lite.channel_amqp.AmqpChannel.basic_consume>`);
        ``no_ack`` defaults to the queue's.  Stop it with :meth:`cancel`.

        Raises:
            NotBoundError: the queue is not bound.
            NotFound: the queue does not exist.
        """
        if no_ack is None:
            no_ack = bool(self.no_ack)
        return self.channel.basic_consume(
            queue=self.name,
            consumer_tag=consumer_tag or "",
            no_ack=no_ack,
            nowait=nowait,
            callback=callback,
            arguments=self.consumer_arguments,
            on_cancel=on_cancel,
        )

    def cancel(self, consumer_tag: str) -> None:
        """Stop the consumer ``consumer_tag`` (unknown tags are ignored)."""
        self.channel.basic_cancel(consumer_tag)

    # -- configuration dicts ---------------------------------------------------------

    def as_dict(self, recurse: bool = False) -> dict[str, Any]:
        """The queue's settings by kombu's attribute names.

        With ``recurse`` the exchange, the bindings and a
        ``dead_letter_exchange`` Exchange are dicts too (else the objects).
        kombu_lite's own keywords (``queue_type``...) are there only when
        set, so a queue kombu could build gives kombu's keys.
        :meth:`from_dict` takes the result back.
        """
        return queue_as_dict(self, recurse)

    @classmethod
    def from_dict(cls, queue: str, **options: Any) -> Queue:
        """Build a queue from a configuration dict, as kombu (Celery's ``task_queues``).

        ``exchange`` (a name, an :class:`Exchange` or its dict),
        ``exchange_type``, ``exchange_durable``, ``exchange_auto_delete``,
        ``exchange_arguments`` and ``delivery_mode`` make the exchange;
        ``binding_key`` (else ``routing_key``) is the binding key;
        ``durable`` and ``auto_delete`` apply to both, unless
        ``queue_durable``/``queue_auto_delete`` or the ``exchange_...``
        ones say otherwise; every other :meth:`as_dict` key is passed to
        :class:`Queue`.  A value of None means the default.

        Raises:
            ConfigurationError: an unknown key (kombu ignores it) or a bad
                value.
        """
        return queue_from_dict(cls, queue, options)


def _rebuild_queue(state: dict[str, Any]) -> Queue:
    return Queue(**state)
