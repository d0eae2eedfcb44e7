"""``kombu-lite consume``: show messages as they arrive, or hand each to a command.

``consume`` subscribes (``basic.consume``) to a queue, or with
``--exchange`` to a temporary exclusive queue bound to that exchange (a
tap: it sees what is published from now on, and the broker deletes it
when the command ends), until ``--count`` messages, ``--timeout`` seconds
of silence, or Ctrl-C.

``--exec CMD`` runs ``CMD`` (split as a shell would, run without one) for
each message, with the body on its stdin, like ``amqp-consume``: exit
status 0 acknowledges the message; another status follows
``--on-failure``: ``stop`` (the default: put the message back and stop,
exit status 1), ``requeue`` (put it back and go on; a command that always
fails sees it again and again) or ``reject`` (drop it, or dead-letter it
if the queue has a dead-letter exchange, and go on; exit status 1 at the
end).  The command's stdout is the command line's.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import subprocess
import time
from typing import TYPE_CHECKING

from kombu_lite.cli._args import non_negative_int, positive_int, seconds
from kombu_lite.cli._errors import CommandError, ExitStatus, UsageError
from kombu_lite.cli._receive import (
    add_settle_arguments,
    settle,
    settle_after_error,
    show,
    start_output,
    summary,
)
from kombu_lite.cli._show import plain_body
from kombu_lite.connection import Connection
from kombu_lite.exceptions import KombuError
from kombu_lite.message import Message

if TYPE_CHECKING:
    import argparse

    from kombu_lite.channel import Channel
    from kombu_lite.cli._output import Console
    from kombu_lite.transport.base import Delivery

__all__ = ["add_consume_arguments", "consume"]

#: Unacknowledged deliveries a ``consume --ack`` without ``--count`` allows.
_PREFETCH = 100
_MAX_PREFETCH = 65535


def add_consume_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``consume``'s arguments to ``parser``."""
    parser.add_argument(
        "queue", nargs="?", help="the queue to read (or give --exchange)"
    )
    add_settle_arguments(parser)
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
    parser.add_argument(
        "--prefetch",
        type=non_negative_int,
        help="how many unacknowledged messages the broker may send ahead "
        f"(0: no limit; default: --count, else {_PREFETCH})",
    )
    parser.add_argument(
        "-e",
        "--exchange",
        help="tap this exchange: consume from a temporary exclusive queue bound to it",
    )
    parser.add_argument(
        "-r",
        "--binding-key",
        "--routing-key",
        dest="binding_keys",
        action="append",
        metavar="KEY",
        help="with --exchange: the binding key (repeatable; default: '#', "
        "everything on a topic exchange)",
    )
    parser.add_argument(
        "--exec",
        metavar="CMD",
        dest="command_line",
        help="run CMD for each message with the body on its stdin; exit "
        "status 0 acknowledges it",
    )
    parser.add_argument(
        "--on-failure",
        choices=("stop", "requeue", "reject"),
        default="stop",
        help="with --exec, when CMD fails: put the message back and stop "
        "(default), put it back and go on, or reject it and go on",
    )


class _Consuming:
    """The state of one ``consume`` run, shared with its callbacks."""

    def __init__(
        self, args: argparse.Namespace, channel: Channel, console: Console, name: str
    ) -> None:
        self.name = name
        self.channel = channel
        self.console = console
        self.count: int | None = args.count
        self.mode: str = args.mode
        self.command = shlex.split(args.command_line) if args.command_line else None
        self.on_failure: str = args.on_failure
        # With --count (and no --prefetch) acks wait for the end: the
        # prefetch window is exactly --count, so the broker never sends one
        # message too many.  --peek holds every message to the end.
        self.hold = self.mode == "peek" or (
            self.mode == "ack" and self.count is not None and args.prefetch is None
        )
        self.received = 0
        self.failed = 0
        self.held: list[Message] = []
        self.cancelled = False
        self.stopped = False
        self.last_at = time.monotonic()

    @property
    def done(self) -> bool:
        return (
            self.cancelled
            or self.stopped
            or (self.count is not None and self.received >= self.count)
        )

    def on_delivery(self, delivery: Delivery) -> None:
        message = Message(delivery, self.channel, no_ack=self.mode == "no-ack")
        self.received += 1
        self.last_at = time.monotonic()
        if self.command is not None:
            self._run_command(message)
            return
        show(self.console, message, self.name, self.received)
        if self.hold:
            self.held.append(message)
        elif self.mode == "ack":
            message.ack()

    def _run_command(self, message: Message) -> None:
        assert self.command is not None
        status = _pipe(self.command, plain_body(message)[0], message, self.console)
        if status == 0:
            outcome = "acknowledged"
            if self.mode == "ack":
                message.ack()
        else:
            self.failed += 1
            outcome = {
                "stop": "put back; stopping",
                "requeue": "put back",
                "reject": "rejected",
            }[self.on_failure]
            if self.mode == "ack":
                if self.on_failure == "reject":
                    message.reject()
                else:
                    message.requeue()
            self.stopped = self.on_failure == "stop"
        self.console.out.record(
            f"message {self.received} from {self.name!r}: {self.command[0]} "
            f"exited with {status}, {outcome}",
            {
                "queue": self.name,
                "delivery_tag": message.delivery_tag,
                "exit_status": status,
                "outcome": outcome.split(";")[0].replace("put back", "requeued"),
            },
        )

    def on_cancel(self, consumer_tag: str) -> None:
        del consumer_tag
        self.cancelled = True


