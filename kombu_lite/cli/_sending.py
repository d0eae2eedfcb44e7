"""How ``publish`` sends its messages, and finds out what became of them.

Nothing is reported as published that the broker refused:

* Without ``--confirm`` the messages are written, then one synchronous
  round trip (``basic.qos``) follows before the command ends.  The broker
  answers a channel's methods in order, so by its answer any refusal of
  a publish (an unknown exchange: 404, a forbidden one: 403) has closed
  the channel and is raised, and every ``basic.return`` of a
  ``--mandatory`` message has arrived.
* With ``--confirm`` the messages go through
  :meth:`~kombu_lite.messaging.Producer.publish_many` (pipelined: many
  messages wait for their confirm at once), and each message's outcome is
  counted.  ``--mandatory`` is the default with ``--confirm``.

A message returned as unroutable (``312 NO_ROUTE``) makes the command
fail.  Ctrl-C stops taking new messages: those already written are
confirmed (with ``--confirm``) and the counts reported, exit status 130;
a second Ctrl-C stops at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kombu_lite.cli._errors import CommandError, ExitStatus
from kombu_lite.cli._output import Progress
from kombu_lite.exceptions import KombuError
from kombu_lite.messaging import Producer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from types import FrameType

    from kombu_lite.channel import Channel
    from kombu_lite.cli._output import Console
    from kombu_lite.connection import Connection
    from kombu_lite.transport.base import ReturnedMessage

__all__ = ["Batch", "Tally", "send_batch"]


@dataclass(frozen=True, slots=True)
class Batch:
    """The messages one ``publish`` sends, and how.

    Attributes:
        payloads: The encoded bodies, in order.
        exchange: The exchange name.
        routing_key: The routing key.
        mandatory: Ask the broker to return what no queue takes.
        confirm: Wait for publisher confirms.
        compression: The compression method, if any.
        options: ``publish`` keyword arguments shared by every message.
    """

    payloads: Sequence[bytes]
    exchange: str
    routing_key: str
    mandatory: bool
    confirm: bool
    compression: str | None
    options: Mapping[str, Any]


@dataclass(slots=True)
class Tally:
    """What became of a batch: sent, confirmed, returned."""

    sent: int = 0
    confirmed: int = 0
    returned: list[ReturnedMessage] = field(default_factory=list)


@contextlib.contextmanager
def _first_sigint_stops() -> Iterator[Callable[[], bool]]:
    # The first Ctrl-C only raises a flag the sending loop checks, so the
    # messages already written are accounted for; a second one interrupts
    # at once.  Signal handlers exist in the main thread only.
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    hits: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        del frame
        if hits:
            raise KeyboardInterrupt
        hits.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(hits)
    finally:
        signal.signal(signal.SIGINT, previous)


def send_batch(
    batch: Batch, connection: Connection, channel: Channel, console: Console
) -> Tally:
    """Send ``batch`` and return its tally.

    Raises:
        KombuError: the broker refused (its reason, with a note saying how
            many messages were sent and confirmed first), or the
            connection failed.
        CommandError: messages were returned unroutable (exit status 1),
            or Ctrl-C stopped the batch (exit status 130).
    """
    tally = Tally()
    total = len(batch.payloads)
    # A no-op on_return keeps returns out of the confirm outcomes; the
    # channel's return handler, set just after, records them.
    producer = Producer(
        channel, compression=batch.compression, on_return=lambda *returned: None
    )
    channel.set_return_handler(tally.returned.append)
    progress = Progress(console.stderr, total, "publishing")
    with _first_sigint_stops() as interrupted:
        try:
            if batch.confirm:
                _send_confirmed(batch, producer, tally, progress, interrupted)
            else:
                _send_unconfirmed(batch, producer, tally, progress, interrupted)
            _round_trip(connection, channel)
        except KombuError as exc:
            exc.add_note(_counts(tally, total, batch.confirm))
            raise
        finally:
            progress.close()
        stopped = interrupted()
    if stopped:
        raise CommandError(
            _counts(tally, total, batch.confirm),
            status=ExitStatus.INTERRUPTED,
            details=_details(tally, total, batch.confirm),
        )
    if tally.returned:
        first = tally.returned[0]
        raise CommandError(
            f"{len(tally.returned)} of {tally.sent} messages not routed: "
            f"{first.reply_code} {first.reply_text} (exchange {first.exchange!r}, "
            f"routing key {first.routing_key!r}; no queue is bound to take them)",
            details={
                "not_routed": len(tally.returned),
                "reply_code": first.reply_code,
                "reply_text": first.reply_text,
                **_details(tally, total, batch.confirm),
            },
        )
    return tally


def _counts(tally: Tally, total: int, confirm: bool) -> str:
    confirmed = (
        f"{tally.confirmed} confirmed by the broker"
        if confirm
        else "none confirmed (no --confirm)"
    )
    return f"{tally.sent} of {total} messages sent, {confirmed}"


def _details(tally: Tally, total: int, confirm: bool) -> dict[str, object]:
    return {
        "total": total,
        "sent": tally.sent,
        "confirmed": tally.confirmed if confirm else None,
    }


def _send_unconfirmed(
    batch: Batch,
    producer: Producer,
    tally: Tally,
    progress: Progress,
    interrupted: Callable[[], bool],
) -> None:
    for payload in batch.payloads:
        if interrupted():
            return
        producer.publish(
            payload,
            exchange=batch.exchange,
            routing_key=batch.routing_key,
            mandatory=batch.mandatory,
            **batch.options,
        )
        tally.sent += 1
        progress.update(tally.sent)


def _send_confirmed(
    batch: Batch,
    producer: Producer,
    tally: Tally,
    progress: Progress,
    interrupted: Callable[[], bool],
) -> None:
    taken = 0

    def bodies() -> Iterator[bytes]:
        nonlocal taken
        for payload in batch.payloads:
            if interrupted():
                return
            yield payload
            taken += 1
            progress.update(taken)

    outcomes = producer.publish_many(
        bodies(),
        exchange=batch.exchange,
        routing_key=batch.routing_key,
        mandatory=batch.mandatory,
        **batch.options,
    )
    tally.sent = sum(1 for outcome in outcomes if outcome.delivery_tag)
    tally.confirmed = sum(1 for outcome in outcomes if outcome.ok)
    failed = [outcome.error for outcome in outcomes if outcome.error is not None]
    if failed:
        first = failed[0]
        if len(failed) > 1:
            first.add_note(f"{len(failed)} messages failed")
        raise first


def _round_trip(connection: Connection, channel: Channel) -> None:
    # basic.qos is harmless on a publishing channel, and synchronous: the
    # broker's answer comes after its answers to everything sent before.
    channel.basic_qos(prefetch_count=0)
    # Hand out the basic.return frames that arrived meanwhile.
    while True:
        try:
            connection.drain_events(timeout=0)
        except TimeoutError:
            return
