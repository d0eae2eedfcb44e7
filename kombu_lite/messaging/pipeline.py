"""The Producer's hot-path helpers: the declare memo and pipelined confirms.

Kept apart from :mod:`kombu_lite.messaging` so that module stays about the
API; everything here is private except :class:`PublishOutcome`, which
:meth:`Producer.publish_many <kombu_lite.Producer.publish_many>` returns.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import kombu_lite.compression as _compression
from kombu_lite.common import maybe_declare
from kombu_lite.entity.base import maybe_delivery_mode, ttl_ms
from kombu_lite.entity.exchange import Exchange
from kombu_lite.entity.queue import Queue
from kombu_lite.exceptions import (
    ChannelError,
    ConfigurationError,
    EncodeError,
    KombuError,
    MessageReturned,
    OperationalError,
    PublishError,
    PublishInterrupted,
)
from kombu_lite.serialization import registry as _serializers
from kombu_lite.transport.base import BasicProperties

if TYPE_CHECKING:
    from collections.abc import (
        Callable,
        Hashable,
        Iterable,
        Iterator,
        Mapping,
        Sequence,
    )

    from kombu_lite.channel import Channel
    from kombu_lite.entity.base import DeliveryMode
    from kombu_lite.entity.exchange import Binding
    from kombu_lite.messaging import Producer
    from kombu_lite.serialization import Codec
    from kombu_lite.transport.base import ReturnedMessage

    #: ``encode(body) -> (payload, properties)``; raises EncodeError.
    Encoder = Callable[[Any], tuple[bytes, BasicProperties]]

    #: A binding's attributes and its exchange's.
    _BindingState = tuple[dict[str, Any], dict[str, Any] | None]
    #: What :class:`DeclareMemo` keeps per entity (see its ``__init__``).
    _MemoEntry = tuple[
        Exchange | Queue,
        dict[str, Any],
        dict[str, Any] | None,
        list[_BindingState] | None,
        Hashable,
    ]

__all__ = [
    "DeclareMemo",
    "Prepared",
    "PropertyCache",
    "PublishOutcome",
    "check_publish_args",
    "confirm_wait",
    "encode_body",
    "encode_text",
    "expiration_ms",
    "immediate_error",
    "publish_pipelined",
    "reply_to_name",
    "returned_error",
]

_EXTRA_PROPERTIES: Final = frozenset(
    {
        "correlation_id",
        "reply_to",
        "message_id",
        "timestamp",
        "type",
        "user_id",
        "app_id",
        "cluster_id",
    }
)


def immediate_error() -> ConfigurationError:
    """The error for ``immediate=True``, which RabbitMQ does not support."""
    return ConfigurationError(
        "immediate=True is not supported: RabbitMQ 3.0 and later refuse the "
        "'immediate' flag and close the connection; use mandatory=True with "
        "on_return, or a per-message expiration, instead"
    )


_ENTITY_TYPES: Final = (Exchange, Queue)

#: Entities a producer remembers before its memo starts over.
_MEMO_LIMIT: Final = 256
#: Plain property sets a producer keeps (content types x delivery modes).
_PLAIN_LIMIT: Final = 32


def _snapshot(entity: object) -> dict[str, Any]:
    """An entity's attributes, with containers copied so edits show."""
    state = dict(vars(entity))
    for name, value in state.items():
        if type(value) is dict or type(value) is list:
            state[name] = value.copy()
    return state


def _bindings_snapshot(entity: object) -> list[_BindingState] | None:
    """A queue's bindings and their exchanges, as :func:`_snapshot` takes them.

    ``None`` for an entity without bindings, the common case, so the memo
    costs nothing more there.
    """
    bindings: list[Binding] | None = getattr(entity, "bindings", None)
    if not bindings:
        return None
    return [
        (_snapshot(item), None if item.exchange is None else _snapshot(item.exchange))
        for item in bindings
    ]


