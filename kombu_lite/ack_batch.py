"""Batched acknowledgements: ``Consumer(..., ack_batch=N)``.

With batching on, :meth:`Message.ack <kombu_lite.Message.ack>` only records
the delivery tag; :class:`AckBatch` later sends one
``basic.ack(delivery_tag=T, multiple=True)`` for a run of acked tags, which
costs the broker about what one single ack costs.  A broker acks *every*
unacknowledged delivery of the channel up to ``T`` when it receives such an
ack, so the run must hold nothing else: every tag from the lowest one not
known to be settled up to ``T`` must have been acked by the application (or
settled otherwise, by a reject or a direct ack).  Delivery tags count 1, 2,
3... per channel, over every consumer and ``basic.get`` of the channel, so a
tag the batch has not seen (another consumer's, a delivery made before the
batching consumer started) is a gap the run stops at; the acks above a gap
go out as single acks.

When the recorded acks go out (a *flush*):

* ``N`` acks are pending (the ``ack()`` that makes them ``N`` sends);
* the thread draining events is about to wait for the socket (the end of a
  batch of deliveries), and when ``drain_events(timeout=...)`` waits;
* before a reject or requeue, a direct ``ack(multiple=True)``, a
  ``basic_qos`` or ``basic_recover`` on the channel, a consumer's cancel and
  the channel's close;
* at the latest :data:`FLUSH_AFTER` seconds (or the channel's ``delay``)
  after the oldest pending ack was recorded, by a background thread (one
  per batching channel, started with the first recorded ack): nothing
  waits for the application to act;
* on :meth:`AckBatch.flush` (``Consumer.flush_acks()``).

The guarantee differs from an unbatched ack, on purpose: ``ack()`` returns
before the frame is written.  If the connection is lost with acks pending,
the broker requeues those messages (as every unacknowledged one) and they
are delivered again; nothing is lost, a message may be processed twice.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Final, Protocol

from kombu_lite._log import get_logger
from kombu_lite.exceptions import ChannelError, ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["FLUSH_AFTER", "AckBatch", "AckWire", "check_ack_batch"]

_log = get_logger(__name__)

#: The longest a recorded ack waits (seconds) before the background thread
#: sends it.
FLUSH_AFTER: Final = 0.1
#: How often the background thread, with nothing pending, looks whether
#: its channel is still open (it ends when not).
_IDLE_CHECK: Final = 5.0


def check_ack_batch(value: object) -> int | None:
    """``ack_batch`` as given, if a positive int or None.

    Raises:
        ConfigurationError: anything else.
    """
    if value is None or (
        isinstance(value, int) and not isinstance(value, bool) and value > 0
    ):
        return value
    raise ConfigurationError(
        f"ack_batch must be a positive int (the number of acks sent as one) "
        f"or None (every ack sent at once), not {value!r}"
    )


class AckWire(Protocol):
    """What the batch sends through: the channel's own ack and reject."""

    @property
    def is_open(self) -> bool:
        """False once the channel closed."""

    def basic_ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        """Send ``basic.ack``."""

    def basic_reject(self, delivery_tag: int, *, requeue: bool) -> None:
        """Send ``basic.reject``."""


