"""AckBatch: which frames a batch of acks becomes (kombu_lite/ack_batch.py).

A fake wire records each ``basic.ack``/``basic.reject`` the batch sends; the
broker acks every unacknowledged tag up to a ``multiple`` ack's, so a
``multiple`` ack must never cover a tag the application did not settle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from kombu_lite.ack_batch import AckBatch, check_ack_batch
from kombu_lite.exceptions import ConfigurationError, ConnectionLost


class Wire:
    """Records the frames; raises ``fail`` when set."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, int, bool]] = []
        self.is_open = True
        self.fail: Exception | None = None

    def basic_ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        if self.fail is not None:
            raise self.fail
        self.frames.append(("ack", delivery_tag, multiple))

    def basic_reject(self, delivery_tag: int, *, requeue: bool) -> None:
        self.frames.append(("reject", delivery_tag, requeue))


class Hooks:
    def __init__(self) -> None:
        self.hooks: list[Callable[[], None]] = []

    def add(self, hook: Callable[[], None]) -> Callable[[], None]:
        self.hooks.append(hook)
        return lambda: self.hooks.remove(hook)

    def run(self) -> None:
        for hook in list(self.hooks):
            hook()


def batch_of(
    wire: Wire, limit: int = 100, hooks: Hooks | None = None, delay: float = 60.0
) -> AckBatch:
    return AckBatch(wire, limit, None if hooks is None else hooks.add, delay)


def delivered(batch: AckBatch, *tags: int) -> None:
    for tag in tags:
        batch.track(tag)


def test_a_contiguous_run_is_one_multiple_ack() -> None:
    wire = Wire()
    batch = batch_of(wire)
    delivered(batch, 1, 2, 3, 4)
    for tag in (1, 2, 3, 4):
        batch.ack(tag, False)

    batch.flush()

    assert wire.frames == [("ack", 4, True)]


def test_nothing_is_sent_before_a_flush() -> None:
    wire = Wire()
    batch = batch_of(wire)
    delivered(batch, 1, 2)
    batch.ack(1, False)
    batch.ack(2, False)

    assert wire.frames == []
    assert batch.pending == 2


def test_the_limit_th_ack_sends_the_run() -> None:
    wire = Wire()
    batch = batch_of(wire, limit=3)
    delivered(batch, 1, 2, 3, 4)
    for tag in (1, 2, 3, 4):
        batch.ack(tag, False)

    assert wire.frames == [("ack", 3, True)]
    assert batch.pending == 1


def test_an_ack_above_an_unacked_tag_goes_alone() -> None:
    wire = Wire()
    batch = batch_of(wire)
    delivered(batch, 1, 2, 3)
    batch.ack(2, False)  # 1 is not acked: ack(2, multiple) would ack it
    batch.ack(3, False)

    batch.flush()

    assert wire.frames == [("ack", 2, False), ("ack", 3, False)]


def test_the_run_resumes_once_the_gap_is_acked() -> None:
    wire = Wire()
    batch = batch_of(wire)
    delivered(batch, 1, 2, 3, 4, 5)
    batch.ack(2, False)
    batch.flush()
    batch.ack(1, False)
    batch.ack(3, False)
    batch.ack(4, False)

    batch.flush()

    assert wire.frames == [("ack", 2, False), ("ack", 4, True)]


def test_a_tag_the_batch_never_saw_stops_the_run() -> None:
    # Tag 2 went to another consumer of the channel: unknown, maybe unacked.
    wire = Wire()
    batch = batch_of(wire)
    delivered(batch, 1, 3)
    batch.ack(1, False)
    batch.ack(3, False)

    batch.flush()

    assert wire.frames == [("ack", 1, True), ("ack", 3, False)]


def test_a_direct_ack_of_another_tag_lets_the_run_pass_it() -> None:
    wire = Wire()
    batch = batch_of(wire)
    delivered(batch, 1, 3, 4)
    batch.ack(2, False)  # not tracked: sent at once
    batch.ack(1, False)
    batch.ack(3, False)
    batch.ack(4, False)

    batch.flush()

    assert wire.frames == [("ack", 2, False), ("ack", 4, True)]


