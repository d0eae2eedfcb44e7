"""``kombu-lite get`` and ``kombu-lite consume``: print the messages of a queue.

``get`` fetches what is ready (``basic.get``), one message by default;
``consume`` subscribes (``basic.consume``) and prints messages as they
arrive, until ``--count`` messages or ``--timeout`` seconds of silence.

Acknowledgement: with ``--ack`` (the default) a message is acknowledged
once it is printed, so it leaves the queue.  With ``--no-ack`` nothing is
acknowledged: every message printed is put back on the queue at the end
(a peek).  This is not AMQP's ``no_ack`` flag, which would drop messages
on delivery.

Bodies are never unpickled: JSON is decoded for ``--json`` output, text is
printed as text and anything else is described (or base64 with ``--json``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import time
from typing import TYPE_CHECKING

from kombu_lite.cli._args import positive_int, seconds
from kombu_lite.cli._errors import CommandError
from kombu_lite.compression import decompress
from kombu_lite.connection import Connection
from kombu_lite.entity import Queue
from kombu_lite.exceptions import KombuError
from kombu_lite.message import Message

if TYPE_CHECKING:
    from kombu_lite.channel import Channel
    from kombu_lite.cli._output import Console
    from kombu_lite.transport.base import Delivery

__all__ = ["add_consume_arguments", "add_get_arguments", "consume", "describe", "get"]

#: How long ``get --timeout`` sleeps between two ``basic.get`` at most.
_MAX_POLL_INTERVAL = 0.2
#: Unacknowledged deliveries a ``consume --ack`` without ``--count`` allows.
_PREFETCH = 100


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queue", help="the queue to read")
    parser.add_argument(
        "--ack",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="acknowledge each message once printed, removing it from the "
        "queue (the default); --no-ack puts every message back at the end",
    )


def add_get_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``get``'s arguments to ``parser``."""
    _add_common(parser)
    parser.add_argument(
        "-n",
        "--count",
        type=positive_int,
        default=1,
        help="fetch up to this many messages (default: 1)",
    )
    parser.add_argument(
        "-t",
        "--timeout",
        type=seconds,
        default=0.0,
        help="when the queue is empty, wait this many seconds for a message "
        "(default: 0, do not wait)",
    )


def add_consume_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``consume``'s arguments to ``parser``."""
    _add_common(parser)
    parser.add_argument(
        "-n",
        "--count",
        type=positive_int,
        help="stop after this many messages (default: no limit)",
    )
    parser.add_argument(
        "-t",
        "--timeout",
        type=seconds,
        help="stop after this many seconds without a message (default: wait "
        "until interrupted)",
    )


def _plain_body(message: Message) -> tuple[bytes, str | None]:
    """The body with its compression undone, and a note if that failed."""
    method = message.headers.get("compression")
    if not isinstance(method, str):
        return message.body, None
    try:
        return decompress(message.body, method), None
    except KombuError as exc:
        return message.body, f"could not decompress it: {exc}"


def describe(
    message: Message, queue: str, number: int
) -> tuple[str, dict[str, object]]:
    """Return the text and the JSON record that show ``message``."""
    body, problem = _plain_body(message)
    content_type = message.content_type or "application/data"
    text: str | None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    record: dict[str, object] = {
        "queue": queue,
        "exchange": message.delivery_info["exchange"],
        "routing_key": message.delivery_info["routing_key"],
        "redelivered": message.redelivered,
        "delivery_tag": message.delivery_tag,
        "size": len(message.body),
        "content_type": content_type,
        "content_encoding": message.content_encoding,
        "headers": message.headers,
        "properties": {
            key: value
            for key, value in message.properties.items()
            if key not in ("headers", "content_type", "content_encoding")
        },
        "body": text if text is not None else base64.b64encode(body).decode(),
        "body_encoding": "utf-8" if text is not None else "base64",
    }
    if content_type == "application/json" and problem is None:
        # Only JSON is decoded: it runs no code, unlike pickle or YAML.
        with contextlib.suppress(KombuError):
            record["payload"] = message.decode()
    lines = [
        f"message {number} from {queue!r}: {len(message.body)} bytes, "
        f"{content_type}, exchange {record['exchange']!r}, routing key "
        f"{record['routing_key']!r}" + (", redelivered" if message.redelivered else "")
    ]
    if message.headers:
        shown = ", ".join(f"{key}={value!r}" for key, value in message.headers.items())
        lines.append(f"  headers: {shown}")
    if problem is not None:
        lines.append(f"  ({problem})")
    if text is not None:
        lines.extend(f"  {line}" for line in (text.splitlines() or [""]))
    else:
        lines.append(
            f"  <{len(body)} bytes of binary data; use --json to get them in base64>"
        )
    return "\n".join(lines), record


