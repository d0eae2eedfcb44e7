"""Failover: the order in which a Connection tries its brokers.

A Connection keeps its brokers in a :class:`Hosts`, with the index of the
host it is on.  Connecting tries every host once, starting there, in the
order the strategy gives; each retry after a lost connection moves the
index on by one.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from kombu_lite._log import get_logger
from kombu_lite.connection.url import mask_url
from kombu_lite.exceptions import ConfigurationError, OperationalError

if TYPE_CHECKING:
    from kombu_lite.transport.base import (
        ConnectionParameters,
        Transport,
        WireConnection,
    )

__all__ = [
    "FAILOVER_STRATEGIES",
    "FailoverStrategy",
    "Hosts",
    "all_failed",
    "check_failover_strategy",
    "host_order",
    "next_host",
]

#: A strategy name, or a callable that takes the list of URLs and returns
#: them in the order to try.
FailoverStrategy = str | Callable[[list[str]], Iterable[str]]

FAILOVER_STRATEGIES = ("round-robin", "shuffle")

# The public module's name: users configure ``kombu_lite.connection``.
logger = get_logger("kombu_lite.connection")


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


class Hosts:
    """A connection's brokers: their URLs and parameters, and the current one."""

    __slots__ = ("index", "params", "password_provider", "urls")

    def __init__(
        self,
        urls: list[str],
        params: list[ConnectionParameters],
        password_provider: Callable[[], str] | None = None,
    ) -> None:
        self.urls = urls
        self.params = params
        self.index = 0
        #: Called for the password at every connect (``password=`` callable).
        self.password_provider = password_provider

    def password(self) -> str:
        """The current password: the provider's answer now, if there is one.

        Raises:
            ConfigurationError: the provider returned something not a str.
        """
        provider = self.password_provider
        if provider is None:
            return self.current.password
        password = provider()
        if not isinstance(password, str):
            raise ConfigurationError(
                f"the password callable must return a str, "
                f"not {type(password).__name__}"
            )
        return password

    @property
    def current(self) -> ConnectionParameters:
        """The parameters of the host the connection is (or was last) on."""
        return self.params[self.index]

    @property
    def alt(self) -> list[str]:
        """All broker URLs, passwords masked, in failover order."""
        return [mask_url(url) for url in self.urls]

    def advance(self) -> None:
        """Move on to the next host."""
        self.index = next_host(self.index, len(self.params))

    def connect(
        self,
        transport: Transport,
        strategy: FailoverStrategy,
        deadline: float | None,
        describe: Callable[[], str],
    ) -> WireConnection:
        """Try each host once, in ``strategy``'s order, until one answers.

        The host that answered becomes the current one.  ``deadline`` (on
        :func:`time.monotonic`) shortens each host's connect timeout.

        A ``password_provider`` is called before each host is tried (an
        OAuth2 token is fetched fresh for each attempt).

        Raises:
            OperationalError: no host answered (or no time was left).  With
                one host, its error as it is; with several, the last one's
                class and attributes with a message naming every host tried
                (passwords masked) and why each failed, in order (raised
                from the last host's error).  An unrecoverable error
                (refused credentials) at once.
            ConfigurationError: the password provider returned a non-str;
                whatever else it raises is raised as it is.
        """
        failures: list[str] = []
        last: OperationalError | None = None
        order = host_order(self.index, self.urls, strategy)
        for index in order:
            params = self.params[index]
            if self.password_provider is not None:
                params = replace(params, password=self.password())
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if params.connect_timeout is None or params.connect_timeout > remaining:
                    params = replace(params, connect_timeout=remaining)
            try:
                wire = transport.connect(params)
            except OperationalError as exc:
                if not exc.recoverable:
                    raise
                url = mask_url(self.urls[index])
                logger.debug("connect to %s failed: %s", url, exc)
                failures.append(f"{url}: {exc}")
                last = exc
                continue
            self.index = index
            return wire
        if last is None:
            raise OperationalError(f"no time left to connect to {describe()}")
        if len(order) == 1:
            raise last
        raise all_failed(last, failures, untried=len(order) - len(failures)) from last


def all_failed(
    last: OperationalError, failures: list[str], untried: int
) -> OperationalError:
    """The error for a connect that failed on every host it tried.

    ``last``'s class and attributes, with a message listing ``failures``
    (``'<masked url>: <reason>'``, in the order tried).
    """
    error = copy.copy(last)
    untried_text = f"; no time left to try {untried} more" if untried else ""
    error.args = (
        f"could not connect to any broker ({len(failures)} tried): "
        + "; ".join(failures)
        + untried_text,
    )
    return error
