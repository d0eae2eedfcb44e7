"""Retry policies and :func:`retry_over_time`.

A :class:`RetryPolicy` is an immutable value: a connection's default policy
can be shared, and a call's override builds a new one (kombu wrote a call's
``retry_policy`` into the connection's ``transport_options``).  Time is
:func:`time.monotonic`, every sleep is clipped to the deadline, and the clock
and sleep functions are injectable so tests run in milliseconds.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, TypeVar

from kombu_lite.exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

__all__ = [
    "DEFAULT_PUBLISH_RETRY_POLICY",
    "RetryPolicy",
    "interval_range",
    "retry_over_time",
]

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
) -> T:
    """Call ``fun`` until it succeeds, retrying on the exceptions in ``catch``.

    kombu's semantics: ``max_retries=None`` retries without limit, ``0``
    never retries, ``N`` makes at most ``N + 1`` calls.  Before each sleep,
    ``errback(exc, intervals, retries)`` may return the seconds to sleep
    (it may call ``next(intervals)``); ``callback()`` is called about once a
    second while sleeping.

    Unlike kombu, ``timeout`` is measured on a monotonic clock and no sleep
    runs past it: once the deadline is reached the last error is re-raised.

    Once the retries or the time are used up, the last exception from
    ``fun`` is re-raised; an exception not in ``catch`` is raised at once.
    """
    call_args = tuple(args or ())
    call_kwargs = dict(kwargs or {})
    deadline = None if timeout is None else clock() + timeout
    intervals = interval_range(interval_start, interval_step, interval_max)
    for retries in itertools.count():
        try:
            return fun(*call_args, **call_kwargs)
        except catch as exc:
            if max_retries is not None and retries >= max_retries:
                raise
            if deadline is not None and clock() >= deadline:
                raise
            wanted = errback(exc, intervals, retries) if errback else None
            tts = next(intervals) if wanted is None else float(wanted)
            tts = min(max(tts, 0.0), float(interval_max))
            if deadline is not None:
                remaining = deadline - clock()
                if remaining <= 0:
                    raise
                tts = min(tts, remaining)
            _sleep_in_steps(tts, sleep, callback)
    raise AssertionError("unreachable")  # pragma: no cover - count() never ends


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
