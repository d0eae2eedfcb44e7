"""``kombu-lite declare``, ``delete`` and ``purge``: manage exchanges and queues.

Declares use kombu's defaults (durable, not auto-delete), like
``Exchange(...)`` and ``Queue(...)`` in code, so an entity made here and
one declared by an application agree.  ``--passive`` only checks that an
entity exists, and for a queue reports its message and consumer counts.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TypeVar

from kombu_lite.cli._args import key_value, non_negative_int, seconds
from kombu_lite.cli._errors import CommandError, ExitStatus, UsageError
from kombu_lite.connection import Connection
from kombu_lite.entity import Exchange, Queue
from kombu_lite.exceptions import NotFound

if TYPE_CHECKING:
    from collections.abc import Callable

    from kombu_lite.channel import Channel
    from kombu_lite.cli._output import Console

__all__ = ["add_declare_arguments", "add_delete_arguments", "add_purge_arguments"]

T = TypeVar("T")


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--durable",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="survive a broker restart (default: yes)",
    )
    parser.add_argument(
        "--auto-delete",
        action="store_true",
        help="let the broker delete it when it is no longer used",
    )
    parser.add_argument(
        "--argument",
        action="append",
        type=key_value,
        default=[],
        metavar="KEY=VALUE",
        help="an extra declare argument (repeatable); KEY:=JSON for numbers",
    )
    parser.add_argument(
        "--passive",
        action="store_true",
        help="only check that it exists (NotFound if it does not)",
    )


def add_declare_arguments(
    parser: argparse.ArgumentParser, parents: list[argparse.ArgumentParser]
) -> None:
    """Add ``declare exchange`` and ``declare queue`` to ``parser``."""
    kinds = parser.add_subparsers(
        dest="kind", required=True, metavar="{exchange,queue}"
    )
    exchange = kinds.add_parser("exchange", parents=parents, help="declare an exchange")
    exchange.add_argument("name", help="the exchange name")
    exchange.add_argument(
        "--type",
        default="direct",
        help="direct (the default), topic, fanout, headers or an x- plugin type",
    )
    # -t means --timeout in every command; here it was --type, and still
    # is, with a warning, until it is removed.
    exchange.add_argument(
        "-t", dest="type", action=_DeprecatedTypeFlag, help=argparse.SUPPRESS
    )
    exchange.add_argument(
        "--internal",
        action="store_true",
        help="only other exchanges may publish to it",
    )
    _flags(exchange)
    exchange.set_defaults(run=declare_exchange)

    queue = kinds.add_parser("queue", parents=parents, help="declare a queue")
    queue.add_argument("name", help="the queue name")
    queue.add_argument("-e", "--exchange", help="bind the queue to this exchange")
    queue.add_argument(
        "-r",
        "--routing-key",
        default="",
        help="the binding key (default: '')",
    )
    queue.add_argument("--max-length", type=non_negative_int, help="x-max-length")
    queue.add_argument(
        "--max-length-bytes", type=non_negative_int, help="x-max-length-bytes"
    )
    queue.add_argument(
        "--message-ttl", type=seconds, help="drop messages older than this (seconds)"
    )
    queue.add_argument(
        "--expires",
        type=seconds,
        help="delete the queue after this idle time (seconds)",
    )
    queue.add_argument(
        "--max-priority", type=non_negative_int, help="make it a priority queue (1-255)"
    )
    _flags(queue)
    queue.set_defaults(run=declare_queue)


class _DeprecatedTypeFlag(argparse.Action):
    """``declare exchange -t TYPE``: still ``--type``, with a warning on stderr."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        sys.stderr.write(
            f"{parser.prog}: warning: -t for --type is deprecated and will be "
            "removed (-t means --timeout in every command); write --type\n"
        )


def _if_exists(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--if-exists",
        action="store_true",
        help="succeed quietly when it does not exist (default: say so, exit status 4)",
    )


def add_delete_arguments(
    parser: argparse.ArgumentParser, parents: list[argparse.ArgumentParser]
) -> None:
    """Add ``delete exchange`` and ``delete queue`` to ``parser``."""
    kinds = parser.add_subparsers(
        dest="kind", required=True, metavar="{exchange,queue}"
    )
    exchange = kinds.add_parser("exchange", parents=parents, help="delete an exchange")
    exchange.add_argument("name", help="the exchange name")
    exchange.add_argument(
        "--if-unused", action="store_true", help="only if it has no bindings"
    )
    _if_exists(exchange)
    exchange.set_defaults(run=delete_exchange)

    queue = kinds.add_parser(
        "queue", parents=parents, help="delete a queue and its messages"
    )
    queue.add_argument("name", help="the queue name")
    queue.add_argument(
        "--if-unused", action="store_true", help="only if it has no consumers"
    )
    queue.add_argument(
        "--if-empty", action="store_true", help="only if it holds no messages"
    )
    _if_exists(queue)
    queue.set_defaults(run=delete_queue)


def add_purge_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``purge``'s arguments to ``parser``."""
    parser.add_argument("queue", help="the queue to empty")


def _with_channel(console: Console, action: Callable[[Channel], T]) -> T:
    with Connection(console.url) as connection, connection.channel() as channel:
        return action(channel)