def _pipe(command: list[str], body: bytes, message: Message, console: Console) -> int:
    env = dict(os.environ)
    info = message.delivery_info
    env.update(
        KOMBU_LITE_EXCHANGE=str(info["exchange"]),
        KOMBU_LITE_ROUTING_KEY=str(info["routing_key"]),
        KOMBU_LITE_REDELIVERED="1" if message.redelivered else "0",
        KOMBU_LITE_CONTENT_TYPE=message.content_type or "",
    )
    stdout = console.out.stdout
    try:
        fileno: int | None = stdout.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation, ValueError):
        fileno = None
    stdout.flush()
    try:
        done = subprocess.run(  # the user's own command, run without a shell
            command,
            input=body,
            stdout=fileno if fileno is not None else subprocess.PIPE,
            env=env,
            check=False,
        )
    except OSError as exc:
        raise CommandError(f"cannot run {command[0]!r}: {exc.strerror or exc}") from exc
    if fileno is None and done.stdout:
        stdout.write(done.stdout.decode("utf-8", "replace"))
    return done.returncode


def _check(args: argparse.Namespace) -> None:
    if (args.queue is None) == (args.exchange is None):
        raise UsageError(
            "give a queue to consume from, or --exchange to tap (not both)"
        )
    if args.binding_keys and args.exchange is None:
        raise UsageError("--binding-key needs --exchange")
    if args.command_line is not None:
        if not shlex.split(args.command_line):
            raise UsageError("--exec needs a command")
        if args.mode == "peek" or args.raw:
            raise UsageError("--exec cannot be used with --peek or --raw")
    if (
        args.mode == "peek"
        and args.prefetch
        and (args.count is None or args.prefetch < args.count)
    ):
        raise UsageError(
            "--peek holds every message to the end: --prefetch must be 0 or "
            "at least --count"
        )


def _prefetch(args: argparse.Namespace) -> int:
    if args.prefetch is not None:
        prefetch: int = args.prefetch
        return prefetch
    count: int | None = args.count
    if count is not None:
        return min(count, _MAX_PREFETCH)
    # --peek holds every message to the end: no window.
    return _PREFETCH if args.mode == "ack" else 0


def _source(args: argparse.Namespace, channel: Channel, console: Console) -> str:
    if args.queue is not None:
        return str(args.queue)
    declared = channel.queue_declare("", exclusive=True, auto_delete=True)
    for key in args.binding_keys or ["#"]:
        channel.queue_bind(declared.queue, args.exchange, key)
    keys = ", ".join(repr(key) for key in args.binding_keys or ["#"])
    console.out.note(
        f"tapping exchange {args.exchange!r} through {declared.queue!r} (key {keys})"
    )
    return declared.queue


def consume(args: argparse.Namespace, console: Console) -> ExitStatus:
    """Show (or run ``--exec`` for) messages as they arrive.

    Raises:
        CommandError: the broker cancelled the consumer (the queue was
            deleted), or ``--exec``'s command failed (``--on-failure stop``)
            or could not be run.
    """
    _check(args)
    start_output(args, console)
    timeout: float | None = args.timeout
    with Connection(console.url) as connection, connection.channel() as channel:
        name = _source(args, channel, console)
        state = _Consuming(args, channel, console, name)
        channel.basic_qos(prefetch_count=_prefetch(args))
        tag = channel._consume(
            name,
            state.on_delivery,
            no_ack=state.mode == "no-ack",
            on_cancel=state.on_cancel,
        )
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
            settle_after_error(state.held, state.mode)
            raise
        if state.cancelled:
            # The queue is gone, and its deliveries with it.
            settle_after_error(state.held, state.mode)
        else:
            channel.basic_cancel(tag)
            settle(state.held, state.mode)
    if state.command is not None and state.received:
        console.out.note(
            f"{state.received - state.failed} of {state.received} runs of "
            f"{state.command[0]!r} succeeded"
        )
    else:
        summary(console, state.received, name, state.mode)
    if state.cancelled:
        raise CommandError(
            f"the broker cancelled the consumer of {name!r} (was the queue deleted?)"
        )
    if state.failed and state.command is not None:
        raise CommandError(
            f"{state.failed} of {state.received} runs of {state.command[0]!r} "
            f"failed (--on-failure {state.on_failure})"
        )
    return ExitStatus.OK
