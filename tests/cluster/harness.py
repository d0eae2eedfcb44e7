"""Helpers of the cluster tests: queues, load threads, node stops, figures."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from kombu_lite import Connection, Consumer, Exchange, Message, Queue
from kombu_lite.exceptions import KombuError

from .nodes import PrivateNode

Record = Callable[[str, object], None]


def failover_url(nodes: list[PrivateNode]) -> str:
    """The nodes' URLs as one ``;``-separated failover list, in order."""
    return ";".join(node.url for node in nodes)


def quorum_queue(name: str, **arguments: object) -> Queue:
    """A durable quorum queue on the default exchange (routing key = name)."""
    return Queue(
        name,
        Exchange(""),
        routing_key=name,
        queue_arguments={"x-queue-type": "quorum", **arguments},
    )


def delete_queues(nodes: list[PrivateNode], names: list[str]) -> None:
    """Delete queues ``names`` through the first node that answers."""
    for node in nodes:
        try:
            with Connection(node.url, connect_timeout=5) as conn:
                for name in names:
                    Queue(name).delete(channel=conn.default_channel)
            return
        except KombuError:
            continue


def leader_of(node: PrivateNode, name: str) -> str:
    """The name of the node leading quorum queue ``name``, as ``node`` sees it."""
    for line in node.ctl("list_queues", "--silent", "name", "leader").splitlines():
        queue, _, leader = line.partition("\t")
        if queue == name:
            return leader.strip()
    raise AssertionError(f"queue {name!r} is not listed on {node.name}")


def take_all(node: PrivateNode, name: str, accept: list[str]) -> list[Message]:
    """Every message of queue ``name``, consumed (no_ack) through ``node``.

    Stops when the queue's count at the start has arrived and nothing more
    came for half a second.
    """
    taken: list[Message] = []
    with Connection(node.url, heartbeat=0) as conn:
        _, expected, _ = Queue(name).queue_declare(
            passive=True, channel=conn.default_channel
        )
        # A bare name: the queue exists, the consumer does not declare it.
        with Consumer(
            conn, [name], no_ack=True, on_message=taken.append, accept=accept
        ):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=0.5)
                except TimeoutError:
                    if len(taken) >= expected:
                        break
    return taken


@dataclass
class Progress:
    """What a load thread got done, and when; the main thread waits on it.

    ``resume_seconds`` is the time from the stop until the first success
    after the first failure the stop caused (None when the load never
    noticed the stop).
    """

    done: int = 0
    stop_at: float | None = None
    first_failure: float | None = None
    resumed_at: float | None = None
    errors: list[BaseException] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def succeeded(self, count: int = 1) -> None:
        with self._cond:
            self.done += count
            if self.resumed_at is None and self.first_failure is not None:
                self.resumed_at = time.monotonic()
            self._cond.notify_all()

    def failed(self) -> None:
        with self._cond:
            if self.first_failure is None and self.stop_at is not None:
                self.first_failure = time.monotonic()

    def stopping(self) -> None:
        with self._cond:
            self.stop_at = time.monotonic()

    def wait_for(self, count: int, timeout: float) -> int:
        """Wait until ``count`` are done (or the load died); return the count."""
        with self._cond:
            self._cond.wait_for(
                lambda: self.done >= count or bool(self.errors), timeout
            )
            return self.done

    def crashed(self, exc: BaseException) -> None:
        with self._cond:
            self.errors.append(exc)
            self._cond.notify_all()

    @property
    def resume_seconds(self) -> float | None:
        if self.stop_at is None or self.resumed_at is None:
            return None
        return round(self.resumed_at - self.stop_at, 3)


@contextlib.contextmanager
def load_thread(
    work: Callable[[Progress, threading.Event], None], name: str
) -> Iterator[tuple[Progress, threading.Event]]:
    """Run ``work(progress, finish)`` in a thread for the ``with`` block.

    On the way out ``finish`` is set and the thread joined (bounded); an
    error the thread raised is raised here.
    """
    progress = Progress()
    finish = threading.Event()

    def run() -> None:
        try:
            work(progress, finish)
        except BaseException as exc:  # noqa: BLE001 - raised by the main thread
            progress.crashed(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        yield progress, finish
    finally:
        finish.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), f"the {name} thread did not finish"
    if progress.errors:
        raise progress.errors[0]


def stop_under_load(
    node: PrivateNode,
    progress: Progress,
    before: int,
    during: int,
    after: int,
    total: int | None = None,
) -> None:
    """Stop ``node`` once the load did ``before``; start it after ``during`` more.

    Then wait for ``after`` more with the node back.  A load of ``total``
    items in all is not waited for beyond it.  Each wait is bounded (15 s):
    a load that stalls fails the test's own count, not a hang.
    """

    def wait_for(count: int) -> None:
        progress.wait_for(count if total is None else min(count, total), 15)

    wait_for(before)
    progress.stopping()
    with node.stopped():
        wait_for(progress.done + during)
    wait_for(progress.done + after)


def report(record: Record, **figures: object) -> None:
    """Record ``report:NAME`` properties (printed in the run's summary)."""
    for name, value in figures.items():
        record(f"report:{name}", value)
