"""Each ``basic.return`` is reported for the message it returns.

RabbitMQ confirms out of order: a persistent message routed to a durable
queue is acked after its disk write, an unroutable one at once.  These
tests publish unique persistent ``mandatory`` messages while another
connection removes and restores the queue's binding, so some are routed
and some returned, then hold every reported outcome against what the
queue actually holds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import MessageReturned

from .conftest import RawMessage

Cleanup = Callable[[Exchange | Queue], None]
RawGet = Callable[[str], RawMessage | None]

#: Messages per test, and how many go out between two binding changes.
_MESSAGES = 3000
_TOGGLE_EVERY = 150
_THREADS = 2


class _Binding:
    """Removes and restores the queue's binding from another connection."""

    def __init__(self, url: str, queue: Queue) -> None:
        self._conn = Connection(url)
        self._queue = queue
        self.bound = True
        self._toggles = 0
        self._toggled = threading.Condition()

    def toggle(self) -> None:
        assert self._queue.exchange is not None
        if self.bound:
            self._queue.unbind_from(self._queue.exchange, "rk", channel=self._conn)
        else:
            self._queue.bind_to(self._queue.exchange, "rk", channel=self._conn)
        self.bound = not self.bound
        with self._toggled:
            self._toggles += 1
            self._toggled.notify_all()

    def wait_for_toggle(self) -> None:
        """Wait until the binding changes again (from another thread)."""
        with self._toggled:
            seen = self._toggles
            assert self._toggled.wait_for(lambda: self._toggles > seen, timeout=10)

    def close(self) -> None:
        self._conn.release()


@pytest.fixture
def queue(connection: Connection, unique: str, cleanup: Cleanup) -> Queue:
    declared = Queue(
        f"{unique}-q", Exchange(f"{unique}-x", type="direct"), routing_key="rk"
    )
    cleanup(declared)
    declared.declare(channel=connection.default_channel)
    return declared


@pytest.fixture
def binding(url: str, queue: Queue) -> Iterator[_Binding]:
    toggler = _Binding(url, queue)
    yield toggler
    toggler.close()


def _mismatches(
    delivered: set[bytes],
    returned: set[bytes],
    raw_get: RawGet,
    queue: Queue,
    record_property: Callable[[str, object], None],
) -> int:
    """Compare the outcomes with the queue's contents; record the figures."""
    held: set[bytes] = set()
    while (raw := raw_get(queue.name)) is not None:
        held.add(raw.body)
    delivered_missing = len(delivered - held)
    returned_held = len(returned & held)
    record_property("report:delivered", len(delivered))
    record_property("report:returned", len(returned))
    record_property("report:delivered_not_in_queue", delivered_missing)
    record_property("report:returned_but_in_queue", returned_held)
    # Both kinds must occur, or the test proved nothing.
    assert delivered
    assert returned
    assert held <= delivered | returned
    return delivered_missing + returned_held


def test_publish_many_reports_each_return_on_its_own_message(
    connection: Connection,
    queue: Queue,
    binding: _Binding,
    raw_get: RawGet,
    record_property: Callable[[str, object], None],
) -> None:
    producer = connection.Producer(exchange=queue.exchange, routing_key="rk")

    def bodies() -> Iterator[bytes]:
        for n in range(_MESSAGES):
            if n and n % _TOGGLE_EVERY == 0:
                binding.toggle()
            yield f"m{n}".encode()

    outcomes = producer.publish_many(bodies(), mandatory=True, serializer="raw")

    assert len(outcomes) == _MESSAGES
    delivered = {f"m{o.index}".encode() for o in outcomes if o.ok}
    returned = {
        f"m{o.index}".encode() for o in outcomes if isinstance(o.error, MessageReturned)
    }
    assert len(delivered) + len(returned) == _MESSAGES
    assert _mismatches(delivered, returned, raw_get, queue, record_property) == 0


def test_threads_sharing_a_producer_get_their_own_returns(
    url: str,
    queue: Queue,
    binding: _Binding,
    raw_get: RawGet,
    record_property: Callable[[str, object], None],
) -> None:
    delivered: set[bytes] = set()
    returned: set[bytes] = set()
    failures: list[BaseException] = []
    publishing = threading.Event()
    publishing.set()
    with Connection(url, confirm_publish=True) as conn:
        producer = conn.Producer(exchange=queue.exchange, routing_key="rk")

        def publish(thread: int) -> None:
            try:
                for n in range(_MESSAGES // _THREADS):
                    if n % _TOGGLE_EVERY == 0:
                        # Left alone, a thread may publish everything
                        # before the toggling thread gets to run.
                        binding.wait_for_toggle()
                    body = f"t{thread}-{n}".encode()
                    try:
                        producer.publish(body, mandatory=True, serializer="raw")
                    except MessageReturned:
                        returned.add(body)
                    else:
                        delivered.add(body)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                failures.append(exc)

        def toggle() -> None:
            # The binding changes while both threads have a message in
            # flight, so their messages' fates differ.
            try:
                while publishing.is_set():
                    binding.toggle()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                failures.append(exc)

        toggler = threading.Thread(target=toggle)
        threads = [
            threading.Thread(target=publish, args=(thread,))
            for thread in range(_THREADS)
        ]
        for thread in [*threads, toggler]:
            thread.start()
        for thread in threads:
            thread.join()
        publishing.clear()
        toggler.join()

    assert failures == []
    assert len(delivered) + len(returned) == _MESSAGES
    assert _mismatches(delivered, returned, raw_get, queue, record_property) == 0