class AckBatch:
    """The acks of one channel, sent in runs (see the module's docstring).

    Args:
        wire: The channel's wire (what sends each frame).
        limit: How many pending acks make a flush.
        delay: The longest a recorded ack waits (seconds).
        idle_hooks: Registers ``hook`` to run when the connection's
            drain is about to wait, and returns its unregistering.
    """

    def __init__(
        self,
        wire: AckWire,
        limit: int,
        idle_hooks: Callable[[Callable[[], None]], Callable[[], None]] | None,
        delay: float = FLUSH_AFTER,
    ) -> None:
        self._wire = wire
        #: Flush once this many acks are pending.
        self.limit = limit
        self._delay = delay
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        #: Every tag up to this one is settled on the broker.
        self._floor = 0
        #: Tags handed to a batching consumer, not settled yet (changed in
        #: place only: :attr:`track` adds to it without the lock).
        self._tracked: set[int] = set()
        #: ``track(delivery_tag)``: know the tag as a delivery whose
        #: ``ack()`` is batched (called for each delivery: one C call).
        self.track: Callable[[int], None] = self._tracked.add
        #: Tags the application acked, not sent yet.
        self._pending: set[int] = set()
        #: Tags above the floor settled by a frame already sent.
        self._settled: set[int] = set()
        #: When the oldest pending ack was recorded (time.monotonic), or None.
        self._since: float | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._unhook = None if idle_hooks is None else idle_hooks(self._on_idle)

    @property
    def pending(self) -> int:
        """How many acks are recorded and not sent yet."""
        return len(self._pending)

    def ack(self, delivery_tag: int, multiple: bool) -> None:
        """Record (or send) an ack; raises what sending raises."""
        with self._lock:
            if multiple:
                self._wire.basic_ack(delivery_tag, multiple=True)
                self._settle_up_to(delivery_tag)
                return
            if delivery_tag not in self._tracked:
                self._wire.basic_ack(delivery_tag, multiple=False)
                self._settled_one(delivery_tag)
                return
            self._tracked.remove(delivery_tag)
            self._pending.add(delivery_tag)
            if len(self._pending) >= self.limit:
                self._flush()
            elif self._since is None:
                self._since = time.monotonic()
                self._start_timer()

    def reject(self, delivery_tag: int, requeue: bool) -> None:
        """Send the pending acks, then the reject; raises what sending raises."""
        with self._lock:
            self._flush()
            self._wire.basic_reject(delivery_tag, requeue=requeue)
            self._tracked.discard(delivery_tag)
            self._settled_one(delivery_tag)

    def flush(self) -> None:
        """Send every pending ack now.

        When this returns, each was handed to the socket.

        Raises:
            ChannelClosed, ConnectionLost: as an unbatched ack (the pending
                acks are dropped: the broker requeues those messages).
        """
        with self._lock:
            self._flush()

    def _on_idle(self) -> None:
        # Read without the lock: a miss is the timer's to send.
        if self._pending:
            try:
                self.flush()
            except ChannelError as exc:
                # This channel is gone (the broker requeued its messages);
                # the drain serves the connection's other channels.
                _log.debug("pending acks dropped: %r", exc)

    def recovered(self) -> None:
        """After ``basic.recover``: every delivery so far is settled (requeued)."""
        with self._lock:
            # The highest tag known: delivered ones are tracked or settled.
            known = (self._tracked, self._pending, self._settled)
            self._settle_up_to(max((max(s, default=0) for s in known), default=0))

    def close(self) -> None:
        """Send what is pending (errors dropped) and stop the timer thread."""
        with self._lock:
            try:
                self._flush()
            except Exception as exc:  # noqa: BLE001 - the broker requeues them
                _log.debug("pending acks dropped at close: %r", exc)
            self._closed = True
            self._wake.notify_all()
        self._remove_hook()

    def _remove_hook(self) -> None:
        with self._lock:
            unhook, self._unhook = self._unhook, None
        if unhook is not None:
            unhook()

    # -- under the lock -----------------------------------------------------------

    def _flush(self) -> None:
        pending = self._pending
        self._since = None
        if not pending:
            return
        self._pending = set()
        try:
            self._send(pending)
        except BaseException:
            # The connection or channel is gone: the broker requeues what
            # was not acked; nothing here is of use any more.
            self._tracked.clear()
            raise

    def _send(self, pending: set[int]) -> None:
        floor = self._floor
        settled = self._settled
        lowest = min(pending)
        top = max(pending)
        if lowest == floor + 1 and top - floor == len(pending):
            # The common case: one contiguous run from the floor.
            end = top
        else:
            end = floor
            while end + 1 in pending or end + 1 in settled:
                end += 1
        run_top = max((tag for tag in pending if tag <= end), default=0)
        if run_top:
            self._wire.basic_ack(run_top, multiple=True)
        self._floor = end
        if end < top:
            for tag in sorted(pending):
                if tag > end:
                    # Above a gap: an unacked tag lies below, so each goes
                    # alone.
                    self._wire.basic_ack(tag, multiple=False)
                    settled.add(tag)
        self._advance()

    def _settle_up_to(self, delivery_tag: int) -> None:
        if delivery_tag > self._floor:
            self._floor = delivery_tag
        tracked = self._tracked
        # A copy: the draining thread may add to the set meanwhile.
        tracked.difference_update(
            [tag for tag in tracked.copy() if tag <= delivery_tag]
        )
        self._pending = {tag for tag in self._pending if tag > delivery_tag}
        self._advance()

    def _settled_one(self, delivery_tag: int) -> None:
        if delivery_tag > self._floor:
            self._settled.add(delivery_tag)
            self._advance()

    def _advance(self) -> None:
        settled = self._settled
        if not settled:
            return
        floor = self._floor
        while floor + 1 in settled:
            floor += 1
        self._floor = floor
        self._settled = {tag for tag in settled if tag > floor}

    # -- the deadline -----------------------------------------------------------------

    def _start_timer(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(
                target=self._run_timer, name="kombu_lite-ack-batch", daemon=True
            )
            self._thread.start()
        # A thread waiting with nothing pending sleeps until told.
        self._wake.notify()

    def _run_timer(self) -> None:
        with self._lock:
            while not self._closed:
                since = self._since
                if since is None:
                    # Looks now and then whether the channel is gone (the
                    # broker closed it: nobody calls close()).
                    if not self._wake.wait(_IDLE_CHECK) and not self._wire.is_open:
                        break
                    continue
                remaining = since + self._delay - time.monotonic()
                if remaining > 0:
                    self._wake.wait(remaining)
                    continue
                try:
                    self._flush()
                except Exception as exc:  # noqa: BLE001 - no caller to raise to
                    _log.warning(
                        "batched acks could not be sent (%r): the broker "
                        "delivers those messages again",
                        exc,
                    )
        self._remove_hook()
