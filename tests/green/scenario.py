"""One green-thread scenario, run in a process of its own; prints a JSON result.

Started by ``test_green_threads.py`` with ``sys.executable``: monkey
patching must happen before anything imports :mod:`socket` or
:mod:`threading`, and must not leak into the test session.  Usage::

    python scenario.py HUB ORDER SCENARIO URL QUEUE

``HUB`` is ``eventlet`` or ``gevent``.  ``ORDER`` is ``patch-first``
(patch, then import kombu_lite) or ``import-first`` (kombu_lite imported
before patching, as kombu's ``examples/simple_eventlet_send.py`` does).
``SCENARIO`` is one of :data:`SCENARIOS`.  The last line of stdout is the
JSON result; every scenario has its own deadline, so nothing hangs.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

# The hubs' own deprecation warnings (eventlet's, dnspython's) are not ours.
warnings.simplefilter("ignore")

THREADS = 10
#: Each scenario gives up after this many seconds (the parent's subprocess
#: timeout is longer, so a result is still printed).
DEADLINE = 20.0


class Hub:
    """spawn / join / sleep of eventlet or gevent, after patching."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name == "eventlet":
            import eventlet

            eventlet.monkey_patch()
            self._spawn: Callable[..., Any] = eventlet.spawn
        else:
            from gevent import monkey

            monkey.patch_all()
            import gevent

            self._spawn = gevent.spawn

    def spawn(self, fn: Callable[..., None], *args: object) -> Any:
        return self._spawn(fn, *args)

    def join(self, threads: list[Any]) -> None:
        if self.name == "eventlet":
            for thread in threads:
                thread.wait()
        else:
            import gevent

            gevent.joinall(threads, timeout=DEADLINE, raise_error=False)


def _error() -> str:
    return traceback.format_exc().strip().splitlines()[-1]


def _drain(queue: Any, expected: int) -> list[str]:
    """Every message id on ``queue``: ``expected`` of them, then any extra."""
    from kombu_lite.simple import Empty

    got: list[str] = []
    deadline = time.monotonic() + DEADLINE
    while len(got) < expected and time.monotonic() < deadline:
        try:
            message = queue.get(timeout=1.0)
        except Empty:
            continue
        got.append(message.payload["id"])
        message.ack()
    while True:  # a duplicate would come now
        try:
            message = queue.get(timeout=0.5)
        except Empty:
            return got
        got.append(message.payload["id"])
        message.ack()


def publishers(hub: Hub, url: str, name: str) -> dict[str, Any]:
    """kombu's simple_eventlet_send.py, several rounds: ten green publishers.

    Each round opens a connection and a SimpleQueue, and ten green threads
    each ``put`` one message through that one queue at the same time.
    """
    from kombu_lite import Connection

    rounds = 10
    errors: list[str] = []
    succeeded = 0

    for round_no in range(rounds):
        conn = Connection(url)
        queue = conn.SimpleQueue(name)

        def send(i: int, queue: Any = queue, round_no: int = round_no) -> None:
            nonlocal succeeded
            try:
                queue.put({"id": f"{round_no}-{i}"})
            except Exception:  # noqa: BLE001 - reported to the parent
                errors.append(_error())
            else:
                succeeded += 1

        hub.join([hub.spawn(send, i) for i in range(THREADS)])
        queue.close()
        conn.close()

    with Connection(url) as conn:
        queue = conn.SimpleQueue(name)
        got = _drain(queue, rounds * THREADS)
        queue.close()
    return {
        "publishers": rounds * THREADS,
        "succeeded": succeeded,
        "errors": errors,
        "expected": sorted(f"{r}-{i}" for r in range(rounds) for i in range(THREADS)),
        "received": sorted(got),
    }


