"""Resource alarms of the memory broker: RabbitMQ's ``connection.blocked``.

When RabbitMQ runs low on memory or disk it raises an alarm, and every
connection that publishes from then on is blocked: the broker tells it with
``connection.blocked`` and reads nothing more from it until the alarm
clears.  :meth:`Broker.set_alarm <kombu_lite.transport.memory.Broker.set_alarm>`
does the same in process, so tests can check how code copes with a blocked
broker without filling a real one:

* a publish that meets an alarm calls the connection's ``on_blocked`` with
  RabbitMQ's reason ("low on memory"), then waits for the alarm to clear,
  up to ``blocked_connection_timeout`` seconds;
* still blocked then, it raises
  :class:`~kombu_lite.exceptions.ConnectionBlocked` and the message is not
  sent (in memory nothing is half-written, so the outcome is known);
* clearing the last alarm wakes the waiting publishes and calls
  ``on_unblocked`` on each connection that was told it was blocked.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from kombu_lite.exceptions import ConnectionBlocked

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Alarms", "BlockedNotice"]

#: The resources RabbitMQ raises alarms for, and the reason it gives.
REASONS = {"memory": "low on memory", "disk": "low on disk"}


class BlockedNotice:
    """What one connection does when an alarm blocks it (from its parameters)."""

    __slots__ = ("on_blocked", "on_unblocked", "timeout")

    def __init__(
        self,
        on_blocked: Callable[[str], object] | None,
        on_unblocked: Callable[[], object] | None,
        timeout: float | None,
    ) -> None:
        self.on_blocked = on_blocked
        self.on_unblocked = on_unblocked
        self.timeout = timeout


class Alarms:
    """The broker's raised alarms, guarded by the broker lock."""

    def __init__(self, lock: threading.Lock) -> None:
        #: Raised alarms; publishing code only tests this set for emptiness.
        self.active: set[str] = set()
        self._cond = threading.Condition(lock)
        #: Connections told they are blocked, to be told when it ends.
        self._told: dict[object, BlockedNotice] = {}

    def reason(self) -> str:
        """RabbitMQ's wording for the raised alarms (caller holds the lock)."""
        return " and ".join(REASONS[r] for r in sorted(self.active))

    def raise_alarm(self, resource: str) -> None:
        """Raise ``resource``'s alarm (caller holds the lock)."""
        if resource not in REASONS:
            raise ValueError(
                f"unknown resource {resource!r}: RabbitMQ raises alarms for "
                f"{' and '.join(sorted(REASONS))}"
            )
        self.active.add(resource)

    def clear(self, resource: str | None) -> list[BlockedNotice]:
        """Clear one alarm, or all (caller holds the lock).

        Returns the notices of the connections to tell they are unblocked
        (empty while another alarm is still raised).
        """
        if resource is None:
            self.active.clear()
        else:
            self.active.discard(resource)
        if self.active:
            return []
        self._cond.notify_all()
        told, self._told = list(self._told.values()), {}
        return told

    def hold(self, connection: object, notice: BlockedNotice) -> None:
        """Block a publish while an alarm is raised (caller does NOT hold the lock).

        Raises:
            ConnectionBlocked: still blocked after ``notice.timeout`` seconds;
                the message was not sent.
        """
        with self._cond:
            if not self.active:
                return
            reason = self.reason()
            first = connection not in self._told
            self._told[connection] = notice
        if first and notice.on_blocked is not None:
            notice.on_blocked(reason)
        limit = notice.timeout
        deadline = None if limit is None else time.monotonic() + limit
        with self._cond:
            while self.active:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise ConnectionBlocked(
                        f"the memory broker blocks publishing ({self.reason()}) and "
                        f"did not unblock within {limit}s: the message was not sent",
                        reply_text=self.reason(),
                    )
                self._cond.wait(remaining)
