"""kombu's TokenBucket at kombu's import path: tokens, refills and pending items."""

from __future__ import annotations

import pytest

from kombu_lite.exceptions import ConfigurationError
from kombu_lite.utils.limits import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_gives_its_capacity_then_refills_at_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(2, capacity=3, clock=clock)
    assert [bucket.can_consume() for _ in range(4)] == [True, True, True, False]
    assert bucket.expected_time(1) == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.can_consume()
    assert not bucket.can_consume()


def test_tokens_are_taken_all_or_none() -> None:
    clock = Clock()
    bucket = TokenBucket(1, capacity=2, clock=clock)
    assert not bucket.can_consume(3)
    assert bucket.can_consume(2)
    assert bucket.expected_time(2) == pytest.approx(2.0)


def test_a_long_idle_spell_does_not_refill_past_the_capacity() -> None:
    # kombu counts the idle time from the bucket's creation: after an hour
    # idle, one token taken would refill at once.
    clock = Clock()
    bucket = TokenBucket(1, clock=clock)
    clock.now += 3600
    assert bucket.can_consume()
    clock.now += 0.5
    assert not bucket.can_consume()
    assert bucket.expected_time() == pytest.approx(0.5)


def test_pending_items_are_first_in_first_out() -> None:
    bucket = TokenBucket(1)
    bucket.add("a")
    bucket.add("b")
    assert bucket.pop() == "a"
    bucket.clear_pending()
    with pytest.raises(IndexError):
        bucket.pop()
    assert "1/s" in repr(bucket)


@pytest.mark.parametrize(
    ("rate", "capacity"), [(0, 1), (1, 0), (-1, 1), ("1", 1), (True, 1)]
)
def test_a_bad_rate_or_capacity_is_refused(rate: object, capacity: object) -> None:
    with pytest.raises(ConfigurationError):
        TokenBucket(rate, capacity)  # type: ignore[arg-type]
