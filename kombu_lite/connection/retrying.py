"""The connection's side of the retry loop in :mod:`kombu_lite.retry`.

``Connection.ensure``, ``autoretry``, ``ensure_connection`` and the publish
retry all run :func:`~kombu_lite.retry.retry_loop`; this module adapts a
connection to it: :class:`Reconnector` is the
:class:`~kombu_lite.retry.Reconnectable` of a connection, and the other
helpers turn kombu's keyword arguments into a policy.  It knows the
connection only through :class:`Link`, so it does not import it.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from kombu_lite._log import get_logger
from kombu_lite.exceptions import OperationalError
from kombu_lite.retry import (
    RetryPolicy,
    backoff_jitter,
    call_with_retries,
    retry_over_time,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from threading import RLock

    from kombu_lite.channel import Channel
    from kombu_lite.retry import Revivable
    from kombu_lite.transport.base import WireConnection

__all__ = [
    "Link",
    "Reconnector",
    "call",
    "connect_with_retries",
    "ensure",
    "on_current_channel",
]

# The public module's name: users configure ``kombu_lite.connection``.
logger = get_logger("kombu_lite.connection")

T = TypeVar("T")


class Link(Protocol):
    """The parts of a ``Connection`` its retries use."""

    _lock: RLock

    @property
    def default_channel(self) -> Channel:
        """The connection's own channel, re-opened if it was closed."""
        ...

    def _ensure_wire(self, deadline: float | None = None) -> WireConnection: ...

    def _drop_wire(self) -> None: ...

    def _next_host(self) -> None: ...

    def as_uri(self, include_password: bool = False, mask: str = "**") -> str:
        """The current broker's URL, password masked."""
        ...


class Reconnector:
    """A connection as the :class:`~kombu_lite.retry.Reconnectable` of a retry."""

    __slots__ = ("_link",)

    def __init__(self, link: Link) -> None:
        self._link = link

    def connect(self, deadline: float | None) -> object:
        """Connect if not connected yet (each host once), by ``deadline``."""
        return self._link._ensure_wire(deadline)

    def reconnect(self, deadline: float | None) -> Channel:
        """Connect by ``deadline`` and return the new default channel."""
        self._link._ensure_wire(deadline)
        return self._link.default_channel

    @property
    def where(self) -> str:
        """The current broker's URL, password masked."""
        return self._link.as_uri()

    def fail_over(self) -> None:
        """Drop the connection and move to the next failover host."""
        link = self._link
        with link._lock:
            link._drop_wire()
            link._next_host()


def call(
    link: Link,
    obj: Revivable | None,
    fun: Callable[..., T],
    policy: RetryPolicy,
    retry_errors: tuple[type[BaseException], ...],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> T:
    """``fun(*args, **kwargs)`` in the retry loop of ``link``, by ``policy``.

    Each sleep is the policy's interval with
    :func:`~kombu_lite.retry.backoff_jitter` applied (50 to 100 % of it).
    """
    return call_with_retries(
        partial(fun, *args, **kwargs),
        policy,
        retry_errors,
        Reconnector(link),
        obj,
        jitter=backoff_jitter,
    )


def ensure(
    link: Link,
    obj: Revivable | None,
    fun: Callable[..., T],
    policy: RetryPolicy,
    retry_errors: Iterable[type[BaseException]] | None,
) -> Callable[..., T]:
    """``Connection.ensure``: ``fun`` wrapped in the retry loop of ``link``."""
    extra = tuple(retry_errors or ())

    def ensured(*args: Any, **kwargs: Any) -> T:
        return call(link, obj, fun, policy, extra, args, kwargs)

    ensured.__name__ = getattr(fun, "__name__", "ensured")
    ensured.__doc__ = fun.__doc__
    return ensured


def connect_with_retries(
    connect: Callable[[], object],
    next_host: Callable[[], None],
    where: Callable[[], str],
    *,
    errback: Callable[[BaseException, float], object] | None,
    max_retries: int | None,
    interval_start: float,
    interval_step: float,
    interval_max: float,
    callback: Callable[[], object] | None,
    timeout: float | None,
    jitter: Callable[[float], float] | None = None,
) -> None:
    """Call ``connect`` until it succeeds, moving to the next host between tries.

    kombu's ``ensure_connection`` semantics (see
    :func:`~kombu_lite.retry.retry_over_time`); ``errback(exc, interval)``
    is called before each sleep, with the interval ``jitter`` made of it.
    Before each sleep a WARNING names the retry, ``where()`` (the host
    tried first), the sleep and the failure.
    """

    def on_error(exc: BaseException, intervals: Iterable[float], retries: int) -> float:
        interval = next(iter(intervals))
        if jitter is not None:
            # Applied here, not by the loop, so errback hears the real sleep.
            interval = max(jitter(interval), 0.0)
        logger.warning(
            "connecting failed (retry %d, host %s, sleeping %.2fs): %s",
            retries + 1,
            where(),
            interval,
            exc,
        )
        if errback is not None:
            errback(exc, interval)
        next_host()
        return interval

    retry_over_time(
        connect,
        OperationalError,
        errback=on_error,
        max_retries=max_retries,
        interval_start=interval_start,
        interval_step=interval_step,
        interval_max=interval_max,
        callback=callback,
        timeout=timeout,
    )


def on_current_channel(
    link: Link, fun: Callable[..., T], channel: Channel | None = None
) -> tuple[Revivable, Callable[..., tuple[T, Channel]]]:
    """What ``Connection.autoretry`` gives ``ensure``: a revivable and a call.

    The call runs ``fun(*args, channel=..., **kwargs)`` and returns
    ``(result, channel)``; the channel is ``channel`` until it closes or a
    reconnect revives the revivable with the connection's new default
    channel.
    """
    state: dict[str, Channel | None] = {"channel": channel}

    class _Holder:
        def revive(self, new_channel: Channel) -> None:
            state["channel"] = new_channel

    def call_on_channel(*args: Any, **kwargs: Any) -> tuple[T, Channel]:
        current = state["channel"]
        if current is None or not current.is_open:
            current = state["channel"] = link.default_channel
        return fun(*args, channel=current, **kwargs), current

    return _Holder(), call_on_channel