def declare_exchange(args: argparse.Namespace, console: Console) -> None:
    """Declare (or with ``--passive``, check) an exchange."""
    name: str = args.name
    if not name:
        raise UsageError("the default exchange '' always exists; give a name")
    exchange = Exchange(
        name,
        type=args.type,
        durable=args.durable,
        auto_delete=args.auto_delete,
        internal=args.internal,
        arguments=dict(args.argument) or None,
    )

    def act(channel: Channel) -> None:
        exchange.declare(passive=args.passive, channel=channel)

    _with_channel(console, act)
    if args.passive:
        console.out.record(
            f"exchange {name!r} exists", {"exists": "exchange", "name": name}
        )
        return
    flags = ", ".join(
        flag
        for flag, on in (
            ("durable", exchange.durable),
            ("auto-delete", exchange.auto_delete),
            ("internal", exchange.internal),
        )
        if on
    )
    console.out.record(
        f"declared exchange {name!r} ({exchange.type}{', ' + flags if flags else ''})",
        {
            "declared": "exchange",
            "name": name,
            "type": exchange.type,
            "durable": exchange.durable,
            "auto_delete": exchange.auto_delete,
            "internal": exchange.internal,
        },
    )


def declare_queue(args: argparse.Namespace, console: Console) -> None:
    """Declare (or with ``--passive``, check) a queue, and bind it."""
    counts: list[tuple[str, int, int]] = []
    source: str | None = args.exchange
    queue = Queue(
        args.name,
        # Bound to, never declared: its real type and flags are unknown here.
        Exchange(source, no_declare=True) if source else None,
        routing_key=args.routing_key,
        durable=args.durable,
        auto_delete=args.auto_delete,
        queue_arguments=dict(args.argument) or None,
        max_length=args.max_length,
        max_length_bytes=args.max_length_bytes,
        message_ttl=args.message_ttl,
        expires=args.expires,
        max_priority=args.max_priority,
        on_declared=lambda *answer: counts.append(answer),
    )

    def act(channel: Channel) -> None:
        if args.passive:
            queue.queue_declare(passive=True, channel=channel)
        else:
            queue.declare(channel=channel)

    _with_channel(console, act)
    name, messages, consumers = counts[-1]
    record: dict[str, object] = {
        "name": name,
        "messages": messages,
        "consumers": consumers,
    }
    tally = f"{_plural(messages, 'message')}, {_plural(consumers, 'consumer')}"
    if args.passive:
        console.out.record(
            f"queue {name!r} exists: {tally}", {"exists": "queue", **record}
        )
        return
    bound = f", bound to {source!r} with key {args.routing_key!r}" if source else ""
    durable = "durable" if queue.durable else "transient"
    console.out.record(
        f"declared queue {name!r} ({durable}; {tally}){bound}",
        {
            "declared": "queue",
            **record,
            "durable": queue.durable,
            "exchange": source,
            "routing_key": args.routing_key if source else None,
        },
    )


def _missing(kind: str, name: str, exc: NotFound, if_exists: bool) -> CommandError:
    text = f"no {kind} {name!r} ({exc.reply_text or exc}); nothing deleted"
    details: dict[str, object] = {"kind": kind, "name": name}
    if if_exists:
        return CommandError(text, status=ExitStatus.OK, details=details)
    return CommandError(text, status=ExitStatus.NOT_FOUND, details=details)


def delete_exchange(args: argparse.Namespace, console: Console) -> ExitStatus:
    """Delete an exchange; say so when there is none (exit status 4).

    The broker deletes a missing exchange without a word, so a passive
    declare asks first (an exchange made between the two is deleted).
    """
    name: str = args.name
    if not name:
        raise UsageError("the default exchange '' cannot be deleted")
    exchange = Exchange(name)

    def act(channel: Channel) -> None:
        exchange.declare(passive=True, channel=channel)
        exchange.delete(if_unused=args.if_unused, channel=channel)

    try:
        _with_channel(console, act)
    except NotFound as exc:
        return _nothing_to_delete(
            console, _missing("exchange", name, exc, args.if_exists)
        )
    console.out.record(
        f"deleted exchange {name!r}", {"deleted": "exchange", "name": name}
    )
    return ExitStatus.OK


def delete_queue(args: argparse.Namespace, console: Console) -> ExitStatus:
    """Delete a queue and the messages it holds; say so when there is none."""
    name: str = args.name
    queue = Queue(name, no_declare=True)

    def act(channel: Channel) -> int:
        queue.queue_declare(passive=True, channel=channel)
        return queue.delete(
            if_unused=args.if_unused, if_empty=args.if_empty, channel=channel
        )

    try:
        dropped = _with_channel(console, act)
    except NotFound as exc:
        return _nothing_to_delete(console, _missing("queue", name, exc, args.if_exists))
    console.out.record(
        f"deleted queue {name!r} and {_plural(dropped, 'message')}",
        {"deleted": "queue", "name": name, "messages": dropped},
    )
    return ExitStatus.OK


def _nothing_to_delete(console: Console, missing: CommandError) -> ExitStatus:
    if missing.status is not ExitStatus.OK:
        raise missing
    # --if-exists: quiet for people, a record for scripts.
    if console.out.json_mode:
        console.out.record("", {"deleted": None, **missing.details, "existed": False})
    return ExitStatus.OK


def purge(args: argparse.Namespace, console: Console) -> None:
    """Drop the ready messages of a queue."""
    name: str = args.queue
    queue = Queue(name, no_declare=True)
    purged = _with_channel(console, lambda channel: queue.purge(channel=channel))
    console.out.record(
        f"purged {_plural(purged, 'message')} from {name!r}",
        {"purged": purged, "queue": name},
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
