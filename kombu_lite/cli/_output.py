"""What the command line writes: human lines or JSON lines, and a progress bar.

Every command reports through an :class:`Output`.  By default it writes
sentences for people; with ``--json`` it writes one JSON object per line
(JSON Lines), so ``consume --json | jq`` works while messages stream in.
Errors never go through here: ``main()`` writes them to stderr.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import TextIO

__all__ = ["Console", "Output", "Progress", "to_json"]


def _jsonable(value: object) -> object:
    # AMQP tables and properties can hold what JSON has no type for.
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    return repr(value)


def to_json(data: Mapping[str, object]) -> str:
    """Encode ``data`` as one line of JSON; bytes become base64, the rest text."""
    return json.dumps(dict(data), default=_jsonable, ensure_ascii=False)


class Output:
    """Writes a command's results to stdout, as text or as JSON lines.

    Args:
        stdout: Where results go.
        json_mode: Write one JSON object per record instead of text.
    """

    def __init__(self, stdout: TextIO, *, json_mode: bool) -> None:
        self.stdout = stdout
        self.json_mode = json_mode
        #: Set by ``get --raw`` and ``consume --raw``: bodies only, no notes.
        self.raw_mode = False

    def record(self, text: str, data: Mapping[str, object]) -> None:
        """Report one result: ``text`` for people, ``data`` with ``--json``."""
        self._write(to_json(data) if self.json_mode else text)

    def note(self, text: str) -> None:
        """Report something only people need (not with ``--json`` or ``--raw``)."""
        if not self.json_mode and not self.raw_mode:
            self._write(text)

    def raw(self, body: bytes) -> None:
        """Write ``body`` as it is (``--raw``), with nothing before or after it."""
        buffer = getattr(self.stdout, "buffer", None)
        if buffer is None:  # a text-only stream: keep every byte all the same
            self.stdout.write(body.decode("utf-8", "surrogateescape"))
        else:
            self.stdout.flush()
            buffer.write(body)
            buffer.flush()
        self.stdout.flush()

    def _write(self, line: str) -> None:
        self.stdout.write(line + "\n")
        # Flushed per line: a consumer's output must reach a pipe as it
        # happens, not when a buffer fills.
        self.stdout.flush()


@dataclass(frozen=True, slots=True)
class Console:
    """What a command talks to: its results, its input, its terminal.

    Attributes:
        out: Where results go (stdout, as text or JSON lines).
        stdin: Where ``publish`` reads a body that is not given as an argument.
        stderr: Where progress bars go.
        url: The broker URL the command connects to.
    """

    out: Output
    stdin: TextIO
    stderr: TextIO
    url: str


class Progress:
    """A one-line progress bar with rate and ETA, drawn only on a terminal.

    Redraws at most ten times a second, so publishing a million messages
    does not spend its time drawing::

        publishing [#########---------------------] 15000/50000  30%  12,345/s  ETA 0:03

    Args:
        stream: Where to draw (stderr, so stdout stays clean for scripts).
        total: The number of steps.
        label: What is being counted, shown before the bar.
        clock: Monotonic seconds (injectable for tests).
    """

    _WIDTH = 30
    _INTERVAL = 0.1

    def __init__(
        self,
        stream: TextIO,
        total: int,
        label: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.total = total
        self.label = label
        self._clock = clock
        isatty = getattr(stream, "isatty", None)
        self.enabled = bool(total > 1 and callable(isatty) and isatty())
        self._started_at = clock()
        self._drawn_at: float | None = None

    def update(self, done: int) -> None:
        """Show that ``done`` of ``total`` steps are complete."""
        if not self.enabled:
            return
        now = self._clock()
        if (
            done < self.total
            and self._drawn_at is not None
            and now - self._drawn_at < self._INTERVAL
        ):
            return
        self._drawn_at = now
        filled = self._WIDTH * done // self.total
        bar = "#" * filled + "-" * (self._WIDTH - filled)
        width = len(str(self.total))
        speed = self._speed(done, now - self._started_at)
        self.stream.write(
            f"\r{self.label} [{bar}] {done:>{width}}/{self.total}"
            f" {100 * done // self.total:3d}%{speed}"
        )
        self.stream.flush()

    def _speed(self, done: int, elapsed: float) -> str:
        if done <= 0 or elapsed <= 0:
            return "  ETA --:--"
        rate = done / elapsed
        left = round((self.total - done) / rate)
        minutes, secs = divmod(left, 60)
        hours, minutes = divmod(minutes, 60)
        eta = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
        # Trailing spaces wipe what a longer previous line left behind.
        return f"  {rate:,.0f}/s  ETA {eta}  "

    def close(self) -> None:
        """End the bar's line (it stays on screen)."""
        if self.enabled and self._drawn_at is not None:
            self.stream.write("\n")
            self.stream.flush()
