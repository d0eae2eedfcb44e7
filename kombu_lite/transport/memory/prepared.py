"""Publishing on a memory:// channel: the prepared and the batched forms.

:func:`prepare_publish` is the transport's side of a producer's prepared
publish (``Channel._prepare_publish``): the names and the properties are
checked once, when it is prepared, and the returned ``body -> tag`` does
per message only what can change between messages (the alarms, the
channel's state, the routing).  A properties object is immutable and holds
no headers here, so nothing of it needs copying or checking again.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from kombu_lite.exceptions import ChannelError
from kombu_lite.transport.channel_state import ChannelState
from kombu_lite.transport.memory.encoding import check_names, check_properties

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from contextlib import AbstractContextManager

    from kombu_lite.transport.base import BasicProperties
    from kombu_lite.transport.channel_state import ChannelLifecycle
    from kombu_lite.transport.memory.alarms import Alarms
    from kombu_lite.transport.memory.contract import ChannelConnection
    from kombu_lite.transport.memory.publishing import Router

__all__ = ["basic_publish_batch", "prepare_publish"]

_OPEN, _CONFIRMING = ChannelState.OPEN, ChannelState.CONFIRMING


class MemoryChannel(Protocol):
    """What this module uses of a memory channel (its own module's class)."""

    _lock: AbstractContextManager[Any]
    _alarms: Alarms
    _conn: ChannelConnection
    _router: Router
    lifecycle: ChannelLifecycle

    def _check(self, method: str) -> None: ...

    def _fail(self, exc: ChannelError) -> None: ...

    def basic_publish(
        self,
        body: bytes,
        properties: BasicProperties,
        exchange: str,
        routing_key: str,
        *,
        mandatory: bool = False,
    ) -> int: ...


def prepare_publish(
    channel: MemoryChannel,
    properties: BasicProperties,
    exchange: str,
    routing_key: str,
    mandatory: bool,
) -> Callable[[bytes], int]:
    """``body -> delivery tag``: ``basic_publish`` of these arguments.

    Raises:
        EncodeError: a name or property does not fit its AMQP type, as
            ``basic_publish`` raises it; nothing was prepared.
    """
    with channel._lock:
        check_names(exchange, routing_key)
        check_properties(properties)
    if properties.headers:
        # Headers are copied per message (a consumer may edit its copy):
        # the general path does that.
        return partial(
            channel.basic_publish,
            properties=properties,
            exchange=exchange,
            routing_key=routing_key,
            mandatory=mandatory,
        )
    alarms = channel._alarms
    conn = channel._conn
    lock = channel._lock
    lifecycle = channel.lifecycle
    route = channel._router.route

    def publish(body: bytes) -> int:
        # basic_publish's steps, less the checks done above.
        if alarms.active:  # RabbitMQ's connection.blocked
            alarms.hold(conn, conn.notice)
        if type(body) is not bytes:
            body = bytes(body)
        with lock:
            state = lifecycle.state
            if (state is not _OPEN and state is not _CONFIRMING) or (
                not conn.is_connected
            ):
                channel._check("basic.publish")
            try:
                return route(body, properties, None, exchange, routing_key, mandatory)
            except ChannelError as exc:
                channel._fail(exc)
                raise

    return publish


def basic_publish_batch(
    channel: MemoryChannel,
    messages: Sequence[tuple[bytes, BasicProperties]],
    exchange: str,
    routing_key: str,
    *,
    mandatory: bool = False,
) -> list[int]:
    """Publish several messages; return their tags (zeros without confirms).

    Raises:
        EncodeError: a message does not fit its AMQP types; nothing of
            the batch was published.
    """
    with channel._lock:
        check_names(exchange, routing_key)
        for _body, properties in messages:
            check_properties(properties)
    return [
        channel.basic_publish(
            body, properties, exchange, routing_key, mandatory=mandatory
        )
        for body, properties in messages
    ]
