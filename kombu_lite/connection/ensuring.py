"""kombu's retry methods: ``ensure``, ``autoretry`` and ``ensure_connection``.

Each is a method of :class:`~kombu_lite.Connection`, written here so the
connection module keeps to the connection itself; the loop they run is
:func:`kombu_lite.retry.retry_loop`, adapted to a connection by
:mod:`kombu_lite.connection.retrying`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from kombu_lite.connection.params import UNSET, Unset
from kombu_lite.connection.retrying import connect_with_retries, on_current_channel
from kombu_lite.connection.retrying import ensure as ensure_call
from kombu_lite.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Callable

    from kombu_lite.channel import Channel
    from kombu_lite.connection import Connection
    from kombu_lite.retry import Revivable

__all__ = ["autoretry", "ensure", "ensure_connection"]

T = TypeVar("T")


def ensure_connection(
    self: Connection,
    errback: Callable[[BaseException, float], object] | None = None,
    max_retries: int | Unset | None = UNSET,
    interval_start: float | Unset = UNSET,
    interval_step: float | Unset = UNSET,
    interval_max: float | Unset = UNSET,
    callback: Callable[[], object] | None = None,
    reraise_as_library_errors: bool = True,
    timeout: float | None = None,
    *,
    jitter: Callable[[float], float] | None = None,
) -> Connection:
    """Connect, retrying on recoverable connection errors; return self.

    An argument not given takes the connection's ``transport_options``
    value (kombu's retry keys), else kombu's default: ``max_retries=None``
    (no limit), ``interval_start=2``, ``interval_step=2``,
    ``interval_max=30``.  With no limit and no ``timeout`` this retries
    forever, as kombu does; give one of them to bound it.  Each retry
    moves to the next failover host.  ``jitter(seconds)`` (not in kombu)
    changes each sleep; ``errback`` is given the changed one.
    """
    del reraise_as_library_errors  # our errors are always library errors
    options = self.transport_options
    policy = self.default_retry_policy

    def pick(name: str, given: Any, default: Any) -> Any:
        if given is not UNSET:
            return given
        # The policy holds the option, checked when the connection was made.
        return getattr(policy, name) if name in options else default

    connect_with_retries(
        self._connect_recoverable,
        self._next_host,
        self.as_uri,
        errback=errback,
        max_retries=pick("max_retries", max_retries, None),
        interval_start=pick("interval_start", interval_start, 2),
        interval_step=pick("interval_step", interval_step, 2),
        interval_max=pick("interval_max", interval_max, 30),
        callback=callback,
        timeout=timeout,
        jitter=jitter,
    )
    return self


def ensure(
    self: Connection,
    obj: Revivable | None,
    fun: Callable[..., T],
    errback: Callable[[BaseException, float], object] | None = None,
    max_retries: int | None = None,
    interval_start: float = 1,
    interval_step: float = 1,
    interval_max: float = 1,
    on_revive: Callable[[Channel], object] | None = None,
    retry_errors: tuple[type[BaseException], ...] | None = None,
    timeout: float | None = None,
) -> Callable[..., T]:
    """Wrap ``fun`` so that a lost connection is re-established and retried.

    On a recoverable :class:`~kombu_lite.exceptions.OperationalError`
    the wrapper sleeps by the policy, reconnects (moving to the next
    failover host), calls ``obj.revive(connection.default_channel)`` and
    ``on_revive(channel)``, then calls ``fun`` again.  Reconnecting counts
    against ``max_retries`` and ``timeout``.  Broker refusals
    (:class:`~kombu_lite.exceptions.ChannelError`) are not retried,
    except the classes in ``retry_errors``, which are retried on the same
    channel.

    Guarantee: if ``fun`` sends something and the connection fails
    before the broker confirms it, the retry sends it again: the call
    is at-least-once, never at-most-once.
    """
    policy = RetryPolicy(
        max_retries=max_retries,
        interval_start=interval_start,
        interval_step=interval_step,
        interval_max=interval_max,
        timeout=timeout,
        errback=errback,
        on_revive=on_revive,
    )
    return ensure_call(self, obj, fun, policy, retry_errors)


def autoretry(
    self: Connection,
    fun: Callable[..., T],
    channel: Channel | None = None,
    **ensure_options: Any,
) -> Callable[..., tuple[T, Channel]]:
    """Wrap ``fun(*args, channel=..., **kwargs)`` with ``Connection.ensure``.

    The wrapper returns ``(result, channel)``; after a reconnect the
    channel is the connection's new default channel.
    """
    holder, call = on_current_channel(self, fun, channel)
    return self.ensure(holder, call, **ensure_options)
