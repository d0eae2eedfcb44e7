"""A consumer's memo of the decoder its deliveries need.

A consumer mostly receives one kind of message: the same content type and
encoding, no compression.  :meth:`Message.decode
<kombu_lite.Message.decode>` checks, for every message, the accept list,
the compression header and the registry before it calls the serializer's
decoder.  The memo keeps the decoder the last such check ended in, with
what it depended on (the content type and encoding, the accept list, the
registry's :attr:`~kombu_lite.serialization.SerializerRegistry.generation`),
and calls it directly while those are the same and the message has no
headers (so no compression) and a body.

A decoder that raises is not answered here: the message is decoded the
general way, which raises the error that failure maps to
(:class:`~kombu_lite.exceptions.DecodeError` with its usual text), so a
memo never changes what a consumer sees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kombu_lite.serialization import TRUSTED_CONTENT_TYPES, registry

if TYPE_CHECKING:
    from collections.abc import Callable

    from kombu_lite.message import Message
    from kombu_lite.transport.base import Delivery

__all__ = ["DecodeMemo"]


class DecodeMemo:
    """``message.decode()``, with the checks of the last alike message kept."""

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        #: (content type, content encoding, accept, generation), decoder.
        self._memo: tuple[tuple[object, ...], Callable[[bytes], Any]] | None = None

    def decode(self, message: Message, delivery: Delivery) -> Any:
        """Return ``message.decode()``; ``message`` was made from ``delivery``.

        Raises:
            What :meth:`Message.decode <kombu_lite.Message.decode>` raises.
        """
        properties = delivery.properties
        content_type = properties.content_type
        accept = message.accept
        key = (content_type, properties.content_encoding, accept, registry.generation)
        body = delivery.body
        memo = self._memo  # one read: another thread may replace it
        if memo is not None and memo[0] == key and body and not properties.headers:
            try:
                value = memo[1](body)
            except Exception:  # noqa: BLE001 - decode() raises it, mapped
                return message.decode()
            message._decoded = value  # what decode() returns from now on
            return value
        value = message.decode()
        if (
            body
            and not properties.headers
            and type(content_type) is str
            and (content_type in TRUSTED_CONTENT_TYPES or content_type in accept)
            and (key[1] is None or type(key[1]) is str)
        ):
            decoder = registry.decoder(content_type)
            if decoder is not None:
                self._memo = (key, decoder)
        return value
