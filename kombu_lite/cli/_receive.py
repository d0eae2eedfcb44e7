"""``kombu-lite get``: print the messages waiting in a queue.

``get`` fetches what is ready (``basic.get``), one message by default.
How a message is settled (``get`` and ``consume`` alike):

``--ack`` (the default)
    acknowledged once printed, so it leaves the queue; a message that was
    not printed (the command failed first) goes back to the queue.
``--no-ack``
    AMQP's no-ack: the broker drops the message as it sends it, so a
    message lost on its way (a failure, Ctrl-C) is gone.  As amqp-tools'
    ``-A``.
``--peek`` (also spelt ``--requeue``)
    nothing is removed: every message printed is put back on the queue
    at the end (what ``--no-ack`` did before issue 17).

Bodies are never unpickled: JSON is decoded for ``--json`` output, text is
printed as text with control characters escaped (see
:mod:`kombu_lite.cli._show`), anything else is described; ``--raw``
writes the bodies' bytes as they are.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

from kombu_lite.cli._args import positive_int, seconds
from kombu_lite.cli._errors import ExitStatus, UsageError
from kombu_lite.cli._show import describe, plain_body
from kombu_lite.connection import Connection
from kombu_lite.entity import Queue
from kombu_lite.exceptions import KombuError

if TYPE_CHECKING:
    import argparse

    from kombu_lite.channel import Channel
    from kombu_lite.cli._output import Console
    from kombu_lite.message import Message

__all__ = [
    "add_get_arguments",
    "add_settle_arguments",
    "get",
    "settle",
    "settle_after_error",
    "show",
    "start_output",
    "summary",
]

#: How long ``get --timeout`` sleeps between two ``basic.get`` at most.
_MAX_POLL_INTERVAL = 0.2


def add_settle_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--ack``/``--no-ack``/``--peek`` and ``--raw`` (get and consume)."""
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument(
        "--ack",
        dest="mode",
        action="store_const",
        const="ack",
        help="acknowledge each message once shown, removing it from the "
        "queue (the default)",
    )
    modes.add_argument(
        "--no-ack",
        dest="mode",
        action="store_const",
        const="no-ack",
        help="AMQP no-ack: the broker drops each message as it sends it "
        "(a message lost on the way is gone)",
    )
    modes.add_argument(
        "--peek",
        "--requeue",
        dest="mode",
        action="store_const",
        const="peek",
        help="remove nothing: put every message back on the queue at the end",
    )
    parser.set_defaults(mode="ack")
    parser.add_argument(
        "--raw",
        action="store_true",
        help="write each body's bytes as they are, and nothing else",
    )


def add_get_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``get``'s arguments to ``parser``."""
    parser.add_argument("queue", help="the queue to read")
    add_settle_arguments(parser)
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


def start_output(args: argparse.Namespace, console: Console) -> None:
    """Check ``--raw`` against ``--json`` and switch the output to raw."""
    if args.raw:
        if console.out.json_mode:
            raise UsageError("--raw and --json cannot be used together")
        console.out.raw_mode = True


def show(console: Console, message: Message, queue: str, number: int) -> None:
    """Write ``message`` as text, JSON or raw bytes, as the options say."""
    if console.out.raw_mode:
        console.out.raw(plain_body(message)[0])
    else:
        console.out.record(*describe(message, queue, number))


def settle(held: list[Message], mode: str) -> None:
    """Acknowledge (``ack``) or put back (``peek``) the messages ``held``."""
    for message in held:
        if mode == "ack":
            message.ack()
        else:
            message.requeue()
    held.clear()


def settle_after_error(held: list[Message], mode: str) -> None:
    """:func:`settle` while another error is on its way out: best effort.

    Whatever cannot be settled here is requeued by the broker when the
    channel closes.
    """
    with contextlib.suppress(KombuError):
        settle(held, mode)


_DONE = {
    "ack": "acknowledged",
    "no-ack": "taken (no-ack)",
    "peek": "put back on the queue",
}


def summary(console: Console, count: int, queue: str, mode: str) -> None:
    """Say how many messages were shown and what became of them."""
    if count == 0:
        console.out.note(f"no message in {queue!r}")
        return
    plural = "message" if count == 1 else "messages"
    console.out.note(f"{count} {plural} {_DONE[mode]}")


def get(args: argparse.Namespace, console: Console) -> ExitStatus:
    """Fetch and show up to ``args.count`` ready messages.

    Returns :attr:`ExitStatus.EMPTY` when there was none (with ``--json``,
    after a ``{"queue": ..., "empty": true}`` line).
    """
    start_output(args, console)
    name: str = args.queue
    mode: str = args.mode
    queue = Queue(name, no_declare=True)
    held: list[Message] = []
    received = 0
    with Connection(console.url) as connection, connection.channel() as channel:
        try:
            while received < args.count:
                message = _get_one(queue, channel, args.timeout, mode == "no-ack")
                if message is None:
                    break
                received += 1
                show(console, message, name, received)
                if mode == "ack":
                    message.ack()
                elif mode == "peek":
                    # Requeued only at the end: a message put back now would
                    # be the next basic.get's answer again.
                    held.append(message)
        except BaseException:
            settle_after_error(held, mode)
            raise
        settle(held, mode)
    if received == 0:
        if console.out.json_mode:
            console.out.record("", {"queue": name, "empty": True, "messages": 0})
        summary(console, 0, name, mode)
        return ExitStatus.EMPTY
    summary(console, received, name, mode)
    return ExitStatus.OK


def _get_one(
    queue: Queue, channel: Channel, timeout: float, no_ack: bool
) -> Message | None:
    # basic.get does not wait, and a consumer would take more than asked
    # for; polling with a growing pause is the honest way to wait for one.
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        message = queue.get(no_ack=no_ack, channel=channel)
        if message is not None:
            return message
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, _MAX_POLL_INTERVAL)
