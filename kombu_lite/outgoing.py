"""Messages to send as they are: :class:`PreparedMessage` and text bodies.

kombu's ``Exchange.Message`` and ``Channel.prepare_message`` build a raw
message (bytes and properties, no serializer) for ``Exchange.publish`` and
``basic_publish``; :func:`encode_text` turns a ``str`` body into the bytes
of its content encoding, with kombu's error for a body it cannot encode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kombu_lite.exceptions import ConfigurationError, EncodeError
from kombu_lite.transport.base import BasicProperties

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["PreparedMessage", "encode_text"]


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """A raw message ready for ``basic.publish``: bytes plus properties."""

    body: bytes
    properties: BasicProperties

    @classmethod
    def build(
        cls,
        body: bytes | str,
        delivery_mode: int | None,
        properties: Mapping[str, object] | None,
        options: Mapping[str, Any],
    ) -> PreparedMessage:
        """Build from kombu's ``Exchange.Message`` arguments.

        Raises:
            ConfigurationError: an unknown property name.
            EncodeError: a ``str`` body its ``content_encoding`` cannot
                encode.
        """
        fields: dict[str, Any] = dict(properties or {})
        fields.update(options)
        if "application_headers" in fields:
            fields["headers"] = fields.pop("application_headers")
        unknown = set(fields) - set(BasicProperties.__dataclass_fields__)
        if unknown:
            raise ConfigurationError(f"unknown message property {min(unknown)!r}")
        if isinstance(body, str):
            fields.setdefault("content_encoding", "utf-8")
            data = encode_text(body, fields["content_encoding"])
        elif isinstance(body, bytes | bytearray | memoryview):
            data = bytes(body)
        else:
            raise ConfigurationError(
                f"a raw message body must be bytes or str, not {type(body).__name__}"
            )
        if delivery_mode is not None:
            fields["delivery_mode"] = delivery_mode
        return cls(data, BasicProperties(**fields))


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
