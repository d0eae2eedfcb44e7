"""The retry loop (retry_over_time, call_with_retries) and RetryPolicy.

All with an injected clock and sleep."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kombu_lite import RetryPolicy, retry_over_time
from kombu_lite.channel import Channel
from kombu_lite.exceptions import ConfigurationError, ConnectionLost
from kombu_lite.retry import call_with_retries, interval_range
from kombu_lite.utils.functional import retry_over_time as compat_retry


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Flaky:
    """Fails ``failures`` times with ValueError, then returns 'ok'."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ValueError(f"failure {self.calls}")
        return "ok"


def test_compat_path_is_the_same_function() -> None:
    assert compat_retry is retry_over_time


def test_returns_after_transient_failures() -> None:
    clock = FakeClock()
    fun = Flaky(2)

    result = retry_over_time(
        fun,
        ValueError,
        interval_start=1,
        interval_step=1,
        sleep=clock.sleep,
        clock=clock,
    )

    assert result == "ok"
    assert clock.sleeps == [1.0, 2.0]


def test_max_retries_zero_means_one_call() -> None:
    fun = Flaky(5)
    with pytest.raises(ValueError, match="failure 1"):
        retry_over_time(fun, ValueError, max_retries=0, sleep=lambda s: None)
    assert fun.calls == 1


def test_max_retries_n_means_n_plus_one_calls() -> None:
    fun = Flaky(10)
    with pytest.raises(ValueError, match="failure 4"):
        retry_over_time(fun, ValueError, max_retries=3, sleep=lambda s: None)
    assert fun.calls == 4


def test_other_exceptions_are_not_retried() -> None:
    def boom() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        retry_over_time(boom, ValueError, sleep=lambda s: None)


def test_jitter_changes_each_sleep() -> None:
    clock = FakeClock()

    retry_over_time(
        Flaky(2),
        ValueError,
        interval_start=1,
        interval_step=1,
        sleep=clock.sleep,
        clock=clock,
        jitter=lambda seconds: seconds / 2,
    )

    assert clock.sleeps == [0.5, 1.0]


class FakeConnection:
    """A Reconnectable that records what the retry loop asks of it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def connect(self, deadline: float | None) -> object:
        self.calls.append(f"connect by {deadline}")
        return None

    def reconnect(self, deadline: float | None) -> Channel:
        self.calls.append(f"reconnect by {deadline}")
        return None  # type: ignore[return-value]  # the loop only passes it on

    def fail_over(self) -> None:
        self.calls.append("fail over")

    where = "fake://broker"


def test_call_with_retries_reconnects_after_a_lost_connection_on_its_clock() -> None:
    clock = FakeClock()
    connection = FakeConnection()
    attempts = iter([ConnectionLost("gone"), "ok"])

    def fun() -> object:
        outcome = next(attempts)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = call_with_retries(
        fun,
        RetryPolicy(interval_start=2, timeout=10),
        (),
        connection,
        sleep=clock.sleep,
        clock=clock,
    )

    assert result == "ok"
    assert connection.calls == ["connect by 10.0", "fail over", "reconnect by 10.0"]
    assert clock.sleeps == [1.0]  # interval_start 2, capped by interval_max 1


def test_call_with_retries_gives_up_saying_how_many_attempts() -> None:
    clock = FakeClock()

    def fun() -> None:
        raise ConnectionLost("gone")

    with pytest.raises(ConnectionLost, match=r"gone \(gave up after 2 attempt"):
        call_with_retries(
            fun,
            RetryPolicy(max_retries=1),
            (),
            FakeConnection(),
            sleep=clock.sleep,
            clock=clock,
        )


def test_no_sleep_runs_past_the_timeout() -> None:
    clock = FakeClock()
    fun = Flaky(100)

    with pytest.raises(ValueError, match="failure 2"):
        retry_over_time(
            fun, ValueError, interval_start=5, timeout=1, sleep=clock.sleep, clock=clock
        )

    assert clock.sleeps == [1.0]
    assert clock.now == 1.0


def test_errback_chooses_the_sleep() -> None:
    clock = FakeClock()
    seen: list[tuple[str, int]] = []

    def errback(exc: BaseException, intervals: Iterator[float], retries: int) -> float:
        seen.append((str(exc), retries))
        return 0.25

    retry_over_time(
        Flaky(2), ValueError, errback=errback, sleep=clock.sleep, clock=clock
    )

    assert seen == [("failure 1", 0), ("failure 2", 1)]
    assert clock.sleeps == [0.25, 0.25]


def test_errback_returning_none_uses_the_interval() -> None:
    clock = FakeClock()
    retry_over_time(
        Flaky(1),
        ValueError,
        errback=lambda *a: None,
        interval_start=3,
        sleep=clock.sleep,
        clock=clock,
    )
    assert clock.sleeps == [3.0]


def test_callback_runs_about_every_second_of_sleep() -> None:
    clock = FakeClock()
    ticks: list[float] = []

    retry_over_time(
        Flaky(1),
        ValueError,
        interval_start=2.5,
        callback=lambda: ticks.append(clock.now),
        sleep=clock.sleep,
        clock=clock,
    )

    assert clock.sleeps == [1.0, 1.0, 0.5]
    assert ticks == [0.0, 1.0, 2.0]


def test_args_and_kwargs_are_passed() -> None:
    result = retry_over_time(lambda a, b: a + b, ValueError, args=[1], kwargs={"b": 2})
    assert result == 3


def test_interval_range_caps_and_repeats() -> None:
    assert list(itertools.islice(interval_range(2, 2, 5), 5)) == [2, 4, 5, 5, 5]


def test_interval_range_yields_floats_even_for_integer_arguments() -> None:
    values = list(itertools.islice(interval_range(2, 2, 5), 4))

    assert all(type(v) is float for v in values)


@given(start=st.floats(0, 50), step=st.floats(0, 50), maximum=st.floats(0, 50))
def test_intervals_never_exceed_the_maximum(
    start: float, step: float, maximum: float
) -> None:
    values = list(itertools.islice(interval_range(start, step, maximum), 20))
    assert all(0 <= v <= maximum for v in values)
    assert values == sorted(values)


def test_policy_from_mapping_overrides_the_base() -> None:
    base = RetryPolicy(max_retries=3)
    policy = RetryPolicy.from_mapping({"interval_start": 0.5}, base)

    assert (policy.max_retries, policy.interval_start) == (3, 0.5)
    assert base.interval_start == 0.0


def test_policy_from_empty_mapping_is_the_base() -> None:
    base = RetryPolicy(max_retries=1)
    assert RetryPolicy.from_mapping(None, base) is base


def test_policy_rejects_unknown_keys_by_name() -> None:
    with pytest.raises(ConfigurationError, match="max_retires"):
        RetryPolicy.from_mapping({"max_retires": 3})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"max_retries": True},
        {"max_retries": 1.5},
        {"interval_start": -1},
        {"interval_step": "1"},
        {"timeout": -2},
        {"timeout": "soon"},
    ],
)
def test_policy_validates_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
