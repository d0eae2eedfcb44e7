"""What a Producer keeps of its last plain publish, to send the next alike one.

Most programs publish the same kind of message over and over: the same
routing key, delivery mode and ``declare`` list, no headers, no extra
properties.  For such a call :meth:`Producer.publish
<kombu_lite.Producer.publish>` builds a :class:`PreparedPublish` once its
first publish succeeded, and while the next call gives the same arguments
(compared by value and type; the ``declare`` entities and the producer's
exchange by identity), and the producer's settings are unchanged, it
sends through it instead of checking the arguments again:

* the declare step is the same (:meth:`SendCache.declare
  <kombu_lite.publication.SendCache.declare>` still notices an entity
  edited in place, or a reconnect);
* the body is serialized by the same codec;
* the write goes through a transport-prepared publish
  (``Channel._prepare_publish``: py-amqp encodes the frames around the
  body once), or ``Channel._publish_encoded`` where the transport has none.

Anything else (publisher confirms on, another channel, a NotFound from the
broker) goes through :func:`kombu_lite.publication.send`, the one
pipeline, so the guarantees are those of every publish: when ``publish``
returns, the frames were handed to the operating system.
"""

from __future__ import annotations

import logging
import time
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Protocol

from kombu_lite._log import get_logger
from kombu_lite.channel import check_not_retired
from kombu_lite.exceptions import NotBoundError, NotFound
from kombu_lite.publication import Publication, send
from kombu_lite.retry import DEFAULT_PUBLISH_RETRY_POLICY, RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from kombu_lite.channel import Channel, ChannelOwner, Declarable
    from kombu_lite.entity import Exchange, Queue
    from kombu_lite.publication import ChannelProvider, SendCache
    from kombu_lite.serialization import Codec
    from kombu_lite.transport.base import BasicProperties

    #: (channel, content type, content encoding, properties, prepared write)
    _Target = tuple[
        Channel, str, str | None, BasicProperties, Callable[[bytes], int] | None
    ]

__all__ = ["PreparedPublish", "plain_key", "prepare", "send_with_retry"]

_log = get_logger("kombu_lite.messaging")

#: Where :func:`plain_key` puts the id of the producer's exchange.
_OWN_ID = 12


class _Producer(Protocol):
    """What this module reads of a Producer."""

    exchange: Exchange
    routing_key: str
    compression: str | None
    auto_declare: bool
    on_return: Callable[..., object] | None
    _codec: Codec
    _channel: Channel | None

    @property
    def channel(self) -> Channel: ...

    @property
    def connection(self) -> ChannelOwner | None: ...

    def revive(self, channel: Channel) -> None: ...


def plain_key(
    producer: _Producer,
    routing_key: str | None,
    delivery_mode: object,
    mandatory: bool,
    priority: int | None,
    content_type: str | None,
    content_encoding: str | None,
    serializer: str | None,
    compression: str | None,
    exchange: str | None,
    declare: Sequence[Exchange | Queue] | None,
    /,
) -> tuple[Any, ...]:
    """The key of a plain publish: equal keys publish alike.

    The scalar arguments are compared by value and, where an int and a
    bool would compare equal and be checked differently, by type; the
    ``declare`` entities and the producer's exchange by identity (their
    ids: a :class:`PreparedPublish` keeps those objects alive), with the
    exchange's name, delivery mode and ``no_declare`` by value since they
    may be edited in place.
    """
    own = producer.exchange
    return (
        routing_key,
        delivery_mode,
        type(delivery_mode),
        mandatory,
        priority,
        type(priority),
        content_type,
        content_encoding,
        serializer,
        compression,
        exchange,
        () if declare is None else tuple(map(id, declare)),
        id(own),
        own.name,
        own.delivery_mode,
        own.no_declare,
        producer.routing_key,
        producer._codec,
        producer.compression,
        producer.auto_declare,
        producer.on_return is None,
    )


def prepare(
    key: tuple[Any, ...], publication: Publication, cache: SendCache, exchange: Exchange
) -> PreparedPublish | None:
    """A :class:`PreparedPublish` for ``publication``, if it can have one.

    Only a serialized, uncompressed body without headers or extra
    properties can, and only while ``exchange``, the producer's exchange,
    is the one the key was made with (its first publish binds a copy of
    it to the channel: the publish after that makes the prepared one).
    """
    if (
        key[_OWN_ID] != id(exchange)
        or publication.codec is None
        or publication.content_type is not None
        or publication.compression is not None
        or publication.headers
        or publication.properties
    ):
        return None
    return PreparedPublish(key, publication, cache, exchange)


