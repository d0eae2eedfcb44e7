"""Timed work of the memory broker: message TTLs and ``x-expires``, on time.

RabbitMQ expires the message at the head of a queue when its TTL is up,
consumer or not, and deletes a queue unused for its ``x-expires``.  The
memory broker does the same with :class:`Timers`: one daemon thread per
broker that sleeps until the earliest deadline and runs its action with the
broker lock held.  The thread exists only while something is scheduled (it
ends when nothing is left), and :meth:`Timers.shutdown` ends it at once:
``Broker.reset()`` and ``Broker.stop()`` call it, so no timer thread
outlives a reset.

With an injected clock (``Broker(clock=...)``) no thread is started: a
fake clock does not advance with real time.  Deadlines are then checked
lazily, by :meth:`Timers.run_due`, at every synchronous channel method and
every inspection of the broker; queues also expire their head messages
whenever they are read.

:class:`QueueExpiry` applies ``x-expires``: a queue without consumers that
was not declared again nor read with ``basic.get`` for that long is deleted
(its messages are dropped, not dead-lettered, as on RabbitMQ).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from kombu_lite.transport.memory.queue import MemoryQueue

__all__ = ["QueueExpiry", "Timers"]


class Timers:
    """Deadlines of one broker, run on time by a daemon thread.

    Args:
        lock: the broker lock (held while actions run).
        clock: monotonic seconds.
        threaded: whether to run a thread (False for an injected clock).
    """

    def __init__(
        self, lock: threading.Lock, clock: Callable[[], float], *, threaded: bool
    ) -> None:
        self._lock = lock
        self._clock = clock
        self._threaded = threaded
        self._wakeup = threading.Condition(lock)
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def call_at(self, when: float, action: Callable[[], None]) -> None:
        """Run ``action`` at monotonic time ``when`` (broker lock held)."""
        heap = self._heap
        earliest = heap[0][0] if heap else None
        heapq.heappush(heap, (when, next(self._order), action))
        if not self._threaded:
            return
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run,
                args=(heap,),
                name="kombu_lite-memory-timers",
                daemon=True,
            )
            self._thread.start()
        elif earliest is None or when < earliest:
            self._wakeup.notify()

    def run_due(self) -> None:
        """Run every action whose time has come (broker lock held)."""
        heap = self._heap
        if not heap:
            return
        now = self._clock()
        while heap and heap[0][0] <= now:
            heapq.heappop(heap)[2]()

    def shutdown(self) -> threading.Thread | None:
        """Drop every deadline and stop the thread (broker lock held).

        Returns the thread, for the caller to join once it released the
        lock; scheduling again later starts a new thread.
        """
        thread = self._thread
        self._thread = None
        self._heap = []
        self._wakeup.notify_all()
        return thread

    def _run(self, heap: list[tuple[float, int, Callable[[], None]]]) -> None:
        # ``heap`` identifies this thread's generation: shutdown() replaces it.
        with self._lock:
            while heap is self._heap and heap:
                delay = heap[0][0] - self._clock()
                if delay > 0:
                    self._wakeup.wait(delay)
                    continue
                heapq.heappop(heap)[2]()
            if heap is self._heap:
                self._thread = None


class QueueExpiry:
    """``x-expires``: deletes queues left unused for their time.

    Args:
        timers: the broker's timers.
        clock: monotonic seconds.
        delete: deletes a queue (the virtual host's ``delete_queue``).
    """

    def __init__(
        self,
        timers: Timers,
        clock: Callable[[], float],
        delete: Callable[[MemoryQueue], None],
    ) -> None:
        self._timers = timers
        self._clock = clock
        self._delete = delete

    def touch(self, queue: MemoryQueue) -> None:
        """``queue`` was used now: its ``x-expires`` time starts again."""
        expires = queue.limits.expires
        if expires is None:
            return
        when = self._clock() + expires / 1000.0
        queue.expires_at = when
        self._timers.call_at(when, lambda: self._check(queue))

    def _check(self, queue: MemoryQueue) -> None:
        # A consumer keeps the queue; a later touch() scheduled its own check.
        if queue.deleted or queue.consumers:
            return
        if queue.expires_at is not None and queue.expires_at <= self._clock():
            self._delete(queue)
