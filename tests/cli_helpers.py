"""Helpers for the command-line tests: in-process runs, subprocess runs, a pty.

``run`` calls :func:`kombu_lite.cli.main` in this process (``memory://``
cases that need the broker's state before or after), ``cli_run`` runs
``python -m kombu_lite`` with this worktree first on ``PYTHONPATH``, and
``interrupt_when_drawing`` runs a publish with its stderr on a
pseudo-terminal, so the progress bar is drawn, and sends SIGINT once it
is.
"""

from __future__ import annotations

import io
import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kombu_lite.cli import main

ROOT = Path(__file__).resolve().parent.parent
MEMORY = ["--url", "memory://"]


@dataclass
class Result:
    code: int
    out: str
    err: str


def run(*argv: str, stdin: io.TextIOBase | None = None) -> Result:
    """``main(argv)`` in this process, its output captured."""
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(
        list(argv),
        stdin=stdin if stdin is not None else io.StringIO(""),  # type: ignore[arg-type]
        stdout=stdout,
        stderr=stderr,
    )
    return Result(code, stdout.getvalue(), stderr.getvalue())


def run_bytes(*argv: str) -> tuple[int, bytes]:
    """``main(argv)`` with a binary stdout underneath (for ``--raw``)."""
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    code = main(list(argv), stdin=io.StringIO(""), stdout=stdout, stderr=io.StringIO())
    stdout.flush()
    return code, raw.getvalue()


def in_thread(*argv: str) -> tuple[threading.Thread, Callable[[], Result]]:
    """Start ``main(argv)`` in a thread; the callable joins it for the result."""
    box: list[Result] = []
    thread = threading.Thread(target=lambda: box.append(run(*argv)), daemon=True)
    thread.start()

    def result() -> Result:
        thread.join(30)
        assert box, "the command did not end"
        return box[0]

    return thread, result


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KOMBU_LITE_URL"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return env


def cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "kombu_lite", *argv]


def cli_run(
    *argv: str, stdin: bytes | str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m kombu_lite`` and wait for it (text output)."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    done = subprocess.run(
        cli(*argv), input=data, capture_output=True, timeout=60, check=False,
        env=environment(),
    )  # fmt: skip
    return subprocess.CompletedProcess(
        done.args,
        done.returncode,
        done.stdout.decode("utf-8", "surrogateescape"),
        done.stderr.decode("utf-8", "surrogateescape"),
    )


def cli_start(*argv: str) -> subprocess.Popen[str]:
    """Start ``python -m kombu_lite`` in the background."""
    return subprocess.Popen(
        cli(*argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def interrupt_when_drawing(*argv: str) -> tuple[int, str, str]:
    """Run a command with stderr on a pty; SIGINT once its progress bar shows.

    Returns the exit status, stdout, and everything written to the pty.
    """
    master, slave = pty.openpty()
    process = subprocess.Popen(
        cli(*argv), stdout=subprocess.PIPE, stderr=slave, env=environment()
    )
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"publishing [" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 4096)
        process.send_signal(signal.SIGINT)
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            seen += chunk
        out, _ = process.communicate(timeout=30)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, out.decode(), seen.decode("utf-8", "replace")