def consumer(hub: Hub, url: str, name: str) -> dict[str, Any]:
    """One green thread consumes while ten others publish, on one connection."""
    from kombu_lite import Connection
    from kombu_lite.simple import Empty

    per_thread = 20
    expected = THREADS * per_thread
    errors: list[str] = []
    got: list[str] = []
    state = {"publishing": True, "while_publishing": 0, "succeeded": 0}

    conn = Connection(url)
    queue = conn.SimpleQueue(name)

    def consume() -> None:
        deadline = time.monotonic() + DEADLINE
        try:
            while len(got) < expected and time.monotonic() < deadline:
                try:
                    message = queue.get(timeout=1.0)
                except Empty:
                    continue
                got.append(message.payload["id"])
                if state["publishing"]:
                    state["while_publishing"] += 1
                message.ack()
        except Exception:  # noqa: BLE001 - reported to the parent
            errors.append(_error())

    def publish(i: int) -> None:
        try:
            for n in range(per_thread):
                queue.put({"id": f"{i}-{n}"})
                time.sleep(0.001)  # green: let the others run
        except Exception:  # noqa: BLE001 - reported to the parent
            errors.append(_error())
        else:
            state["succeeded"] += 1

    reader = hub.spawn(consume)
    time.sleep(0.05)  # the consumer waits first
    hub.join([hub.spawn(publish, i) for i in range(THREADS)])
    state["publishing"] = False
    hub.join([reader])
    extra = _drain(queue, 0)
    queue.close()
    conn.close()
    return {
        "publishers": THREADS,
        "succeeded": state["succeeded"],
        "errors": errors,
        "expected": sorted(
            f"{i}-{n}" for i in range(THREADS) for n in range(per_thread)
        ),
        "received": sorted(got + extra),
        "received_while_publishing": state["while_publishing"],
    }


def heartbeat(hub: Hub, url: str, name: str) -> dict[str, Any]:
    """A consumer idles past two heartbeat intervals; the connection lives on.

    The heartbeat thread (a green thread once ``threading`` is patched)
    checks the socket while the consumer's green thread waits on it.
    """
    import threading

    from kombu_lite import Connection
    from kombu_lite.simple import Empty

    thread_errors: list[str] = []

    def hook(args: threading.ExceptHookArgs) -> None:
        thread_errors.append(f"{args.exc_type.__name__}: {args.exc_value}")

    threading.excepthook = hook
    errors: list[str] = []
    got: list[str] = []
    conn = Connection(url, heartbeat=1)
    queue = conn.SimpleQueue(name)

    def idle_then_consume() -> None:
        try:
            with contextlib.suppress(Empty):
                queue.get(timeout=3.5)
            queue.put({"id": "after-idle"})
            got.append(queue.get(timeout=5).payload["id"])
        except Exception:  # noqa: BLE001 - reported to the parent
            errors.append(_error())

    hub.join([hub.spawn(idle_then_consume)])
    alive = conn.connected
    queue.close()
    conn.close()
    return {
        "errors": errors,
        "thread_errors": thread_errors,
        "received": got,
        "alive": alive,
    }


def silent_peer(hub: Hub, url: str, name: str) -> dict[str, Any]:
    """A consumer waits on a peer that never sends: the heartbeat finds it dead.

    ``url`` is a scripted peer's that stays silent (no heartbeats).  While
    the consumer's green thread waits on the socket, the heartbeat looks
    at it every half interval, and after two intervals shuts it down, so
    the wait ends with ConnectionLost instead of running to its timeout.
    """
    import threading

    from kombu_lite import Connection

    del name
    thread_errors: list[str] = []

    def hook(args: threading.ExceptHookArgs) -> None:
        thread_errors.append(f"{args.exc_type.__name__}: {args.exc_value}")

    threading.excepthook = hook
    outcome: list[str] = []
    conn = Connection(url, heartbeat=1)
    conn.connect()
    started = time.monotonic()

    def wait() -> None:
        try:
            conn.drain_events(timeout=8)
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            outcome.append(type(exc).__name__)
        else:
            outcome.append("returned")

    hub.join([hub.spawn(wait)])
    seconds = time.monotonic() - started
    conn.close()
    return {"outcome": outcome, "seconds": seconds, "thread_errors": thread_errors}


SCENARIOS: dict[str, Callable[[Hub, str, str], dict[str, Any]]] = {
    "publishers": publishers,
    "consumer": consumer,
    "heartbeat": heartbeat,
    "silent-peer": silent_peer,
}


def main(argv: list[str]) -> None:
    hub_name, order, scenario, url, name = argv
    if order == "import-first":
        # Before patching, on purpose: kombu's example does it.
        pass
    hub = Hub(hub_name)
    result = SCENARIOS[scenario](hub, url, name)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