def send_with_retry(
    publication: Publication,
    producer: _Producer,
    cache: SendCache,
    retry_policy: Mapping[str, Any] | None,
) -> None:
    """:func:`~kombu_lite.publication.send`, again after a connection failure.

    Raises:
        NotBoundError: the producer has no connection.
        What the last attempt raised.
    """
    connection = producer.connection
    if connection is None:
        raise NotBoundError("retry=True needs a producer bound to a connection")
    check_not_retired(producer._channel, "Producer")  # retrying would reconnect
    # The connection's default: DEFAULT_PUBLISH_RETRY_POLICY with its
    # transport_options' retry keys (kombu's) applied.
    base: RetryPolicy = getattr(
        connection, "default_retry_policy", DEFAULT_PUBLISH_RETRY_POLICY
    )
    policy = RetryPolicy.from_mapping(retry_policy, base)
    # Every attempt sends the bytes the first one encoded.  The policy's
    # timeout bounds the whole call: a confirm wait too (it ends in
    # ConfirmTimeout, outcome unknown, never retried).
    publication = publication._replace(
        encoded=[],
        confirm_deadline=(
            None if policy.timeout is None else time.monotonic() + policy.timeout
        ),
    )
    attempts = 0

    def attempt() -> None:
        nonlocal attempts
        attempts += 1
        if attempts > 1 and _log.isEnabledFor(logging.DEBUG):
            _log.debug(
                "publish to exchange %r with routing key %r: attempt %d, "
                "after a connection failure",
                publication.exchange,
                publication.routing_key,
                attempts,
            )
        send(publication, producer, cache)

    options = {field.name: getattr(policy, field.name) for field in fields(policy)}
    connection.ensure(producer, attempt, **options)()


class PreparedPublish:
    """A checked plain publish (no headers, no extra properties, no retry).

    Attributes:
        key: The call's arguments and the producer's settings it was
            built from; a call that gives an equal key may use it.
    """

    __slots__ = (
        "_cache",
        "_delivery_mode",
        "_dump",
        "_entities",
        "_exchange",
        "_mandatory",
        "_own",
        "_priority",
        "_routing_key",
        "_target",
        "key",
    )

    def __init__(
        self,
        key: tuple[Any, ...],
        publication: Publication,
        cache: SendCache,
        exchange: Exchange,
    ) -> None:
        codec = publication.codec
        if codec is None:  # pragma: no cover - prepare() checks it
            raise ValueError("a prepared publish needs a codec")
        self.key = key
        # Kept so that its id, in the key, stays its own.
        self._own = exchange
        self._dump = codec.dump
        self._exchange = publication.exchange
        self._routing_key = publication.routing_key
        self._mandatory = publication.mandatory
        self._delivery_mode = publication.delivery_mode
        self._priority = publication.priority
        self._entities: tuple[Declarable, ...] = publication.declare
        self._cache = cache
        self._target: _Target | None = None

    def send(self, body: Any, source: ChannelProvider, channel: Channel) -> bool:
        """Publish ``body`` on ``channel``; False if this path does not apply.

        False means nothing was done (the caller sends it the general way):
        confirms are on for the channel or its connection.

        Raises:
            What :func:`kombu_lite.publication.send` raises, in the same
            cases.
        """
        if channel.confirming or channel.connection.confirm_publish:
            return False
        entities = self._entities
        if entities:
            self._cache.declare(entities, channel)
        payload, content_type, content_encoding = self._dump(body)
        target = self._target
        if (
            target is None
            or target[0] is not channel
            or target[1] != content_type
            or target[2] != content_encoding
        ):
            target = self._target = self._prepare(
                channel, content_type, content_encoding
            )
        write = target[4]
        try:
            if write is not None:
                write(payload)
            else:
                channel._publish_encoded(
                    payload,
                    target[3],
                    self._exchange,
                    self._routing_key,
                    mandatory=self._mandatory,
                )
        except NotFound:
            if not entities:
                raise
            # As send() does: the broker lost an entity the declare cache
            # remembers; declare it again and send the same bytes once more.
            channel.connection.declare_cache.forget(entities)
            send(self._resend(payload, target[3]), source, self._cache, resent=True)
            return True
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug(
                "published %d bytes to exchange %r with routing key %r",
                len(payload),
                self._exchange,
                self._routing_key,
            )
        return True

    def _prepare(
        self, channel: Channel, content_type: str, content_encoding: str | None
    ) -> _Target:
        properties = self._cache.properties(
            content_type,
            content_encoding,
            None,
            self._delivery_mode,
            self._priority,
            {},
        )
        write = channel._prepare_publish(
            properties, self._exchange, self._routing_key, self._mandatory
        )
        return (channel, content_type, content_encoding, properties, write)

    def _resend(self, payload: bytes, properties: BasicProperties) -> Publication:
        return Publication(
            self._exchange,
            self._routing_key,
            mandatory=self._mandatory,
            delivery_mode=self._delivery_mode,
            priority=self._priority,
            declare=self._entities,
            encoded=[(payload, properties)],
        )
