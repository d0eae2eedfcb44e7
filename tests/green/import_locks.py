"""Which locks, events, thread-locals and threads importing kombu_lite makes.

Run in a process of its own by ``test_green_threads.py``.  Every
synchronisation factory of :mod:`threading` (and :mod:`_thread`) is wrapped
before any kombu_lite module is imported; then every module is imported,
and each object made by kombu_lite code (directly, or through a helper of
:mod:`threading` or :mod:`queue`) is reported as
``module:line`` (one JSON list on the last line of stdout).

An object made at import is made before eventlet or gevent can patch
:mod:`threading` in a program that imports kombu_lite first (as kombu's
own ``simple_eventlet_send.py`` does): a real OS lock, which blocks the
whole hub when a green thread waits on it.
"""

from __future__ import annotations

import _thread
import importlib
import json
import pkgutil
import sys
import threading
from collections.abc import Callable
from typing import Any

# kombu_lite's dependencies first: their own import-time objects are theirs.
import amqp  # noqa: F401
import vine  # noqa: F401

made: set[str] = set()
#: Modules that make locks for their caller (a Condition makes an RLock).
_PASS = frozenset({"threading", "_thread", "queue"})


def _counting(factory: Callable[..., Any]) -> Callable[..., Any]:
    def make(*args: Any, **kwargs: Any) -> Any:
        # The nearest caller outside threading's own helpers made it.
        frame = sys._getframe(1)
        while frame is not None and frame.f_globals.get("__name__") in _PASS:
            frame = frame.f_back
        if frame is not None:
            module = frame.f_globals.get("__name__", "")
            if module == "kombu_lite" or module.startswith("kombu_lite."):
                made.add(f"{module}:{frame.f_lineno}")
        return factory(*args, **kwargs)

    return make


_NAMES = (
    "Lock",
    "RLock",
    "Condition",
    "Event",
    "Semaphore",
    "BoundedSemaphore",
    "Barrier",
    "local",
    "Thread",
    "Timer",
)


def main() -> None:
    for name in _NAMES:
        setattr(threading, name, _counting(getattr(threading, name)))
    _thread.allocate_lock = _counting(_thread.allocate_lock)  # type: ignore[assignment]
    threading._allocate_lock = _thread.allocate_lock  # type: ignore[attr-defined]
    package = importlib.import_module("kombu_lite")
    for info in pkgutil.walk_packages(package.__path__, "kombu_lite."):
        if info.name.rsplit(".", 1)[-1] != "__main__":
            importlib.import_module(info.name)
    sys.stdout.write(json.dumps(sorted(made)) + "\n")


if __name__ == "__main__":
    main()
