"""``kombu-lite publish``: send a message, the same one many times, or one per line.

The body comes from the argument, ``--file`` or stdin; with ``--lines``
each line of it is a message (as ``amqp-publish -l``).  It is JSON text
by default, and ``--serializer`` picks the wire format it is encoded in
(``json``, ``pickle``, ``yaml``, ``msgpack``, or ``raw`` for the bytes as
they are).  ``--content-type`` sends the bytes as they are with the given
type instead.  Every body is read and encoded before connecting, so a bad
line never leaves half a batch on the broker.  How the messages are sent,
and how refusals are detected, is :mod:`kombu_lite.cli._sending`'s job.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from kombu_lite.cli._args import key_value, non_negative_int, positive_int, seconds
from kombu_lite.cli._errors import UsageError
from kombu_lite.cli._sending import Batch, send_batch
from kombu_lite.connection import Connection
from kombu_lite.entity import Exchange, Queue
from kombu_lite.serialization import registry

if TYPE_CHECKING:
    from kombu_lite.channel import Channel
    from kombu_lite.cli._output import Console

__all__ = ["add_arguments", "encode_body", "run"]

_MAX_PRIORITY = 255


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
        help="wait for the broker to confirm every message (pipelined)",
    )
    parser.add_argument(
        "--mandatory",
        action=argparse.BooleanOptionalAction,
        help="fail when no queue takes a message (312 NO_ROUTE; default: "
        "on with --confirm, else off)",
    )
    parser.add_argument(
        "-n",
        "--count",
        type=positive_int,
        default=1,
        help="publish the message this many times (a progress bar shows on a terminal)",
    )
    source = parser.add_argument_group("where the bodies come from")
    source.add_argument(
        "-f",
        "--file",
        help="read the body from this file ('-': stdin) instead of an argument",
    )
    source.add_argument(
        "-l",
        "--lines",
        action="store_true",
        help="one message per line of the input (as amqp-publish -l)",
    )
    props = parser.add_argument_group("message properties")
    props.add_argument(
        "--priority", type=_priority, help="the message priority (0-255)"
    )
    props.add_argument(
        "--expiration",
        type=seconds,
        help="the broker drops the message after this many seconds in a queue",
    )
    props.add_argument("--reply-to", help="the queue a reply should go to")
    props.add_argument("--correlation-id", help="the correlation id")
    props.add_argument("--message-id", help="the message id")
    props.add_argument(
        "--transient",
        action="store_true",
        help="delivery mode 1: not written to disk (default: persistent)",
    )


def _priority(text: str) -> int:
    value = non_negative_int(text)
    if value > _MAX_PRIORITY:
        raise argparse.ArgumentTypeError(f"must be 0 to 255, not {value}")
    return value


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


def _read_input(args: argparse.Namespace, console: Console) -> bytes:
    body: str | None = args.body
    path: str | None = args.file
    if body is not None and path is not None:
        raise UsageError("give the body as an argument or with --file, not both")
    if path is not None and path != "-":
        try:
            with open(path, "rb") as file:
                return file.read()
        except OSError as exc:
            raise UsageError(f"cannot read --file {path!r}: {exc.strerror}") from None
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


def _encode_all(args: argparse.Namespace, data: bytes) -> tuple[list[bytes], str, str]:
    """Every message's payload, and the content type and encoding they share."""
    if not args.lines:
        payload, content_type, encoding = encode_body(
            data, args.serializer, args.content_type
        )
        return [payload] * args.count, content_type, encoding
    if args.count > 1:
        raise UsageError("--lines sends each line once: leave out --count")
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the newline that ends the last line starts no message
    if not lines:
        raise UsageError("--lines: the input has no line to publish")
    payloads: list[bytes] = []
    encodings: set[str] = set()
    content_type = ""
    for number, line in enumerate(lines, 1):
        try:
            payload, content_type, encoding = encode_body(
                line.removesuffix(b"\r"), args.serializer, args.content_type
            )
        except UsageError as exc:
            raise UsageError(f"line {number}: {exc}") from None
        payloads.append(payload)
        encodings.add(encoding)
    # One encoding for the batch: binary as soon as one line is not text.
    encoding = encodings.pop() if len(encodings) == 1 else "binary"
    return payloads, content_type, encoding


def _options(
    args: argparse.Namespace, content_type: str, content_encoding: str
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "content_type": content_type,
        "content_encoding": content_encoding,
        "headers": dict(args.header) or None,
        "priority": args.priority,
        "expiration": args.expiration,
    }
    if args.transient:
        options["delivery_mode"] = 1
    for name in ("reply_to", "correlation_id", "message_id"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    return options


def run(args: argparse.Namespace, console: Console) -> None:
    """Publish the messages ``args`` describe; fail on any refusal."""
    exchange: str = args.exchange
    queue_name: str | None = args.declare_queue
    routing_key: str | None = args.routing_key
    if routing_key is None:
        if not exchange and queue_name is None:
            raise UsageError(
                "publishing to the default exchange needs --routing-key "
                "(the name of the queue to deliver to) or --declare-queue"
            )
        routing_key = queue_name if not exchange and queue_name else ""
    payloads, content_type, content_encoding = _encode_all(
        args, _read_input(args, console)
    )
    batch = Batch(
        payloads=payloads,
        exchange=exchange,
        routing_key=routing_key,
        mandatory=args.confirm if args.mandatory is None else args.mandatory,
        confirm=args.confirm,
        compression=args.compression,
        options=_options(args, content_type, content_encoding),
    )
    with Connection(console.url) as connection, connection.channel() as channel:
        if queue_name is not None:
            _declare_queue(queue_name, exchange, routing_key, channel, console)
        send_batch(batch, connection, channel, console)
    count = len(payloads)
    sizes = {len(payload) for payload in payloads}
    body_size = next(iter(sizes)) if len(sizes) == 1 else None
    messages = f"{count} message" if count == 1 else f"{count} messages"
    if body_size is not None:
        each = " each" if count > 1 else ""
        bytes_ = f"{body_size} byte{'' if body_size == 1 else 's'}{each}"
    else:
        bytes_ = f"{sum(len(payload) for payload in payloads)} bytes in all"
    confirmed = ", confirmed by the broker" if args.confirm else ""
    console.out.record(
        f"published {messages} ({bytes_}) to exchange "
        f"{exchange!r} with routing key {routing_key!r}{confirmed}",
        {
            "published": count,
            "exchange": exchange,
            "routing_key": routing_key,
            "body_size": body_size,
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
