"""``kombu-lite bind``, ``unbind`` and ``check``.

``bind queue Q --exchange X --routing-key K`` routes what ``X`` receives
with key ``K`` to ``Q``; ``bind exchange D --exchange S`` routes from
exchange ``S`` to exchange ``D`` (RabbitMQ's exchange-to-exchange
bindings).  ``unbind`` removes the same binding.  Both must exist: the
broker refuses a binding to or from a missing one (404, exit status 1).
RabbitMQ removes a binding that does not exist without a word, so
``unbind`` cannot say whether there was one.

``check`` is a health check for scripts and container probes: it
connects, opens a channel and, for each queue named, declares it
passively and reports its depth and consumers.  Exit status 0 when all
of that worked, 1 otherwise (``--min-consumers`` and ``--max-messages``
turn a queue's state into a failure too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kombu_lite.cli._args import key_value, non_negative_int
from kombu_lite.cli._errors import CommandError
from kombu_lite.connection import Connection
from kombu_lite.exceptions import KombuError

if TYPE_CHECKING:
    import argparse

    from kombu_lite.cli._output import Console

__all__ = ["add_bind_arguments", "add_check_arguments", "check"]


def add_bind_arguments(
    parser: argparse.ArgumentParser,
    parents: list[argparse.ArgumentParser],
    *,
    unbind: bool,
) -> None:
    """Add ``bind``'s (or ``unbind``'s) ``queue`` and ``exchange`` kinds."""
    verb = "unbind" if unbind else "bind"
    kinds = parser.add_subparsers(
        dest="kind", required=True, metavar="{queue,exchange}"
    )
    for kind in ("queue", "exchange"):
        sub = kinds.add_parser(
            kind,
            parents=parents,
            help=f"{verb} a {kind} from an exchange"
            if unbind
            else f"{verb} a {kind} to an exchange",
        )
        sub.add_argument("name", help=f"the {kind} that receives (the destination)")
        sub.add_argument(
            "-e",
            "--exchange",
            required=True,
            help="the exchange messages come from (the source)",
        )
        sub.add_argument(
            "-r",
            "--routing-key",
            default="",
            help="the binding key (default: '')",
        )
        sub.add_argument(
            "--argument",
            action="append",
            type=key_value,
            default=[],
            metavar="KEY=VALUE",
            help="a binding argument (repeatable; headers exchanges: x-match...)",
        )
        sub.set_defaults(run=_unbind if unbind else _bind)


def _bind(args: argparse.Namespace, console: Console) -> None:
    _binding(args, console, unbind=False)


def _unbind(args: argparse.Namespace, console: Console) -> None:
    _binding(args, console, unbind=True)


def _binding(args: argparse.Namespace, console: Console, *, unbind: bool) -> None:
    kind: str = args.kind
    name: str = args.name
    source: str = args.exchange
    key: str = args.routing_key
    arguments = dict(args.argument) or None
    with Connection(console.url) as connection, connection.channel() as channel:
        if kind == "queue":
            method = channel.queue_unbind if unbind else channel.queue_bind
            method(name, source, key, arguments=arguments)
        elif unbind:
            channel.exchange_unbind(name, source, key, arguments=arguments)
        else:
            channel.exchange_bind(name, source, key, arguments=arguments)
    done = "unbound" if unbind else "bound"
    direction = "from" if unbind else "to"
    console.out.record(
        f"{done} {kind} {name!r} {direction} exchange {source!r} with key {key!r}",
        {
            done: kind,
            "name": name,
            "exchange": source,
            "routing_key": key,
            "arguments": arguments,
        },
    )


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``check``'s arguments to ``parser``."""
    parser.add_argument(
        "queues", nargs="*", metavar="QUEUE", help="queues that must exist"
    )
    parser.add_argument(
        "--min-consumers",
        type=non_negative_int,
        default=0,
        help="fail when a queue has fewer consumers than this",
    )
    parser.add_argument(
        "--max-messages",
        type=non_negative_int,
        help="fail when a queue holds more ready messages than this",
    )


def check(args: argparse.Namespace, console: Console) -> None:
    """Connect, open a channel, check the queues named; fail on any problem."""
    problems: list[str] = []
    with Connection(console.url) as connection:
        with connection.channel():
            pass
        console.out.record(
            "connected and opened a channel",
            {"connected": True, "url": connection.as_uri()},
        )
        for name in args.queues:
            # A channel per queue: a missing one closes the channel it was
            # asked on, and the next queue is still checked.
            with connection.channel() as channel:
                try:
                    declared = channel.queue_declare(name, passive=True)
                except KombuError as exc:
                    problems.append(f"queue {name!r}: {exc}")
                    console.out.record(
                        f"queue {name!r}: missing or refused ({exc})",
                        {"queue": name, "ok": False, "error": str(exc)},
                    )
                    continue
            messages, consumers = declared.message_count, declared.consumer_count
            failed = [
                text
                for text, bad in (
                    (
                        f"{consumers} consumers < {args.min_consumers}",
                        consumers < args.min_consumers,
                    ),
                    (
                        f"{messages} messages > {args.max_messages}",
                        args.max_messages is not None and messages > args.max_messages,
                    ),
                )
                if bad
            ]
            problems.extend(f"queue {name!r}: {text}" for text in failed)
            console.out.record(
                f"queue {name!r}: {_plural(messages, 'message')}, "
                f"{_plural(consumers, 'consumer')}"
                + (f" ({'; '.join(failed)})" if failed else ""),
                {
                    "queue": name,
                    "ok": not failed,
                    "messages": messages,
                    "consumers": consumers,
                },
            )
    if problems:
        raise CommandError("; ".join(problems), details={"problems": problems})


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
