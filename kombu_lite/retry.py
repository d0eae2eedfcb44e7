"""Retry policies and the one retry loop.

A :class:`RetryPolicy` is an immutable value: a connection's default policy
can be shared, and a call's override builds a new one (kombu wrote a call's
``retry_policy`` into the connection's ``transport_options``).

Every retry in the package runs through :func:`retry_loop`: kombu's
:func:`retry_over_time` and :func:`call_with_retries`, the loop behind
``Connection.ensure``, ``ensure_connection``, ``autoretry`` and
``Producer.publish(retry=True)``.  Time is :func:`time.monotonic`, every
sleep is clipped to the deadline, and the clock, the sleep and an optional
jitter are injectable, so tests run in milliseconds.

This module knows no connection: :func:`call_with_retries` is given a
:class:`Reconnectable`, the three things it needs of one.
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

from kombu_lite._log import get_logger
from kombu_lite.exceptions import ConfigurationError, OperationalError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from kombu_lite.channel import Channel

__all__ = [
    "DEFAULT_PUBLISH_RETRY_POLICY",
    "Reconnectable",
    "RetryPolicy",
    "Revivable",
    "backoff_jitter",
    "call_with_retries",
    "interval_range",
    "retry_loop",
    "retry_over_time",
]

# Named after the public module whose retries these records report: users
# configure ``kombu_lite.connection``.
logger = get_logger("kombu_lite.connection")

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how long to retry an operation that lost its connection.

    ``max_retries=None`` means no limit on the number of retries (then give
    a ``timeout``); ``0`` means one attempt and no retry; ``N`` means at
    most ``N + 1`` attempts.  ``timeout`` bounds the whole operation,
    reconnecting included.  Sleeps run ``interval_start``,
    ``interval_start + interval_step``, ... capped at ``interval_max``.

    ``errback(exc, interval)`` is called before each retry;
    ``on_revive(channel)`` after each reconnect.
    """

    max_retries: int | None = 3
    interval_start: float = 0.0
    interval_step: float = 1.0
    interval_max: float = 1.0
    timeout: float | None = None
    errback: Callable[[BaseException, float], object] | None = None
    on_revive: Callable[[Any], object] | None = None

    def __post_init__(self) -> None:
        if self.max_retries is not None and (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or self.max_retries < 0
        ):
            raise ConfigurationError(
                f"max_retries must be a non-negative int or None, "
                f"not {self.max_retries!r}"
            )
        for name in ("interval_start", "interval_step", "interval_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"{name} must be a number, not {value!r}")
            if value < 0:
                raise ConfigurationError(f"{name} must be >= 0, not {value!r}")
        if self.timeout is not None and (
            isinstance(self.timeout, bool)
            or not isinstance(self.timeout, int | float)
            or self.timeout < 0
        ):
            raise ConfigurationError(
                f"timeout must be a number >= 0 or None, not {self.timeout!r}"
            )

    @classmethod
    def from_mapping(
        cls, options: Mapping[str, object] | None, base: RetryPolicy | None = None
    ) -> RetryPolicy:
        """Build a policy from a kombu-style ``retry_policy`` dict.

        Keys not given keep ``base``'s values.  Unknown keys raise
        :class:`~kombu_lite.exceptions.ConfigurationError` naming the key,
        so a typo such as ``max_retires`` is not silently ignored.
        """
        start = base if base is not None else cls()
        if not options:
            return start
        known = _POLICY_FIELDS
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown retry policy option {unknown[0]!r}; "
                f"known options: {', '.join(sorted(known))}"
            )
        return replace(start, **options)  # type: ignore[arg-type]  # checked in __post_init__

    def intervals(self) -> Iterator[float]:
        """Yield the sleep before each retry, forever."""
        return interval_range(
            self.interval_start, self.interval_step, self.interval_max
        )


_POLICY_FIELDS = frozenset(f.name for f in fields(RetryPolicy))

#: Used by ``Producer.publish(retry=True)`` when no policy is given: bounded,
#: so a dead broker gives an error instead of a hang (kombu#1024).
DEFAULT_PUBLISH_RETRY_POLICY = RetryPolicy(
    max_retries=3, interval_start=0.0, interval_step=1.0, interval_max=1.0
)


def interval_range(start: float, step: float, maximum: float) -> Iterator[float]:
    """Yield ``start, start + step, ...`` capped at ``maximum``, forever."""
    maximum = float(maximum)
    value = min(float(start), maximum)
    while True:
        yield value
        value = min(value + step, maximum)


