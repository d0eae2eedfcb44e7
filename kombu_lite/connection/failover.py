"""Failover: the order in which a Connection tries its brokers.

A Connection keeps the index of the host it is on.  Connecting tries every
host once, starting there, in the order the strategy gives; each retry
after a lost connection moves the index on by one.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

from kombu_lite.exceptions import ConfigurationError

__all__ = [
    "FAILOVER_STRATEGIES",
    "FailoverStrategy",
    "check_failover_strategy",
    "host_order",
    "next_host",
]

#: A strategy name, or a callable that takes the list of URLs and returns
#: them in the order to try.
FailoverStrategy = str | Callable[[list[str]], Iterable[str]]

FAILOVER_STRATEGIES = ("round-robin", "shuffle")


def check_failover_strategy(strategy: FailoverStrategy) -> FailoverStrategy:
    """Return ``strategy`` if it is a known name or a callable, else raise."""
    if not (callable(strategy) or strategy in FAILOVER_STRATEGIES):
        raise ConfigurationError(
            f"failover_strategy must be 'round-robin', 'shuffle' or a callable, "
            f"not {strategy!r}"
        )
    return strategy


def host_order(
    current: int, urls: Sequence[str], strategy: FailoverStrategy
) -> list[int]:
    """Return the indexes of ``urls`` in the order to try them.

    ``'round-robin'`` starts at ``current`` and keeps the list's order;
    ``'shuffle'`` starts at ``current`` and shuffles the rest; a callable
    chooses the order itself, from the URLs.
    """
    count = len(urls)
    order = [(current + i) % count for i in range(count)]
    if strategy == "shuffle" and count > 1:
        rest = order[1:]
        random.shuffle(rest)
        order = [order[0], *rest]
    elif callable(strategy):
        listed = list(urls)
        order = [listed.index(url) for url in strategy(list(listed))]
    return order


def next_host(current: int, count: int) -> int:
    """Return the index of the host after ``current``, wrapping around."""
    return (current + 1) % count
