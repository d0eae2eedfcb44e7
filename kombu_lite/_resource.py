"""Resource: the bounded, thread-safe pool behind every pool in kombu_lite.

Items are lent out last-in first-out (the most recently used connection is
the one most likely to be alive), at most ``limit`` at a time.  The lock
is never held while an item is created or prepared, which may do I/O or
wait for another pool: a thread that is connecting never stops another
thread from giving an item back.

An item given back after an error, or found unusable (a closed channel, a
dropped connection), is closed and forgotten, never lent again; a new one
is made when needed.
"""

from __future__ import annotations

import threading
import time
from typing import ClassVar, Generic, TypeVar

from kombu_lite.exceptions import ConfigurationError, LimitExceeded

__all__ = ["Resource", "check_limit"]

T = TypeVar("T")
# Inside Resource, ``LimitExceeded`` names the class attribute.
_LimitError = LimitExceeded


def check_limit(limit: object) -> int | None:
    """Return a valid pool limit: ``None`` (no limit) or an int >= 1.

    Raises:
        ConfigurationError: anything else (kombu's ``0`` meant "no limit":
            write ``None``).
    """
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigurationError(
            f"a pool limit must be None (no limit) or an int >= 1, not {limit!r}"
        )
    return limit


class Resource(Generic[T]):
    """A pool that lends at most ``limit`` items at a time (``None``: no limit).

    Subclasses say how to make (:meth:`new`), check (:meth:`is_usable`)
    and close (:meth:`close_resource`) an item.
    """

    #: Raised by :meth:`acquire` when every item is in use.
    LimitExceeded: ClassVar[type[LimitExceeded]] = LimitExceeded
    #: What an item is called in error messages.
    noun: ClassVar[str] = "item"

    def __init__(self, limit: int | None = None) -> None:
        self._limit = check_limit(limit)
        self._cond = threading.Condition(threading.Lock())
        self._idle: list[T] = []
        # id(item) -> item: items need not be hashable.
        self._in_use: dict[int, T] = {}
        # Places reserved by threads creating an item outside the lock.
        self._creating = 0
        # Items in use when the pool was closed: closed when given back.
        self._retired: set[int] = set()

    # -- what subclasses provide ---------------------------------------------------

    def new(self) -> T:
        """Make a new item."""
        raise NotImplementedError

    def is_usable(self, item: T) -> bool:
        """Whether an idle or returned item may be lent again."""
        del item
        return True

    def prepare(self, item: T, block: bool, deadline: float | None) -> None:
        """Make a lent item ready for use (called outside the lock)."""
        del item, block, deadline

    def close_resource(self, item: T) -> None:
        """Close an item that leaves the pool; must not raise."""
        del item

    # -- limit ---------------------------------------------------------------------

    @property
    def limit(self) -> int | None:
        """The most items lent at once (``None``: no limit)."""
        return self._limit

    @limit.setter
    def limit(self, limit: int | None) -> None:
        self.resize(limit)

    def resize(self, limit: int | None) -> None:
        """Change the limit.

        Shrinking closes idle items beyond the new limit now; items in use
        are never taken away: the extra ones are closed when given back.
        """
        new_limit = check_limit(limit)
        surplus: list[T] = []
        with self._cond:
            self._limit = new_limit
            if new_limit is not None:
                excess = self._count() - new_limit
                while excess > 0 and self._idle:
                    surplus.append(self._idle.pop(0))  # the oldest first
                    excess -= 1
            self._cond.notify_all()
        for item in surplus:
            self.close_resource(item)

    def _count(self) -> int:
        return len(self._idle) + len(self._in_use) + self._creating

    @property
    def in_use(self) -> int:
        """How many items are lent out now."""
        return len(self._in_use)

    @property
    def idle(self) -> int:
        """How many items wait in the pool, ready to be lent."""
        return len(self._idle)

    # -- lending -------------------------------------------------------------------

    def acquire(self, block: bool = False, timeout: float | None = None) -> T:
        """Lend an item that no one else holds.

        With ``block=False`` (kombu's default) an exhausted pool raises at
        once; with ``block=True`` it waits up to ``timeout`` seconds
        (``None``: as long as it takes) for an item to be given back.

        Raises:
            LimitExceeded: every item is in use (the pool's own subclass of
                :class:`~kombu_lite.exceptions.LimitExceeded`).
            ConfigurationError: a bad ``timeout``.
        """
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or timeout < 0
        ):
            raise ConfigurationError(
                f"timeout must be None or a number of seconds >= 0, not {timeout!r}"
            )
        deadline = None if timeout is None else time.monotonic() + timeout
        stale: list[T] = []
        with self._cond:
            item = self._take_locked(block, timeout, deadline, stale)
        for old in stale:
            self.close_resource(old)
        if item is None:
            item = self._create()
        try:
            self.prepare(item, block, deadline)
        except BaseException:
            self.release(item)
            raise
        return item

    def _take_locked(
        self, block: bool, timeout: float | None, deadline: float | None, stale: list[T]
    ) -> T | None:
        # Returns an idle item now marked in use, or None after reserving a
        # place for a new one.
        while True:
            while self._idle:
                item = self._idle.pop()
                if self.is_usable(item):
                    self._in_use[id(item)] = item
                    return item
                stale.append(item)
            if self._limit is None or self._count() < self._limit:
                self._creating += 1
                return None
            if not block:
                raise self._exhausted(None)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise self._exhausted(timeout)
            self._cond.wait(remaining)

    def _create(self) -> T:
        try:
            item = self.new()
        except BaseException:
            with self._cond:
                self._creating -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._creating -= 1
            self._in_use[id(item)] = item
        return item

    def _exhausted(self, timeout: float | None) -> _LimitError:
        waited = (
            "" if timeout is None else f" and none was given back within {timeout} s"
        )
        return self.LimitExceeded(
            f"the {self.noun} pool is exhausted: all {self._limit} {self.noun}s "
            f"are in use{waited}; release one (use 'with pool.acquire() as ...'), "
            f"wait longer (block=True, timeout=...) or raise the limit"
        )

    def release(self, item: T, failed: bool = False) -> None:
        """Take an item back.

        It is closed instead of kept when ``failed`` (it was in use when an
        error happened), when it is no longer usable, when the pool was
        closed meanwhile, or when the pool is over its limit.  Giving back
        an item twice, or one that is not lent, does nothing.
        """
        key = id(item)
        with self._cond:
            if self._in_use.pop(key, None) is None:
                return
            retired = key in self._retired
            self._retired.discard(key)
            keep = (
                not failed
                and not retired
                and (self._limit is None or self._count() < self._limit)
                and self.is_usable(item)
            )
            if keep:
                self._idle.append(item)
            self._cond.notify()
        if not keep:
            self.close_resource(item)

    def close(self) -> None:
        """Close the idle items; items in use are closed when given back.

        The pool itself stays usable: a later :meth:`acquire` makes new
        items.
        """
        with self._cond:
            idle, self._idle = self._idle, []
            self._retired.update(self._in_use)
        for item in idle:
            self.close_resource(item)

    def __repr__(self) -> str:
        limit = "no limit" if self._limit is None else f"limit {self._limit}"
        return (
            f"<{type(self).__name__}: {limit}, {len(self._in_use)} in use, "
            f"{len(self._idle)} idle>"
        )
