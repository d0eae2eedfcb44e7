"""Publish arguments into a :class:`~kombu_lite.publication.Publication`; publish_many.

:func:`build_publication` checks the arguments of ``Producer.publish`` and
``publish_many`` before any I/O and resolves the producer's defaults into
a frozen Publication, which :func:`kombu_lite.publication.send` sends.
:func:`publish_pipelined` sends one Publication's settings for many bodies
with pipelined confirms, through the same declare, encode and confirm steps.
Everything here is private except :class:`PublishOutcome`, which
:meth:`Producer.publish_many <kombu_lite.Producer.publish_many>` returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol, TypedDict

import kombu_lite.compression as _compression
from kombu_lite._log import get_logger
from kombu_lite.entity.base import maybe_delivery_mode, ttl_ms
from kombu_lite.entity.exchange import Exchange
from kombu_lite.entity.queue import Queue
from kombu_lite.exceptions import (
    ChannelError,
    ConfigurationError,
    EncodeError,
    KombuError,
    OperationalError,
    PublishError,
    PublishInterrupted,
    immediate_error,
)
from kombu_lite.exceptions._arguments import check_keywords, keywords_of
from kombu_lite.publication import Publication, SendCache, claim, declare
from kombu_lite.serialization import registry as _serializers

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

    from kombu_lite.channel import Channel
    from kombu_lite.entity.base import DeliveryMode
    from kombu_lite.serialization import Codec
    from kombu_lite.transport.base import BasicProperties

__all__ = [
    "MessageProperties",
    "ProducerDefaults",
    "PublishOutcome",
    "build_publication",
    "confirm_wait",
    "expiration_ms",
    "publish_pipelined",
]

_log = get_logger("kombu_lite.messaging")


class MessageProperties(TypedDict, total=False):
    """The AMQP properties ``publish(**properties)`` takes, for type checkers.

    ``mypy`` flags a misspelt name (``routing_kye=``) or a wrong type;
    nothing is checked through this class at run time.
    """

    correlation_id: str | None
    reply_to: str | Queue | None
    message_id: str | None
    timestamp: int | None
    type: str | None
    user_id: str | None
    app_id: str | None
    cluster_id: str | None


_EXTRA_PROPERTIES: Final = MessageProperties.__optional_keys__


_ENTITY_TYPES: Final = (Exchange, Queue)


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    """What became of one message of :meth:`Producer.publish_many`.

    Attributes:
        index: The message's position in the bodies given.
        delivery_tag: Its publisher-confirm delivery tag on the channel, or
            0 if it was never sent.
        error: ``None`` when the broker confirmed it (and, for a
            ``mandatory`` message, routed it or handed it to ``on_return``).
            Otherwise why not: :class:`~kombu_lite.exceptions.MessageNacked`
            (refused, not enqueued),
            :class:`~kombu_lite.exceptions.MessageReturned` (unroutable),
            :class:`~kombu_lite.exceptions.ConfirmTimeout` (no answer: the
            outcome is unknown), an
            :class:`~kombu_lite.exceptions.EncodeError` (its body could not
            be encoded; not sent), or the channel or connection error that
            stopped the batch (sent messages: outcome unknown; messages
            with ``delivery_tag`` 0: not sent).
    """

    index: int
    delivery_tag: int
    error: KombuError | None = None

    @property
    def ok(self) -> bool:
        """True when the broker took the message."""
        return self.error is None


#: Messages written with one call by :func:`publish_pipelined` (when the
#: transport can): enough to amortise the write, small enough to keep the
#: first confirms coming while the rest is encoded.
_PIPELINE_CHUNK: Final = 128


def publish_pipelined(
    publication: Publication,
    channel: Channel,
    bodies: Iterable[Any],
    *,
    window: int,
    cache: SendCache,
) -> list[PublishOutcome]:
    """Publish ``bodies`` with ``publication``'s settings, up to ``window`` unconfirmed.

    The steps are :func:`~kombu_lite.publication.send`'s: the entities are
    declared (once, first), each body is encoded as the publication says,
    and each confirm is claimed; publisher confirms are turned on for the
    channel.  Every message ends with one outcome, by delivery tag; see
    :class:`PublishOutcome`.  A channel or connection error stops sending:
    the messages still in flight and the ones not sent yet get that error.

    Messages go out in chunks, each chunk with one ``basic_publish_batch``
    (on py-amqp, a single write).

    Raises:
        ChannelError: the broker refused a declare; nothing was sent.
        OperationalError: the connection failed before the first message
            was sent.
        PublishInterrupted: ``bodies`` raised.  The messages taken before
            were sent all the same and their confirms waited for, so none
            is left on the channel; their outcomes are on the error.
    """
    if publication.declare:
        declare(publication.declare, channel, cache)
    channel.enable_confirms()
    timeout = publication.confirm_wait(channel.connection)
    raise_returns = publication.raise_returns
    encode = publication.encode
    debug = _log.isEnabledFor(logging.DEBUG)
    chunk_size = min(window, _PIPELINE_CHUNK)
    pipeline = _Pipeline(channel, publication, timeout)
    outcomes = pipeline.outcomes
    chunk: list[tuple[int, bytes, BasicProperties]] = []
    failure: list[Exception] = []
    for index, body in enumerate(_guarded(iter(bodies), failure)):
        outcomes.append(None)
        if pipeline.fatal is not None:
            outcomes[index] = PublishOutcome(index, 0, pipeline.fatal)
            continue
        try:
            payload, properties = encode(body, cache)
        except KombuError as exc:
            outcomes[index] = PublishOutcome(index, 0, exc)
            continue
        if debug:
            _log.debug(
                "publishing %d bytes to exchange %r with routing key %r (pipelined)",
                len(payload),
                publication.exchange,
                publication.routing_key,
            )
        chunk.append((index, payload, properties))
        if len(chunk) >= chunk_size:
            pipeline.settle(window - len(chunk), raise_returns)
            pipeline.send(chunk)
            chunk = []
    if chunk:
        pipeline.settle(window - len(chunk), raise_returns)
        pipeline.send(chunk)
    pipeline.settle(0, raise_returns)
    done = [outcome for outcome in outcomes if outcome is not None]
    if failure:
        cause = failure[0]
        confirmed = sum(1 for outcome in done if outcome.error is None)
        raise PublishInterrupted(
            f"the bodies given to publish_many raised {type(cause).__name__} "
            f"after {len(done)} message(s): {confirmed} confirmed, "
            f"{len(done) - confirmed} not; their outcomes are on this error's "
            f"'outcomes'",
            outcomes=done,
        ) from cause
    return done


def _guarded(bodies: Iterator[Any], failure: list[Exception]) -> Iterator[Any]:
    """``bodies``, ending quietly if they raise; the error goes in ``failure``.

    Only errors of the iterator itself are caught this way, so the messages
    taken before can still be sent and settled.  A ``BaseException``
    (KeyboardInterrupt...) is not caught: it stops the call at once.
    """
    try:
        yield from bodies
    except Exception as exc:  # noqa: BLE001 - re-raised, chained, by the caller
        failure.append(exc)


class _Pipeline:
    """The messages of one :func:`publish_pipelined` call, sent and settled."""

    __slots__ = (
        "_channel",
        "_exchange",
        "_in_flight",
        "_mandatory",
        "_routing_key",
        "_timeout",
        "fatal",
        "outcomes",
    )

    def __init__(
        self, channel: Channel, publication: Publication, timeout: float | None
    ) -> None:
        self._channel = channel
        self._exchange = publication.exchange
        self._routing_key = publication.routing_key
        self._mandatory = publication.mandatory
        self._timeout = timeout
        #: (index, tag, deadline) of messages sent but not settled, oldest first.
        self._in_flight: deque[tuple[int, int, float | None]] = deque()
        #: The error that stopped the batch: nothing more is sent.
        self.fatal: KombuError | None = None
        self.outcomes: list[PublishOutcome | None] = []

    def send(self, chunk: list[tuple[int, bytes, BasicProperties]]) -> None:
        """Send ``(index, payload, properties)`` messages; record their tags."""
        if self.fatal is not None:
            for index, _payload, _properties in chunk:
                self.outcomes[index] = PublishOutcome(index, 0, self.fatal)
            return
        try:
            tags = self._channel.basic_publish_batch(
                [(payload, properties) for _index, payload, properties in chunk],
                self._exchange,
                self._routing_key,
                mandatory=self._mandatory,
            )
        except EncodeError as exc:
            # A property AMQP cannot carry: these messages were not sent,
            # and the channel is fine.
            for index, _payload, _properties in chunk:
                self.outcomes[index] = PublishOutcome(index, 0, exc)
            return
        except (ChannelError, OperationalError) as exc:
            self.fatal = exc
            for index, _payload, _properties in chunk:
                self.outcomes[index] = PublishOutcome(index, 0, exc)
            return
        timeout = self._timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        self._in_flight.extend(
            (index, tag, deadline)
            for (index, _payload, _properties), tag in zip(chunk, tags, strict=True)
        )

    def settle(self, limit: int, raise_returns: bool) -> None:
        """Wait for the oldest confirms until at most ``limit`` are pending."""
        in_flight = self._in_flight
        channel = self._channel
        outcomes = self.outcomes
        while len(in_flight) > max(limit, 0):
            index, tag, deadline = in_flight.popleft()
            remaining = (
                None if deadline is None else max(deadline - time.monotonic(), 0.0)
            )
            error: KombuError | None = None
            try:
                claim(channel, tag, remaining, raise_returns)
            except PublishError as exc:
                error = exc
            except (ChannelError, OperationalError) as exc:
                error = exc
                self.fatal = self.fatal or exc
            outcomes[index] = PublishOutcome(index, tag, error)


def expiration_ms(seconds: float) -> str:
    """The ``expiration`` property (milliseconds as text) for ``seconds``.

    Raises:
        ConfigurationError: not a number of seconds from 0 to RabbitMQ's
            limit (NaN and infinities included).
    """
    millis = ttl_ms("expiration", seconds)
    # kombu truncates sub-millisecond values to '0' (expire at once); a
    # positive expiration never becomes immediate here.
    return str(max(millis, 1) if seconds > 0 else 0)


def reply_to_name(properties: Mapping[str, Any]) -> Mapping[str, Any]:
    """``properties`` with a Queue given as ``reply_to`` replaced by its name."""
    reply_to = properties.get("reply_to")
    if isinstance(reply_to, Queue):
        return {**properties, "reply_to": reply_to.name}
    return properties


def confirm_wait(confirm_timeout: object, timeout: object) -> float | None:
    """The confirm wait of a publish: ``confirm_timeout``, else ``timeout``.

    ``None`` means the connection's ``confirm_timeout``.

    Raises:
        ConfigurationError: one is not ``None`` or a number of seconds from
            0 to :data:`threading.TIMEOUT_MAX` (NaN and infinities included);
            nothing was sent.
    """
    wait = _wait("confirm_timeout", confirm_timeout)
    fallback = _wait("timeout", timeout)
    return fallback if wait is None else wait


def _wait(name: str, value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= threading.TIMEOUT_MAX
    ):
        raise ConfigurationError(
            f"{name} must be None or a number of seconds from 0 to "
            f"{threading.TIMEOUT_MAX:.0f}, not {value!r}"
        )
    return float(value)


class ProducerDefaults(Protocol):
    """What :func:`build_publication` reads of a Producer."""

    exchange: Exchange
    routing_key: str
    compression: str | None
    auto_declare: bool
    on_return: Callable[..., object] | None
    _codec: Codec


def build_publication(
    producer: ProducerDefaults,
    body: Any,
    routing_key: str | None,
    delivery_mode: DeliveryMode | None,
    mandatory: bool,
    immediate: bool,
    priority: int | None,
    content_type: str | None,
    content_encoding: str | None,
    serializer: str | None,
    headers: Mapping[str, object] | None,
    compression: str | None,
    exchange: Exchange | str | None,
    retry: bool,
    declare: Sequence[Exchange | Queue] | None,
    expiration: float | None,
    confirm_timeout: float | None,
    properties: MessageProperties,
    /,
) -> Publication:
    """Check a publish's arguments before any I/O; resolve the defaults.

    The arguments are :meth:`Producer.publish <kombu_lite.Producer.publish>`'s,
    in its order (positional: this runs once per message), with
    ``confirm_timeout`` already resolved by :func:`confirm_wait` and
    ``properties`` the call's own ``**properties`` dict, which gets the
    ``expiration`` and, with ``retry``, a uuid4 ``message_id`` if it has
    none (so consumers can drop a retry's duplicate).

    Raises:
        ConfigurationError: a bad argument.
        SerializerNotInstalled, CompressionNotInstalled: an unknown name.
    """
    if immediate:
        raise immediate_error()
    if properties and not _EXTRA_PROPERTIES.issuperset(properties):
        from kombu_lite.messaging import Producer  # a cycle on the error path only

        known = _EXTRA_PROPERTIES.union(keywords_of(Producer.publish)) - {"self"}
        check_keywords("Producer.publish", properties, known)
    if routing_key is None:
        routing_key = producer.routing_key
    elif not isinstance(routing_key, str):
        raise ConfigurationError(
            f"routing_key must be a str, not {type(routing_key).__name__}"
        )
    own = producer.exchange
    if exchange is None:
        exchange_name, exchange_mode = own.name, own.delivery_mode
    elif isinstance(exchange, Exchange):
        exchange_name, exchange_mode = exchange.name, exchange.delivery_mode
    elif isinstance(exchange, str):
        exchange_name, exchange_mode = exchange, own.delivery_mode
    else:
        raise ConfigurationError(
            f"exchange must be an Exchange or a name, not {type(exchange).__name__}"
        )
    if delivery_mode is None:
        mode = exchange_mode or 2
    elif type(delivery_mode) is int and 1 <= delivery_mode <= 2:
        mode = delivery_mode  # the common case, without the call
    else:
        mode = maybe_delivery_mode(delivery_mode) or 2
    # None is kombu's "no priority", the same as 0: nothing is sent.
    if priority is not None and (
        (
            type(priority) is not int
            and (isinstance(priority, bool) or not isinstance(priority, int))
        )
        or not 0 <= priority <= 255
    ):
        raise ConfigurationError(
            f"priority must be None or an int from 0 to 255, not {priority!r}"
        )
    if expiration is not None:
        # Not a property a caller may give (publish's own keyword instead).
        properties["expiration"] = expiration_ms(expiration)  # type: ignore[typeddict-unknown-key]
    codec = (
        producer._codec if serializer is None else _serializers.encoder_for(serializer)
    )
    method = producer.compression if compression is None else compression
    if method is not None:
        _compression.get_encoder(method)
    entities: tuple[Exchange | Queue, ...] = tuple(declare) if declare else ()
    for entity in entities:
        if not isinstance(entity, _ENTITY_TYPES):
            raise ConfigurationError(
                f"declare must list Exchange or Queue objects, "
                f"not {type(entity).__name__}"
            )
    # By identity: comparing entities builds their whole declare identity,
    # and an equal exchange listed too costs one declare-cache hit at most.
    if (
        producer.auto_declare
        and own.name
        and not own.no_declare
        and not any(entity is own for entity in entities)
    ):
        entities += (own,)
    if retry and "message_id" not in properties:
        import uuid  # only here: keeps importing this module cheap

        properties["message_id"] = str(uuid.uuid4())
    # By position, in the field order of Publication, and with tuple.__new__
    # (what the named tuple's own __new__ calls, one Python-level call
    # less): this runs once per message.  Every field is given.
    return tuple.__new__(
        Publication,
        (
            exchange_name,
            routing_key,
            body,
            codec,
            content_type,
            content_encoding,
            method,
            headers,
            mode,
            priority or None,
            reply_to_name(properties) if properties else properties,
            mandatory,
            entities,
            confirm_timeout,
            None,  # confirm_deadline
            producer.on_return is None,  # raise_returns
            None,  # encoded
        ),
    )
