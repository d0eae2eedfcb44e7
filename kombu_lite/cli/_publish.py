"""``kombu-lite publish``: send a message, or the same message many times.

The body is JSON text by default, and ``--serializer`` picks the wire
format it is encoded in (``json``, ``pickle``, ``yaml``, ``msgpack``, or
``raw`` for the bytes as they are).  ``--content-type`` sends the bytes as
they are with the given type instead.  The body is encoded once, before
connecting, so a bad body never leaves half a batch on the broker.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from kombu_lite.cli._args import key_value, positive_int
from kombu_lite.cli._errors import UsageError
from kombu_lite.cli._output import Progress
from kombu_lite.connection import Connection
from kombu_lite.entity import Exchange, Queue
from kombu_lite.exceptions import KombuError
from kombu_lite.messaging import Producer
from kombu_lite.serialization import registry

if TYPE_CHECKING:
    import argparse

    from kombu_lite.channel import Channel
    from kombu_lite.cli._output import Console

__all__ = ["add_arguments", "encode_body", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``publish``'s arguments to ``parser``."""
    parser.add_argument(
        "body",
        nargs="?",
        help="the message body; omit it or give '-' to read it from stdin",
    )
    parser.add_argument(
        "-e",
        "--exchange",
        default="",
        help="the exchange to publish to (default: '', the default exchange, "
        "which routes to the queue named by the routing key)",
    )
    parser.add_argument(
        "-r",
        "--routing-key",
        help="the routing key (default: the --declare-queue name on the "
        "default exchange, else '')",
    )
    encoding = parser.add_mutually_exclusive_group()
    encoding.add_argument(
        "-s",
        "--serializer",
        help="read the body as JSON and encode it with this serializer: json "
        "(the default), pickle, yaml, msgpack; or raw to send the bytes as they are",
    )
    encoding.add_argument(
        "--content-type",
        help="send the body as it is, with this content type (text/plain...)",
    )
    parser.add_argument(
        "--compression", help="compress the body: zlib, bzip2, lzma, zstd, brotli"
    )
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        type=key_value,
        default=[],
        metavar="KEY=VALUE",
        help="add an application header (repeatable); KEY:=JSON for a "
        "number, boolean or list",
    )
    parser.add_argument(
        "--declare-queue",
        metavar="QUEUE",
        help="declare this durable queue first, bound to --exchange with "
        "--routing-key (the exchange must exist)",
    )
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="wait for the broker to confirm every message",
    )
    parser.add_argument(
        "-n",
        "--count",
        type=positive_int,
        default=1,
        help="publish the message this many times (a progress bar shows on a terminal)",
    )


def encode_body(
    body: bytes, serializer: str | None, content_type: str | None
) -> tuple[bytes, str, str]:
    """Return ``(payload, content_type, content_encoding)`` for a raw body.

    Raises:
        UsageError: the body is not JSON (and should be).
        SerializerNotInstalled: the serializer is unknown.
        EncodeError: the serializer could not encode the value.
    """
    if content_type is not None:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return body, content_type, "binary"
        return body, content_type, "utf-8"
    codec = registry.encoder_for(serializer or "json")
    if codec.name == "raw":
        return codec.encode(body), *codec.content_type_for(body)
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise UsageError(
            f"the body is not valid JSON ({exc}); write a JSON string as "
            "'\"text\"', or send the bytes as they are with --content-type "
            "text/plain or --serializer raw"
        ) from None
    content, encoding, payload = codec.dumps(value)
    return payload, content, encoding


def _read_body(body: str | None, console: Console) -> bytes:
    if body is not None and body != "-":
        # surrogateescape: an argument that is not UTF-8 keeps its bytes.
        return body.encode("utf-8", "surrogateescape")
    stdin = console.stdin
    isatty = getattr(stdin, "isatty", None)
    if callable(isatty) and isatty():
        raise UsageError("no body: give it as an argument, or pipe it in on stdin")
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        data: bytes = buffer.read()
        return data
    return stdin.read().encode("utf-8", "surrogateescape")


def run(args: argparse.Namespace, console: Console) -> None:
    """Publish the message ``args`` describe, ``args.count`` times."""
    exchange: str = args.exchange
    queue_name: str | None = args.declare_queue
    routing_key: str | None = args.routing_key
    count: int = args.count
    if routing_key is None:
        if not exchange and queue_name is None:
            raise UsageError(
                "publishing to the default exchange needs --routing-key "
                "(the name of the queue to deliver to) or --declare-queue"
            )
        routing_key = queue_name if not exchange and queue_name else ""
    payload, content_type, content_encoding = encode_body(
        _read_body(args.body, console), args.serializer, args.content_type
    )
    headers = dict(args.header)
    with (
        Connection(console.url, confirm_publish=args.confirm) as connection,
        connection.channel() as channel,
    ):
        if queue_name is not None:
            _declare_queue(queue_name, exchange, routing_key, channel, console)
        producer = Producer(channel, compression=args.compression)
        progress = Progress(console.stderr, count, "publishing")
        done = 0
        try:
            for done in range(1, count + 1):
                producer.publish(
                    payload,
                    exchange=exchange,
                    routing_key=routing_key,
                    content_type=content_type,
                    content_encoding=content_encoding,
                    headers=headers or None,
                )
                progress.update(done)
        except KombuError as exc:
            if count > 1:
                exc.add_note(f"{done - 1} of {count} messages were published first")
            raise
        finally:
            progress.close()
    messages = f"{count} message" if count == 1 else f"{count} messages"
    size = f"{len(payload)} byte" if len(payload) == 1 else f"{len(payload)} bytes"
    each = " each" if count > 1 else ""
    confirmed = ", confirmed by the broker" if args.confirm else ""
    console.out.record(
        f"published {messages} ({size}{each}) to exchange "
        f"{exchange!r} with routing key {routing_key!r}{confirmed}",
        {
            "published": count,
            "exchange": exchange,
            "routing_key": routing_key,
            "body_size": len(payload),
            "content_type": content_type,
            "confirmed": bool(args.confirm),
        },
    )


def _declare_queue(
    name: str,
    exchange: str,
    routing_key: str,
    channel: Channel,
    console: Console,
) -> None:
    # The exchange is only bound to, never declared: guessing its type and
    # flags could clash with the real one (406 PRECONDITION_FAILED).
    source = Exchange(exchange, no_declare=True) if exchange else None
    Queue(name, source, routing_key=routing_key if source else "").declare(
        channel=channel
    )
    bound = f", bound to {exchange!r} with key {routing_key!r}" if exchange else ""
    console.out.note(f"declared queue {name!r}{bound}")
