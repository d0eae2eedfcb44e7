"""The retry loops behind ``ensure``, ``ensure_connection`` and ``autoretry``.

They know a connection only through the callables they are given
(reconnect, move to the next host), so the policy and the bookkeeping of
attempts and deadlines live here, and the socket work stays in
:mod:`kombu_lite.connection`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

from kombu_lite._log import get_logger
from kombu_lite.exceptions import OperationalError
from kombu_lite.retry import retry_over_time

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from kombu_lite.channel import Channel
    from kombu_lite.connection import Connection
    from kombu_lite.retry import RetryPolicy

__all__ = [
    "Revivable",
    "autoretry",
    "call_with_retries",
    "connect_with_retries",
]

# The public module's name: users configure ``kombu_lite.connection``.
logger = get_logger("kombu_lite.connection")

T = TypeVar("T")


class Revivable(Protocol):
    """What ``ensure`` moves to the new channel after a reconnect."""

    def revive(self, channel: Channel) -> None:
        """Use ``channel`` from now on."""


def call_with_retries(
    fun: Callable[[], T],
    policy: RetryPolicy,
    retry_errors: tuple[type[BaseException], ...],
    *,
    connect: Callable[[float | None], object],
    reconnect: Callable[[float | None], Channel],
    fail_over: Callable[[], None],
    revivable: Revivable | None = None,
) -> T:
    """Call ``fun`` until it succeeds or ``policy`` runs out.

    The first attempt starts with ``connect(deadline)``, which connects if
    the connection is not up yet, so a first connect to a broker that never
    answers is bounded by the policy's ``timeout`` as the reconnects are.
    A recoverable :class:`~kombu_lite.exceptions.OperationalError` makes
    the next attempt reconnect first: ``fail_over()`` drops the connection
    and moves to the next host before the sleep, ``reconnect(deadline)``
    connects and returns the new default channel, which ``revivable`` and
    ``policy.on_revive`` are given.  The classes in ``retry_errors`` are
    retried on the same channel.  Anything else is raised at once.
    """
    start = time.monotonic()
    deadline = None if policy.timeout is None else start + policy.timeout
    intervals = policy.intervals()
    attempts = 0
    need_revive = False
    while True:
        attempts += 1
        try:
            if attempts == 1:
                connect(deadline)
            elif need_revive:
                channel = reconnect(deadline)
                if revivable is not None:
                    revivable.revive(channel)
                if policy.on_revive is not None:
                    policy.on_revive(channel)
                need_revive = False
            return fun()
        except OperationalError as exc:
            if not exc.recoverable:
                raise
            failure: BaseException = exc
            need_revive = True
        except retry_errors as exc:
            failure = exc
        interval = next(intervals)
        elapsed = time.monotonic() - start
        out_of_time = deadline is not None and time.monotonic() >= deadline
        if (
            policy.max_retries is not None and attempts > policy.max_retries
        ) or out_of_time:
            _give_up(failure, attempts, elapsed)
        logger.debug(
            "retrying after %s (attempt %d, sleeping %.2fs)",
            failure,
            attempts,
            interval,
        )
        if policy.errback is not None:
            policy.errback(failure, interval)
        if need_revive:
            fail_over()
        if deadline is not None:
            interval = min(interval, max(deadline - time.monotonic(), 0.0))
        if interval > 0:
            time.sleep(interval)


def _give_up(failure: BaseException, attempts: int, elapsed: float) -> NoReturn:
    note = f"gave up after {attempts} attempt(s) in {elapsed:.1f}s"
    if isinstance(failure, OperationalError):
        raise type(failure)(
            f"{failure} ({note})",
            reply_code=failure.reply_code,
            reply_text=failure.reply_text,
        ) from failure
    raise failure


def connect_with_retries(
    connect: Callable[[], object],
    next_host: Callable[[], None],
    *,
    errback: Callable[[BaseException, float], object] | None,
    max_retries: int | None,
    interval_start: float,
    interval_step: float,
    interval_max: float,
    callback: Callable[[], object] | None,
    timeout: float | None,
) -> None:
    """Call ``connect`` until it succeeds, moving to the next host between tries.

    kombu's ``ensure_connection`` semantics (see
    :func:`~kombu_lite.retry.retry_over_time`); ``errback(exc, interval)``
    is called before each sleep.
    """

    def on_error(exc: BaseException, intervals: Iterable[float], retries: int) -> float:
        interval = next(iter(intervals))
        logger.debug(
            "connecting failed (retry %d, sleeping %.2fs): %s",
            retries + 1,
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


def autoretry(
    connection: Connection,
    fun: Callable[..., T],
    channel: Channel | None = None,
    **ensure_options: Any,
) -> Callable[..., tuple[T, Channel]]:
    """Wrap ``fun(*args, channel=..., **kwargs)`` with ``connection.ensure``.

    The wrapper returns ``(result, channel)``; after a reconnect the
    channel is the connection's new default channel.
    """
    state: dict[str, Channel | None] = {"channel": channel}

    class _Holder:
        def revive(self, new_channel: Channel) -> None:
            state["channel"] = new_channel

    def call(*args: Any, **kwargs: Any) -> tuple[T, Channel]:
        current = state["channel"]
        if current is None or not current.is_open:
            current = state["channel"] = connection.default_channel
        return fun(*args, channel=current, **kwargs), current

    return connection.ensure(_Holder(), call, **ensure_options)