def test_a_reject_sends_the_pending_acks_first() -> None:
    wire = Wire()
    batch = batch_of(wire)
    delivered(batch, 1, 2, 3)
    batch.ack(1, False)
    batch.ack(2, False)

    batch.reject(3, True)

    assert wire.frames == [("ack", 2, True), ("reject", 3, True)]


def test_a_run_passes_a_rejected_tag() -> None:
    wire = Wire()
    batch = batch_of(wire)
    delivered(batch, 1, 2, 3)
    batch.reject(1, False)
    batch.ack(2, False)
    batch.ack(3, False)

    batch.flush()

    assert wire.frames == [("reject", 1, False), ("ack", 3, True)]


def test_an_explicit_multiple_ack_is_sent_at_once_and_covers_the_pending() -> None:
    wire = Wire()
    batch = batch_of(wire)
    delivered(batch, 1, 2, 3, 4)
    batch.ack(1, False)

    batch.ack(3, True)
    batch.ack(4, False)
    batch.flush()

    assert wire.frames == [("ack", 3, True), ("ack", 4, True)]


def test_the_idle_hook_sends_what_is_pending() -> None:
    wire = Wire()
    hooks = Hooks()
    batch = batch_of(wire, hooks=hooks)
    delivered(batch, 1)
    batch.ack(1, False)

    hooks.run()

    assert wire.frames == [("ack", 1, True)]


def test_the_deadline_sends_without_anything_else() -> None:
    wire = Wire()
    batch = batch_of(wire, delay=0.05)
    delivered(batch, 1)
    batch.ack(1, False)

    deadline = time.monotonic() + 5
    while not wire.frames and time.monotonic() < deadline:
        time.sleep(0.01)

    assert wire.frames == [("ack", 1, True)]
    batch.close()


def test_close_sends_the_pending_and_unhooks() -> None:
    wire = Wire()
    hooks = Hooks()
    batch = batch_of(wire, hooks=hooks)
    delivered(batch, 1)
    batch.ack(1, False)

    batch.close()

    assert wire.frames == [("ack", 1, True)]
    assert hooks.hooks == []


def test_recover_settles_every_delivery_so_far() -> None:
    wire = Wire()
    batch = batch_of(wire)
    delivered(batch, 1, 2)
    batch.recovered()  # 1 and 2 went back to the queue
    delivered(batch, 3)
    batch.ack(3, False)

    batch.flush()

    assert wire.frames == [("ack", 3, True)]


def test_a_failed_flush_raises_and_drops_the_pending() -> None:
    wire = Wire()
    batch = batch_of(wire)
    delivered(batch, 1, 2)
    batch.ack(1, False)
    wire.fail = ConnectionLost("gone")

    with pytest.raises(ConnectionLost):
        batch.flush()
    assert batch.pending == 0


class Broker(Wire):
    """Checks each ack as RabbitMQ would: no tag acked twice, and a
    ``multiple`` ack covering only tags the application acked."""

    def __init__(self, tags: range) -> None:
        super().__init__()
        self.unacked = set(tags)
        self.user_acked: set[int] = set()

    def basic_ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        covered = (
            {tag for tag in self.unacked if tag <= delivery_tag}
            if multiple
            else {delivery_tag}
        )
        assert covered <= self.unacked, "a tag acked twice (PRECONDITION_FAILED)"
        assert covered <= self.user_acked, "a tag acked before the application"
        self.unacked -= covered
        super().basic_ack(delivery_tag, multiple=multiple)


def test_two_threads_acking_never_send_a_tag_twice_or_too_early() -> None:
    tags = range(1, 2001)
    wire = Broker(tags)
    batch = batch_of(wire, limit=7)
    delivered(batch, *tags)

    def ack(parity: int) -> None:
        for tag in tags:
            if tag % 2 == parity:
                wire.user_acked.add(tag)
                batch.ack(tag, False)

    threads = [threading.Thread(target=ack, args=(p,)) for p in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batch.flush()

    assert wire.unacked == set()
    batch.close()


@pytest.mark.parametrize("value", [0, -1, 1.5, "10", True])
def test_ack_batch_must_be_a_positive_int(value: object) -> None:
    with pytest.raises(ConfigurationError, match="ack_batch must be a positive int"):
        check_ack_batch(value)


def test_ack_batch_none_and_positive_ints_are_accepted() -> None:
    assert check_ack_batch(None) is None
    assert check_ack_batch(50) == 50