class DeclareMemo:
    """Skips the declare-cache lookup for entities a producer already saw.

    The connection's declare cache is keyed by every declared setting of an
    entity, and building that key costs more than the rest of a small
    publish.  The memo keeps, per entity object, the key it had and a
    snapshot of its attributes, of its exchange's and of each of its
    bindings' (with their exchanges): while none of those objects changed
    and the key is still in the connection's cache (a reconnect or a lost
    entity clears it), nothing needs declaring.  Anything else goes through
    :func:`~kombu_lite.common.maybe_declare` as before.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        # id(entity) -> (entity, attributes, its exchange's attributes,
        # its bindings' attributes, key).  The entity is kept so that its
        # id stays unique.
        self._seen: dict[int, _MemoEntry] = {}

    def declare(self, entities: Iterable[Exchange | Queue], channel: Channel) -> None:
        """Declare each entity unless this connection already did."""
        declared = channel.connection.declared_entities
        seen = self._seen
        for entity in entities:
            entry = seen.get(id(entity))
            if (
                entry is not None
                and entry[0] is entity
                and vars(entity) == entry[1]
                and entry[4] in declared
                # A Binding edited in place is the same object in the
                # queue's list: only its own snapshot shows the change.
                and (entry[3] is None or _bindings_snapshot(entity) == entry[3])
            ):
                exchange_state = entry[2]
                if exchange_state is None:
                    continue
                exchange = getattr(entity, "exchange", None)
                if exchange is not None and vars(exchange) == exchange_state:
                    continue
            maybe_declare(entity, channel)
            if entity.can_cache_declaration:
                if len(seen) >= _MEMO_LIMIT:
                    seen.clear()
                exchange = getattr(entity, "exchange", None)
                seen[id(entity)] = (
                    entity,
                    _snapshot(entity),
                    None if exchange is None else _snapshot(exchange),
                    _bindings_snapshot(entity),
                    entity.declare_key,
                )


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


def returned_error(tag: int, returned: ReturnedMessage) -> MessageReturned:
    """The error for a confirmed ``mandatory`` message the broker returned."""
    return MessageReturned(
        f"the broker could not route message {tag}: {returned.reply_code} "
        f"{returned.reply_text} (exchange {returned.exchange!r}, routing "
        f"key {returned.routing_key!r}); pass on_return to handle returns",
        delivery_tag=tag,
    )


#: Messages written with one call by :func:`publish_pipelined` (when the
#: transport can): enough to amortise the write, small enough to keep the
#: first confirms coming while the rest is encoded.
_PIPELINE_CHUNK: Final = 128


def publish_pipelined(
    channel: Channel,
    bodies: Iterable[Any],
    encode: Encoder,
    exchange: str,
    routing_key: str,
    mandatory: bool,
    *,
    window: int,
    timeout: float | None,
    raise_returns: bool,
) -> list[PublishOutcome]:
    """Publish on a confirming channel, keeping up to ``window`` unconfirmed.

    Every message ends with one outcome, by delivery tag; see
    :class:`PublishOutcome`.  A channel or connection error stops sending:
    the messages still in flight and the ones not sent yet get that error.

    Messages go out in chunks, each chunk with one ``basic_publish_batch``
    (on py-amqp, a single write).

    Raises:
        PublishInterrupted: ``bodies`` raised.  The messages taken before
            were sent all the same and their confirms waited for, so none
            is left on the channel; their outcomes are on the error.
    """
    chunk_size = min(window, _PIPELINE_CHUNK)
    pipeline = _Pipeline(channel, exchange, routing_key, mandatory, timeout)
    outcomes = pipeline.outcomes
    chunk: list[tuple[int, bytes, BasicProperties]] = []
    failure: list[Exception] = []
    for index, body in enumerate(_guarded(iter(bodies), failure)):
        outcomes.append(None)
        if pipeline.fatal is not None:
            outcomes[index] = PublishOutcome(index, 0, pipeline.fatal)
            continue
        try:
            payload, properties = encode(body)
        except KombuError as exc:
            outcomes[index] = PublishOutcome(index, 0, exc)
            continue
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
        self,
        channel: Channel,
        exchange: str,
        routing_key: str,
        mandatory: bool,
        timeout: float | None,
    ) -> None:
        self._channel = channel
        self._exchange = exchange
        self._routing_key = routing_key
        self._mandatory = mandatory
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
                returned = channel.wait_for_confirm(tag, remaining)
            except PublishError as exc:
                error = exc
            except (ChannelError, OperationalError) as exc:
                error = exc
                self.fatal = self.fatal or exc
            else:
                if returned is not None and raise_returns:
                    error = returned_error(tag, returned)
            outcomes[index] = PublishOutcome(index, tag, error)


class PropertyCache:
    """A producer's message properties; plain ones are one shared object.

    A message with no headers, priority or extra property has properties
    that differ only by content type and delivery mode, so the producer
    hands the transport the same (immutable) object each time, and the
    transport can keep its encoding.
    """

    __slots__ = ("_plain",)

    def __init__(self) -> None:
        self._plain: dict[tuple[str, str | None, int], BasicProperties] = {}

    def properties(
        self,
        content_type: str,
        content_encoding: str | None,
        headers: Mapping[str, object] | None,
        delivery_mode: int,
        priority: int | None,
        extra: Mapping[str, Any],
    ) -> BasicProperties:
        """The properties of one message."""
        if headers is None and priority is None and not extra:
            key = (content_type, content_encoding, delivery_mode)
            plain = self._plain.get(key)
            if plain is None:
                if len(self._plain) >= _PLAIN_LIMIT:
                    self._plain.clear()
                plain = self._plain[key] = BasicProperties(
                    content_type=content_type,
                    content_encoding=content_encoding,
                    delivery_mode=delivery_mode,
                )
            return plain
        return BasicProperties(
            content_type=content_type,
            content_encoding=content_encoding,
            headers=headers,
            delivery_mode=delivery_mode,
            priority=priority,
            **extra,
        )


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


def reply_to_name(properties: dict[str, Any]) -> dict[str, Any]:
    """``properties`` with a Queue given as ``reply_to`` replaced by its name."""
    reply_to = properties.get("reply_to")
    if isinstance(reply_to, Queue):
        return {**properties, "reply_to": reply_to.name}
    return properties


def encode_text(body: str, content_encoding: str) -> bytes:
    """``body`` encoded with the Python codec ``content_encoding``.

    Raises:
        EncodeError: the codec is unknown or not a text encoding, or the
            body holds characters it cannot encode (kombu too reports a
            body its encoder fails on as an EncodeError).
    """
    try:
        return body.encode(content_encoding)
    except UnicodeError as exc:
        raise EncodeError(
            f"the body cannot be encoded as {content_encoding!r}: {exc}; "
            "send it as utf-8 or as bytes"
        ) from exc
    except (LookupError, TypeError) as exc:
        raise EncodeError(
            f"content_encoding {content_encoding!r} is not a text encoding "
            f"Python knows ({exc}); use one such as 'utf-8', or send bytes"
        ) from exc


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


def encode_body(
    body: Any,
    codec: Codec,
    content_type: str | None,
    content_encoding: str | None,
    compression: str | None,
    headers: Mapping[str, object] | None,
) -> tuple[bytes, str, str | None, Mapping[str, object] | None]:
    """``(payload, content_type, content_encoding, headers)`` of one body.

    Raises:
        EncodeError: the body cannot be encoded.
    """
    if content_type is None:
        data, content_type, content_encoding = codec.dump(body)
    elif isinstance(body, str):
        content_encoding = content_encoding or "utf-8"
        data = encode_text(body, content_encoding)
    elif isinstance(body, bytes | bytearray | memoryview):
        content_encoding = content_encoding or "binary"
        data = bytes(body)
    else:
        raise EncodeError(
            f"with content_type={content_type!r} the body must be str or "
            f"bytes, not {type(body).__name__}; pass serializer= instead"
        )
    if compression is not None:
        data, kind = _compression.compress(data, compression)
        headers = {**(headers or {}), "compression": kind}
    return data, content_type, content_encoding, headers or None


class Prepared:
    """The body, serialized and compressed once, on the first send.

    Used with ``retry=True``: a retry sends the same bytes again.
    """

    __slots__ = (
        "_body",
        "_codec",
        "_compression",
        "_content_encoding",
        "_content_type",
        "_done",
        "_headers",
    )

    def __init__(
        self,
        body: Any,
        codec: Codec,
        content_type: str | None,
        content_encoding: str | None,
        compression: str | None,
        headers: Mapping[str, object] | None,
    ) -> None:
        self._body = body
        self._codec = codec
        self._content_type = content_type
        self._content_encoding = content_encoding
        self._compression = compression
        self._headers = headers
        self._done: (
            tuple[bytes, str, str | None, Mapping[str, object] | None] | None
        ) = None

    def encode(self) -> tuple[bytes, str, str | None, Mapping[str, object] | None]:
        """``(payload, content_type, content_encoding, headers)``.

        Raises:
            EncodeError: the body cannot be encoded.
        """
        if self._done is None:
            self._done = encode_body(
                self._body,
                self._codec,
                self._content_type,
                self._content_encoding,
                self._compression,
                self._headers,
            )
        return self._done


def check_publish_args(
    producer: Producer,
    routing_key: str | None,
    exchange: Exchange | str | None,
    delivery_mode: DeliveryMode | None,
    immediate: bool,
    priority: int | None,
    serializer: str | None,
    compression: str | None,
    declare: Sequence[Exchange | Queue] | None,
    expiration: float | None,
    properties: dict[str, Any],
) -> tuple[list[Exchange | Queue], Codec, str | None, str, str, int]:
    """Check a publish's arguments before any I/O; resolve the defaults.

    Returns ``(entities to declare, codec, compression, exchange name,
    routing key, delivery mode)``; adds ``expiration`` to ``properties``.
    """
    if immediate:
        raise immediate_error()
    if properties and not _EXTRA_PROPERTIES.issuperset(properties):
        unknown = min(set(properties) - _EXTRA_PROPERTIES)
        raise ConfigurationError(
            f"unknown message property {unknown!r}; known properties: "
            f"{', '.join(sorted(_EXTRA_PROPERTIES))}"
        )
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
        properties["expiration"] = expiration_ms(expiration)
    codec = (
        producer._codec if serializer is None else _serializers.encoder_for(serializer)
    )
    method = producer.compression if compression is None else compression
    if method is not None:
        _compression.get_encoder(method)
    entities = list(declare) if declare else []
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
        entities.append(own)
    return entities, codec, method, exchange_name, routing_key, mode
