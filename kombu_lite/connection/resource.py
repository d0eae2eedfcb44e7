"""Resource: the bounded, thread-safe pool behind every pool in kombu_lite.

Items are lent out last-in first-out (the most recently used connection is
the one most likely to be alive), at most ``limit`` at a time.  The lock
is never held while an item is created or prepared, which may do I/O or
wait for another pool: a thread that is connecting never stops another
thread from giving an item back.

An item given back after an error, or found unusable (a closed channel, a
dropped connection), is closed and forgotten, never lent again; a new one
is made when needed.

A pool made with ``close_after_fork`` forgets all its items in a child
process made by :func:`os.fork`: they share the parent's sockets, so the
child must open its own (the parent keeps using them; nothing is closed).
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any, ClassVar, Final, Generic, TypeVar

from kombu_lite.exceptions import ConfigurationError, LimitExceeded

__all__ = ["Resource", "check_limit"]

T = TypeVar("T")
# Inside Resource, ``LimitExceeded`` names the class attribute.
_LimitError = LimitExceeded

#: The pools to empty in a forked child.  Weak, so a pool nobody holds goes
#: away; it needs no reset: a test's pools leave it when they are dropped.
_FORGET_IN_CHILD: Final[weakref.WeakSet[Resource[Any]]] = weakref.WeakSet()


def check_limit(limit: object) -> int | None:
    """Return a valid pool limit: ``None`` (no limit) or an int >= 1.

    ``0`` means no limit too, as in kombu, and is returned as ``None``.

    Raises:
        TypeError: ``limit`` is a bool (kombu's check: ``True`` would
            otherwise be a limit of 1).
        ConfigurationError: anything else that is not None or an int >= 0.
    """
    if isinstance(limit, bool):
        raise TypeError(f"a pool limit must be an int or None, not bool ({limit!r})")
    if limit is None or limit == 0:
        return None
    if not isinstance(limit, int) or limit < 0:
        raise ConfigurationError(
            f"a pool limit must be None or 0 (no limit) or an int >= 1, not {limit!r}"
        )
    return limit


def _check_preload(preload: object, limit: int | None) -> int:
    if preload is None:
        return 0
    if isinstance(preload, bool) or not isinstance(preload, int) or preload < 0:
        raise ConfigurationError(
            f"preload must be None or an int >= 0, not {preload!r}"
        )
    if limit is not None and preload > limit:
        raise ConfigurationError(
            f"preload={preload} is more than the pool's limit of {limit}"
        )
    return preload


class Resource(Generic[T]):
    """A pool that lends at most ``limit`` items at a time (``None``: no limit).

    Subclasses say how to make (:meth:`new`), check (:meth:`is_usable`)
    and close (:meth:`close_resource`) an item.

    Args:
        limit: The most items lent at once (``None``: no limit).
        preload: How many items to make up front; a subclass that takes it
            calls :meth:`_preload` once it is set up.
        close_after_fork: Forget every item in a forked child (``None``:
            the class default, :attr:`close_after_fork`).

    Raises:
        ConfigurationError: a bad argument.
    """

    #: Raised by :meth:`acquire` when every item is in use.
    LimitExceeded: ClassVar[type[LimitExceeded]] = LimitExceeded
    #: What an item is called in error messages.
    noun: ClassVar[str] = "item"
    #: Whether a forked child forgets the items (the default for the class).
    close_after_fork: bool = False

    def __init__(
        self,
        limit: int | None = None,
        preload: int | None = None,
        close_after_fork: bool | None = None,
    ) -> None:
        self._limit = check_limit(limit)
        #: How many items were made up front.
        self.preload = _check_preload(preload, self._limit)
        if close_after_fork is not None and not isinstance(close_after_fork, bool):
            raise ConfigurationError(
                f"close_after_fork must be True, False or None, "
                f"not {close_after_fork!r}"
            )
        if close_after_fork is not None:
            self.close_after_fork = close_after_fork
        self._reset_state()
        if self.close_after_fork:
            _FORGET_IN_CHILD.add(self)

    def _reset_state(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._idle: list[T] = []
        # id(item) -> item: items need not be hashable.
        self._in_use: dict[int, T] = {}
        # Places reserved by threads creating an item outside the lock.
        self._creating = 0
        # Items in use when the pool was closed: closed when given back.
        self._retired: set[int] = set()
        # Set by force_close_all(close_pool=True): acquire() refuses.
        self._closed = False

    def _preload(self) -> None:
        """Make :attr:`preload` items now and keep them idle.

        If making one fails, those already made are closed and the error
        is raised.
        """
        made: list[T] = []
        try:
            for _ in range(self.preload):
                # Not a comprehension: what was made before a failure is closed.
                made.append(self.new())  # noqa: PERF401
        except BaseException:
            for item in made:
                self.close_resource(item)
            raise
        with self._cond:
            self._idle.extend(made)

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

    def resize(
        self,
        limit: int | None,
        force: bool = False,
        ignore_errors: bool = False,
        reset: bool = False,
    ) -> None:
        """Change the limit (kombu's signature).

        Shrinking closes idle items beyond the new limit now.  Items in use
        are never taken away: a limit below the number in use raises,
        unless ``force`` (or kombu's ``ignore_errors``), and then the
        extra ones are closed when given back.  With ``reset`` every item
        is closed as by :meth:`close` (idle ones now, those in use when
        given back).

        Raises:
            RuntimeError: ``limit`` is below the number of items in use and
                neither ``force`` nor ``ignore_errors`` is set; nothing
                changed.
            TypeError: ``limit`` is a bool.
            ConfigurationError: any other bad limit.
        """
        new_limit = check_limit(limit)
        surplus: list[T] = []
        with self._cond:
            in_use = len(self._in_use)
            if (
                new_limit is not None
                and new_limit < in_use
                and not (force or ignore_errors)
            ):
                raise RuntimeError(
                    f"cannot shrink the {self.noun} pool to {new_limit} while "
                    f"{in_use} {self.noun}s are in use: give some back first, "
                    f"or pass force=True to close the extra ones as they come "
                    f"back"
                )
            self._limit = new_limit
            if new_limit is not None:
                excess = self._count() - new_limit
                while excess > 0 and self._idle:
                    surplus.append(self._idle.pop(0))  # the oldest first
                    excess -= 1
            self._cond.notify_all()
        for item in surplus:
            self.close_resource(item)
        if reset:
            self.close()

    def _would_refuse(self, limit: int | None) -> bool:
        """Whether :meth:`resize` to ``limit`` without ``force`` would raise."""
        return limit is not None and limit < len(self._in_use)

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
            RuntimeError: the pool was closed by :meth:`force_close_all`.
        """
        if self._closed:
            raise RuntimeError(f"acquire on a closed {self.noun} pool")
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

    def force_close_all(self, close_pool: bool = True) -> None:
        """kombu's name: :meth:`close`, and with ``close_pool`` refuse to lend.

        Idle items are closed now; items in use are closed when given back
        (kombu closes those under their users too).  With ``close_pool``
        (kombu's default) a later :meth:`acquire` raises ``RuntimeError``.
        """
        self._closed = close_pool
        self.close()

    def __repr__(self) -> str:
        limit = "no limit" if self._limit is None else f"limit {self._limit}"
        return (
            f"<{type(self).__name__}: {limit}, {len(self._in_use)} in use, "
            f"{len(self._idle)} idle>"
        )


def _forget_after_fork() -> None:  # pragma: no cover - runs in a forked child
    # The lock may have been held by a parent thread that does not exist
    # here, and the items use the parent's sockets: start again empty.
    for pool in list(_FORGET_IN_CHILD):
        pool._reset_state()


if hasattr(os, "register_at_fork"):  # pragma: no branch - absent on Windows only
    os.register_at_fork(after_in_child=_forget_after_fork)