def retry_loop(
    fun: Callable[[], T],
    catch: tuple[type[BaseException], ...],
    next_sleep: Callable[[BaseException, int], float],
    *,
    max_retries: int | None,
    deadline: float | None = None,
    retryable: Callable[[BaseException], bool] | None = None,
    give_up: Callable[[BaseException, int], NoReturn] | None = None,
    retry_at_deadline: bool = False,
    callback: Callable[[], object] | None = None,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    jitter: Callable[[float], float] | None = None,
) -> T:
    """Call ``fun`` until it returns, sleeping between failed attempts.

    An exception in ``catch`` (for which ``retryable(exc)``, when given,
    is true) is retried; anything else is raised at once.  After
    ``max_retries`` retries (``None``: no limit), or once ``clock()``
    reaches ``deadline``, the failure goes to ``give_up(exc, attempts)``,
    which raises, or is re-raised as it is.

    Before each retry ``next_sleep(exc, retries)`` returns the seconds to
    sleep (it is where errbacks run); ``jitter`` may then change them.  No
    sleep runs past ``deadline``: with no time left the failure is
    re-raised, or with ``retry_at_deadline`` tried once more at once (a
    connection attempt then reports that no time was left).  ``sleep``
    runs in one-second steps when ``callback`` is given, which is called
    before each step.
    """
    for retries in itertools.count():
        try:
            return fun()
        except catch as exc:
            if retryable is not None and not retryable(exc):
                raise
            if (max_retries is not None and retries >= max_retries) or (
                deadline is not None and clock() >= deadline
            ):
                if give_up is not None:
                    give_up(exc, retries + 1)
                raise
            seconds = next_sleep(exc, retries)
            if jitter is not None:
                seconds = max(jitter(seconds), 0.0)
            if deadline is not None:
                remaining = deadline - clock()
                if remaining <= 0 and not retry_at_deadline:
                    raise
                seconds = min(seconds, max(remaining, 0.0))
            _sleep_in_steps(seconds, sleep, callback)
    raise AssertionError("unreachable")  # pragma: no cover - count() never ends


