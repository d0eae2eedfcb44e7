"""What a connection runs when its drain is about to wait for the broker.

``drain_events`` runs the hooks each time it has nothing queued to hand
out and is about to wait for the socket (or, on ``memory://``, for the
broker): the end of a batch of deliveries.  Batched acks
(:mod:`kombu_lite.ack_batch`) are sent from here, so that acks recorded by
the callbacks of one batch leave before the drain waits.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["IdleHooks"]


class IdleHooks:
    """The hooks of one connection (added and removed from any thread)."""

    __slots__ = ("_hooks", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Replaced, never changed in place: :meth:`run` reads it unlocked.
        self._hooks: tuple[Callable[[], None], ...] = ()

    def __bool__(self) -> bool:
        return bool(self._hooks)

    def add(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Run ``hook`` from now on; returns what removes it again."""
        with self._lock:
            self._hooks = (*self._hooks, hook)

        def remove() -> None:
            with self._lock:
                self._hooks = tuple(h for h in self._hooks if h is not hook)

        return remove

    def run(self) -> None:
        """Run every hook, in this thread; a hook's error is raised."""
        for hook in self._hooks:
            hook()