def _settle(held: list[Message], ack: bool) -> None:
    for message in held:
        if ack:
            message.ack()
        else:
            message.requeue()
    held.clear()


def _settle_after_error(held: list[Message], ack: bool) -> None:
    # Best effort while another error is on its way out: whatever cannot be
    # settled here is requeued by the broker when the channel closes.
    with contextlib.suppress(KombuError):
        _settle(held, ack)


def _summary(console: Console, count: int, queue: str, ack: bool) -> None:
    if count == 0:
        console.out.note(f"no message in {queue!r}")
        return
    plural = "message" if count == 1 else "messages"
    done = "acknowledged" if ack else "put back on the queue"
    console.out.note(f"{count} {plural} {done}")


def get(args: argparse.Namespace, console: Console) -> None:
    """Fetch and print up to ``args.count`` ready messages."""
    name: str = args.queue
    ack: bool = args.ack
    queue = Queue(name, no_declare=True)
    held: list[Message] = []
    received = 0
    with Connection(console.url) as connection, connection.channel() as channel:
        try:
            while received < args.count:
                message = _get_one(queue, channel, args.timeout)
                if message is None:
                    break
                received += 1
                console.out.record(*describe(message, name, received))
                if ack:
                    message.ack()
                else:
                    # Requeued only at the end: a message put back now would
                    # be the next basic.get's answer again.
                    held.append(message)
        except BaseException:
            _settle_after_error(held, ack)
            raise
        _settle(held, ack)
    _summary(console, received, name, ack)


def _get_one(queue: Queue, channel: Channel, timeout: float) -> Message | None:
    # basic.get does not wait, and a consumer would take more than asked
    # for; polling with a growing pause is the honest way to wait for one.
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        message = queue.get(no_ack=False, channel=channel)
        if message is not None:
            return message
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, _MAX_POLL_INTERVAL)


class _Consuming:
    """The state of one ``consume`` run, shared with its callbacks."""

    def __init__(
        self,
        name: str,
        channel: Channel,
        console: Console,
        count: int | None,
        ack: bool,
    ) -> None:
        self.name = name
        self.channel = channel
        self.console = console
        self.count = count
        self.ack = ack
        self.received = 0
        self.held: list[Message] = []
        self.cancelled = False
        self.last_at = time.monotonic()

    @property
    def done(self) -> bool:
        return self.cancelled or (
            self.count is not None and self.received >= self.count
        )

    def on_delivery(self, delivery: Delivery) -> None:
        message = Message(delivery, self.channel)
        self.received += 1
        self.last_at = time.monotonic()
        self.console.out.record(*describe(message, self.name, self.received))
        if self.ack and self.count is None:
            message.ack()
        else:
            # With --count the acks wait for the end: the prefetch window is
            # exactly --count, so the broker never sends one message too many.
            self.held.append(message)

    def on_cancel(self, consumer_tag: str) -> None:
        del consumer_tag
        self.cancelled = True


def consume(args: argparse.Namespace, console: Console) -> None:
    """Print messages as they arrive, until ``--count`` or ``--timeout``.

    Raises:
        CommandError: the broker cancelled the consumer (the queue was
            deleted).
    """
    name: str = args.queue
    count: int | None = args.count
    timeout: float | None = args.timeout
    ack: bool = args.ack
    with Connection(console.url) as connection, connection.channel() as channel:
        state = _Consuming(name, channel, console, count, ack)
        # --no-ack without --count holds every message to the end: no window.
        prefetch = min(count, 65535) if count is not None else _PREFETCH if ack else 0
        channel.basic_qos(prefetch_count=prefetch)
        tag = channel._consume(name, state.on_delivery, on_cancel=state.on_cancel)
        try:
            while not state.done:
                wait = None
                if timeout is not None:
                    wait = state.last_at + timeout - time.monotonic()
                    if wait <= 0:
                        break
                try:
                    connection.drain_events(timeout=wait)
                except TimeoutError:
                    continue  # the loop checks the idle time again
        except BaseException:
            # Cancel first: a message put back while the consumer still
            # runs would be delivered to it again as the channel closes.
            with contextlib.suppress(KombuError):
                channel.basic_cancel(tag)
            _settle_after_error(state.held, ack)
            raise
        if state.cancelled:
            # The queue is gone, and its deliveries with it.
            _settle_after_error(state.held, ack)
        else:
            channel.basic_cancel(tag)
            _settle(state.held, ack)
    _summary(console, state.received, name, ack)
    if state.cancelled:
        raise CommandError(
            f"the broker cancelled the consumer of {name!r} (was the queue deleted?)"
        )