def retry_over_time(
    fun: Callable[..., T],
    catch: type[BaseException] | tuple[type[BaseException], ...],
    args: tuple[Any, ...] | list[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    errback: Callable[[BaseException, Iterator[float], int], float | None]
    | None = None,
    max_retries: int | None = None,
    interval_start: float = 2,
    interval_step: float = 2,
    interval_max: float = 30,
    callback: Callable[[], object] | None = None,
    timeout: float | None = None,
    *,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    jitter: Callable[[float], float] | None = None,
) -> T:
    """Call ``fun`` until it succeeds, retrying on the exceptions in ``catch``.

    kombu's semantics: ``max_retries=None`` retries without limit, ``0``
    never retries, ``N`` makes at most ``N + 1`` calls.  Before each sleep,
    ``errback(exc, intervals, retries)`` may return the seconds to sleep
    (it may call ``next(intervals)``); ``callback()`` is called about once a
    second while sleeping.  ``jitter(seconds)``, when given, changes each
    sleep (kombu has no such argument).

    Unlike kombu, ``timeout`` is measured on a monotonic clock and no sleep
    runs past it: once the deadline is reached the last error is re-raised.

    Once the retries or the time are used up, the last exception from
    ``fun`` is re-raised; an exception not in ``catch`` is raised at once.
    """
    call_args = tuple(args or ())
    call_kwargs = dict(kwargs or {})
    intervals = interval_range(interval_start, interval_step, interval_max)

    def next_sleep(exc: BaseException, retries: int) -> float:
        wanted = errback(exc, intervals, retries) if errback else None
        tts = next(intervals) if wanted is None else float(wanted)
        return min(max(tts, 0.0), float(interval_max))

    return retry_loop(
        lambda: fun(*call_args, **call_kwargs),
        catch if isinstance(catch, tuple) else (catch,),
        next_sleep,
        max_retries=max_retries,
        deadline=None if timeout is None else clock() + timeout,
        callback=callback,
        sleep=sleep,
        clock=clock,
        jitter=jitter,
    )


class Revivable(Protocol):
    """What ``ensure`` moves to the new channel after a reconnect."""

    def revive(self, channel: Channel) -> None:
        """Use ``channel`` from now on."""


class Reconnectable(Protocol):
    """What :func:`call_with_retries` needs of a connection.

    Deadlines are on the :func:`time.monotonic` clock.
    """

    def connect(self, deadline: float | None) -> object:
        """Connect if not connected yet, giving up at ``deadline``."""

    def reconnect(self, deadline: float | None) -> Channel:
        """Connect again, giving up at ``deadline``; return the new channel."""

    def fail_over(self) -> None:
        """Drop the connection and move to the next broker."""

    @property
    def where(self) -> str:
        """The broker being tried (its URL, password masked), for the logs."""


def call_with_retries(
    fun: Callable[[], T],
    policy: RetryPolicy,
    retry_errors: tuple[type[BaseException], ...],
    connection: Reconnectable,
    revivable: Revivable | None = None,
    *,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    jitter: Callable[[float], float] | None = None,
) -> T:
    """Call ``fun`` until it succeeds or ``policy`` runs out.

    The first attempt starts with ``connection.connect(deadline)``, which
    connects if the connection is not up yet, so a first connect to a
    broker that never answers is bounded by the policy's ``timeout`` as the
    reconnects are.  A recoverable
    :class:`~kombu_lite.exceptions.OperationalError` makes the next attempt
    reconnect first: ``connection.fail_over()`` drops the connection and
    moves to the next host before the sleep, ``connection.reconnect``
    connects and returns the new default channel, which ``revivable`` and
    ``policy.on_revive`` are given.  The classes in ``retry_errors`` are
    retried on the same channel.  Anything else is raised at once.

    Before each sleep a WARNING on ``kombu_lite.connection`` names the
    attempt, ``connection.where``, the failure and the sleep, after
    ``jitter`` (which ``policy.errback`` is given too).

    Giving up re-raises the last failure; an ``OperationalError`` is raised
    as a new one of its class whose text says how many attempts were made
    in how long.
    """
    start = clock()
    deadline = None if policy.timeout is None else start + policy.timeout
    intervals = policy.intervals()
    need_revive = False
    first = True

    def attempt() -> T:
        nonlocal need_revive, first
        if first:
            first = False
            connection.connect(deadline)
        elif need_revive:
            channel = connection.reconnect(deadline)
            if revivable is not None:
                revivable.revive(channel)
            if policy.on_revive is not None:
                policy.on_revive(channel)
            need_revive = False
        return fun()

    def retryable(exc: BaseException) -> bool:
        # A refused connection (bad credentials, a missing vhost) is final,
        # even when its class is among ``retry_errors``.
        return not isinstance(exc, OperationalError) or exc.recoverable

    def next_sleep(failure: BaseException, retries: int) -> float:
        nonlocal need_revive
        if isinstance(failure, OperationalError):
            need_revive = True
        interval = next(intervals)
        if jitter is not None:
            # Applied here, not by the loop, so the log and errback see
            # the real sleep.
            interval = max(jitter(interval), 0.0)
        logger.warning(
            "retrying after %s: %s (attempt %d, host %s, sleeping %.2fs)",
            type(failure).__name__,
            failure,
            retries + 1,
            connection.where,
            interval,
        )
        if policy.errback is not None:
            policy.errback(failure, interval)
        if need_revive:
            connection.fail_over()
        return interval

    def give_up(failure: BaseException, attempts: int) -> NoReturn:
        note = f"gave up after {attempts} attempt(s) in {clock() - start:.1f}s"
        if isinstance(failure, OperationalError):
            raise type(failure)(
                f"{failure} ({note})",
                reply_code=failure.reply_code,
                reply_text=failure.reply_text,
            ) from failure
        raise failure

    return retry_loop(
        attempt,
        (OperationalError, *retry_errors),
        next_sleep,
        max_retries=policy.max_retries,
        deadline=deadline,
        retryable=retryable,
        give_up=give_up,
        retry_at_deadline=True,
        sleep=sleep,
        clock=clock,
    )


def backoff_jitter(seconds: float) -> float:
    """Pick 50 to 100 % of ``seconds`` at random.

    The jitter connection retries apply to their backoff by default, so
    clients cut off together do not all come back at the same instant.
    """
    return seconds * random.uniform(0.5, 1.0)  # not for secrets


def _sleep_in_steps(
    seconds: float,
    sleep: Callable[[float], object],
    callback: Callable[[], object] | None,
) -> None:
    # Sleeping in one-second steps lets ``callback`` report progress, as
    # kombu's callback contract promises.
    if callback is None:
        if seconds > 0:
            sleep(seconds)
        return
    callback()
    while seconds > 0:
        step = min(seconds, 1.0)
        sleep(step)
        seconds -= step
        if seconds > 0:
            callback()
