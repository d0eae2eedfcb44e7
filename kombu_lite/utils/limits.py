"""kombu's ``kombu.utils.limits``: a token bucket for rate limiting.

Kept at kombu's import path so code that does
``from kombu.utils.limits import TokenBucket`` ports by changing the import.
:class:`~kombu_lite.mixins.ConsumerMixin` uses one to restart at most once
a second.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from kombu_lite.exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """A token bucket: ``fill_rate`` tokens a second, at most ``capacity`` held.

    The bucket starts full.  :meth:`can_consume` takes tokens when there
    are enough and says whether it did; :meth:`expected_time` says how long
    until there will be.  As in kombu, the bucket also carries a FIFO of
    pending items (:meth:`add`, :meth:`pop`, :meth:`clear_pending`) for
    callers that queue work until a token is free.

    Time is :func:`time.monotonic` (``clock`` may replace it in tests).
    Not thread-safe, as kombu's is not: share one between threads under
    a lock.

    Raises:
        ConfigurationError: ``fill_rate`` or ``capacity`` is not a number > 0
            (kombu accepts them and divides by zero later).
    """

    def __init__(
        self,
        fill_rate: float,
        capacity: float = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("fill_rate", fill_rate), ("capacity", capacity)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"{name} must be a number, not {value!r}")
            if not value > 0:
                raise ConfigurationError(f"{name} must be > 0, not {value!r}")
        #: Tokens added per second.
        self.fill_rate = float(fill_rate)
        #: The most tokens the bucket holds.
        self.capacity = float(capacity)
        self._clock = clock
        self._tokens = self.capacity
        #: When the tokens were last counted (on ``clock``).
        self.timestamp: float = clock()
        #: The pending items, oldest first.
        self.contents: deque[Any] = deque()

    def add(self, item: Any) -> None:
        """Queue ``item`` at the end of the pending items."""
        self.contents.append(item)

    def pop(self) -> Any:
        """Take the oldest pending item.

        Raises:
            IndexError: nothing is pending.
        """
        return self.contents.popleft()

    def clear_pending(self) -> None:
        """Drop every pending item."""
        self.contents.clear()

    def can_consume(self, tokens: float = 1) -> bool:
        """Take ``tokens`` and return True if there are that many, else False.

        Either all ``tokens`` are taken or none.
        """
        if tokens <= self._refill():
            self._tokens -= tokens
            return True
        return False

    def expected_time(self, tokens: float = 1) -> float:
        """Seconds until ``tokens`` can be taken (0 if they can be now)."""
        available = self._refill()
        return max(tokens - available, 0.0) / self.fill_rate

    def _refill(self) -> float:
        # The time is taken on every count, also when the bucket is full:
        # kombu only moves it while the bucket is not full, so the first
        # token taken after a long idle spell refills at once.
        now = self._clock()
        if self._tokens < self.capacity:
            added = self.fill_rate * (now - self.timestamp)
            self._tokens = min(self.capacity, self._tokens + added)
        self.timestamp = now
        return self._tokens

    def __repr__(self) -> str:
        return (
            f"<TokenBucket: {self._tokens:g}/{self.capacity:g} tokens, "
            f"{self.fill_rate:g}/s>"
        )
