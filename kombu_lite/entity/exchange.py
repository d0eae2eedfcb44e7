"""The :class:`Exchange` entity and :class:`Binding`.

:meth:`Exchange.publish` sends through the one publish pipeline,
:func:`kombu_lite.publication.send`, like ``Producer.publish``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kombu_lite._log import get_logger
from kombu_lite.entity.base import (
    PERSISTENT_DELIVERY_MODE,
    TRANSIENT_DELIVERY_MODE,
    Bindable,
    ChannelSource,
    DeliveryMode,
    check_arguments,
    check_name,
    frozen_args,
    maybe_delivery_mode,
    reprstr,
)
from kombu_lite.exceptions import ConfigurationError, immediate_error
from kombu_lite.exceptions._arguments import checks_keywords
from kombu_lite.publication import Publication, send

if TYPE_CHECKING:
    from kombu_lite.channel import Channel
    from kombu_lite.entity.queue import Queue
    from kombu_lite.message import PreparedMessage

__all__ = ["Binding", "Exchange", "binding"]

_EXCHANGE_TYPES = ("direct", "topic", "fanout", "headers")

# Named after the public module: users configure ``kombu_lite.entity``, not
# a private file name.
logger = get_logger("kombu_lite.entity")


class Exchange(Bindable):
    """An AMQP exchange.

    Args:
        name: The exchange name; ``''`` is the default (anon) exchange,
            which is never declared.
        type: ``'direct'``, ``'topic'``, ``'fanout'``, ``'headers'`` or a
            plugin type whose name starts with ``'x-'``.
        channel: Bind to this channel or connection.
        durable: Survive a broker restart.
        auto_delete: Delete when the last binding is removed.
        delivery_mode: Default for messages published through it
            (1/``'transient'`` or 2/``'persistent'``).
        arguments: Extra ``exchange.declare`` arguments.
        no_declare: Never declare it (it is managed elsewhere).
        passive: ``declare()`` only checks that it exists.
        internal: Only other exchanges may publish to it.
    """

    TRANSIENT_DELIVERY_MODE = TRANSIENT_DELIVERY_MODE
    PERSISTENT_DELIVERY_MODE = PERSISTENT_DELIVERY_MODE

    @checks_keywords()
    def __init__(
        self,
        name: str = "",
        type: str = "direct",  # noqa: A002 - kombu's public parameter name
        channel: Channel | ChannelSource | None = None,
        durable: bool = True,
        auto_delete: bool = False,
        delivery_mode: DeliveryMode | None = None,
        arguments: Mapping[str, object] | None = None,
        no_declare: bool = False,
        passive: bool = False,
        internal: bool = False,
    ) -> None:
        self.name = check_name("exchange", name)
        if not isinstance(type, str) or not (
            type in _EXCHANGE_TYPES or type.startswith("x-")
        ):
            raise ConfigurationError(
                f"unknown exchange type {type!r} for exchange {name!r}; expected "
                f"direct, topic, fanout, headers or a plugin type starting with 'x-'"
            )
        self.type = type
        self.durable = bool(durable)
        self.auto_delete = bool(auto_delete)
        self.delivery_mode = maybe_delivery_mode(delivery_mode)
        self.arguments = check_arguments("exchange", arguments)
        self.no_declare = bool(no_declare)
        self.passive = bool(passive)
        self.internal = bool(internal)
        self._channel = channel

    # -- value semantics ------------------------------------------------------------

    def _identity(self) -> tuple[object, ...]:
        return (
            self.name,
            self.type,
            self.durable,
            self.auto_delete,
            self.delivery_mode,
            self.internal,
            frozen_args(self.arguments),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Exchange):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(("Exchange", *self._identity()))

    def __repr__(self) -> str:
        return self._bound_repr(str(self))

    def __str__(self) -> str:
        return f"Exchange {reprstr(self.name) or repr('')}({self.type})"

    def as_dict(self, recurse: bool = False) -> dict[str, Any]:
        """The exchange's settings by kombu's attribute names (and ``internal``).

        ``Exchange(**exchange.as_dict())`` builds an equal exchange.
        ``recurse`` is accepted for kombu's sake (nothing here nests).
        """
        del recurse
        return {
            "name": self.name,
            "type": self.type,
            "arguments": self.arguments,
            "durable": self.durable,
            "passive": self.passive,
            "auto_delete": self.auto_delete,
            "delivery_mode": self.delivery_mode,
            "no_declare": self.no_declare,
            "internal": self.internal,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            Exchange,
            (
                self.name,
                self.type,
                None,
                self.durable,
                self.auto_delete,
                self.delivery_mode,
                self.arguments,
                self.no_declare,
                self.passive,
                self.internal,
            ),
        )

    @property
    def can_cache_declaration(self) -> bool:
        """Whether a declare may be skipped once done on a connection."""
        return not self.auto_delete

    @property
    def declare_key(self) -> tuple[object, ...]:
        """What the declare cache remembers: every declared setting."""
        return ("exchange", *self._identity())

    # -- broker methods ---------------------------------------------------------

    def declare(
        self,
        nowait: bool = False,
        passive: bool | None = None,
        channel: Channel | ChannelSource | None = None,
    ) -> None:
        """Declare the exchange (a no-op for ``''``, ``amq.*`` and ``no_declare``).

        ``nowait`` is accepted for kombu compatibility; kombu_lite always
        waits for the broker, so a refusal raises here.

        Raises:
            PreconditionFailed: it exists with other settings.
            NotFound: ``passive`` and it does not exist.
        """
        del nowait
        if self.no_declare or not self.name or self.name.startswith("amq."):
            return
        passive = self.passive if passive is None else passive
        self._resolve(channel).exchange_declare(
            self.name,
            self.type,
            passive=passive,
            durable=self.durable,
            auto_delete=self.auto_delete,
            internal=self.internal,
            arguments=self.arguments,
        )
        logger.debug(
            "%s exchange %r (%s)",
            "checked" if passive else "declared",
            self.name,
            self.type,
        )

    def delete(
        self,
        if_unused: bool = False,
        nowait: bool = False,
        channel: Channel | ChannelSource | None = None,
    ) -> None:
        """Delete the exchange on the broker."""
        del nowait
        self._resolve(channel).exchange_delete(self.name, if_unused=if_unused)
        logger.debug("deleted exchange %r", self.name)

    def bind_to(
        self,
        exchange: Exchange | str = "",
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
        nowait: bool = False,
        channel: Channel | ChannelSource | None = None,
    ) -> None:
        """Bind this exchange (the destination) to ``exchange`` (the source)."""
        del nowait
        source = exchange.name if isinstance(exchange, Exchange) else exchange
        self._resolve(channel).exchange_bind(
            self.name, source, routing_key, arguments=arguments
        )
        logger.debug(
            "bound exchange %r to exchange %r with key %r",
            self.name,
            source,
            routing_key,
        )

    def unbind_from(
        self,
        source: Exchange | str = "",
        routing_key: str = "",
        nowait: bool = False,
        arguments: Mapping[str, object] | None = None,
        channel: Channel | ChannelSource | None = None,
    ) -> None:
        """Remove the binding made by :meth:`bind_to`."""
        del nowait
        name = source.name if isinstance(source, Exchange) else source
        self._resolve(channel).exchange_unbind(
            self.name, name, routing_key, arguments=arguments
        )

    def binding(
        self,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
        unbind_arguments: Mapping[str, object] | None = None,
    ) -> Binding:
        """Return a :class:`Binding` from this exchange."""
        return Binding(self, routing_key, arguments, unbind_arguments)

    def Message(  # noqa: N802 - kombu's factory name
        self,
        body: bytes | str,
        delivery_mode: DeliveryMode | None = None,
        properties: Mapping[str, object] | None = None,
        **kwargs: Any,
    ) -> PreparedMessage:
        """Build a raw message for :meth:`publish` (no serialization).

        The delivery mode is ``delivery_mode``, else a ``delivery_mode`` in
        ``properties``, else the exchange's, else persistent (2), as in
        kombu.  ``kwargs`` are ``content_type``, ``content_encoding``,
        ``headers``, ``priority`` and the other AMQP properties.

        Raises:
            ConfigurationError: a bad delivery mode or an unknown property.
            EncodeError: a ``str`` body its ``content_encoding`` cannot
                encode.
        """
        from kombu_lite.message import PreparedMessage

        if delivery_mode is None and properties:
            # Checked by maybe_delivery_mode below: anything else raises.
            delivery_mode = properties.get("delivery_mode")  # type: ignore[assignment]
        mode = (
            maybe_delivery_mode(delivery_mode)
            or self.delivery_mode
            or PERSISTENT_DELIVERY_MODE
        )
        return PreparedMessage.build(body, mode, properties, kwargs)

    def publish(
        self,
        message: PreparedMessage | bytes | str,
        routing_key: str | None = None,
        mandatory: bool = False,
        immediate: bool = False,
        exchange: str | None = None,
    ) -> None:
        """Publish a raw message built by :meth:`Message` (or a str/bytes).

        A str or bytes is wrapped with :meth:`Message`, so it goes with the
        exchange's delivery mode, persistent if it has none.  Nothing is
        serialized or declared.

        Publisher confirms work as in :meth:`Producer.publish
        <kombu_lite.Producer.publish>`: with the connection's
        ``confirm_publish`` on, or on a channel already confirming (after a
        ``publish_many``), the call returns once the broker confirmed the
        message, waiting up to the connection's ``confirm_timeout``.

        Raises:
            ConfigurationError: ``immediate=True``; nothing was sent.
            MessageNacked: (confirms on) the broker refused the message.
            MessageReturned: (confirms on, ``mandatory``) no queue took the
                message; a producer's ``on_return`` on this channel sees
                it as well.
            ConfirmTimeout: (confirms on) no confirm in time; the outcome is
                unknown.
        """
        from kombu_lite.message import PreparedMessage

        if immediate:
            raise immediate_error()
        if not isinstance(message, PreparedMessage):
            message = self.Message(message)
        send(
            Publication(
                exchange=self.name if exchange is None else exchange,
                routing_key=routing_key or "",
                mandatory=mandatory,
                encoded=[(message.body, message.properties)],
            ),
            self,
        )


class Binding:
    """A binding from an exchange with a routing key, for ``Queue(bindings=...)``."""

    @checks_keywords()
    def __init__(
        self,
        exchange: Exchange | None = None,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
        unbind_arguments: Mapping[str, object] | None = None,
    ) -> None:
        if exchange is not None and not isinstance(exchange, Exchange):
            raise ConfigurationError(
                f"Binding needs an Exchange, not {type(exchange).__name__}"
            )
        self.exchange = exchange
        self.routing_key = routing_key
        self.arguments = check_arguments("binding", arguments)
        self.unbind_arguments = check_arguments("unbind", unbind_arguments)

    def declare(self, channel: Channel | ChannelSource, nowait: bool = False) -> None:
        """Declare the binding's exchange."""
        if self.exchange is not None:
            self.exchange.declare(nowait=nowait, channel=channel)

    def bind(
        self,
        entity: Queue | Exchange,
        nowait: bool = False,
        channel: Channel | ChannelSource | None = None,
    ) -> None:
        """Bind ``entity`` with this binding."""
        entity.bind_to(
            self.exchange or "", self.routing_key, self.arguments, nowait, channel
        )

    def unbind(
        self,
        entity: Queue | Exchange,
        nowait: bool = False,
        channel: Channel | ChannelSource | None = None,
    ) -> None:
        """Remove this binding from ``entity``."""
        entity.unbind_from(
            self.exchange or "",
            self.routing_key,
            arguments=self.unbind_arguments,
            nowait=nowait,
            channel=channel,
        )

    def as_dict(self, recurse: bool = False) -> dict[str, Any]:
        """The binding's settings; with ``recurse`` the exchange is a dict too."""
        exchange: object = self.exchange
        if recurse and self.exchange is not None:
            exchange = self.exchange.as_dict(recurse=True)
        return {
            "exchange": exchange,
            "routing_key": self.routing_key,
            "arguments": self.arguments,
            "unbind_arguments": self.unbind_arguments,
        }

    @classmethod
    def from_dict(cls, options: Mapping[str, Any]) -> Binding:
        """The binding :meth:`as_dict` describes (its exchange may be a dict).

        Raises:
            ConfigurationError: an unknown key or a bad value.
        """
        fields = dict(options)
        exchange = fields.get("exchange")
        if isinstance(exchange, Mapping):
            fields["exchange"] = Exchange(**exchange)
        try:
            return cls(**fields)
        except TypeError as exc:
            raise ConfigurationError(f"bad binding {dict(options)!r}: {exc}") from exc

    def _identity(self) -> tuple[object, ...]:
        source = self.exchange.declare_key if self.exchange is not None else None
        return (source, self.routing_key, frozen_args(self.arguments))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Binding):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(("Binding", *self._identity()))

    def __repr__(self) -> str:
        return f"<binding: {self}>"

    def __str__(self) -> str:
        source = self.exchange.name if self.exchange is not None else ""
        return f"{reprstr(source)}->{reprstr(self.routing_key)}"


#: kombu's lowercase name for :class:`Binding`.
binding = Binding
