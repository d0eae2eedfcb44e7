"""The ``kombu-lite`` command line (also ``python -m kombu_lite``).

Commands:

``demo``
    Walk the producers guide on ``memory://`` (or ``--url``) and print
    what was published and read back.
``publish``
    Send a message (from an argument or stdin), optionally many times.
``get`` / ``consume``
    Print the messages of a queue: what is ready now, or as they arrive.
``declare`` / ``delete``
    Make or remove an exchange or a queue.
``bind`` / ``unbind``
    Add or remove a binding to a queue or an exchange.
``purge``
    Drop the ready messages of a queue.
``check``
    A health check: connect, open a channel, check queues.

Every command but ``demo`` connects to ``--url``, else the
``KOMBU_LITE_URL`` environment variable, else
``amqp://guest:guest@localhost:5672//``.  Output is text for people, or
one JSON object per line with ``--json``.  A failure is one line on stderr
(a JSON object with ``--json``) and a non-zero exit status (see
:class:`ExitStatus`), never a traceback and never a password.  ``-v``
shows the library's debug log on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
from typing import TYPE_CHECKING

from kombu_lite._version import __version__
from kombu_lite.cli import _admin, _bind, _consume, _publish, _receive
from kombu_lite.cli._args import CliParser
from kombu_lite.cli._demo import run_demo
from kombu_lite.cli._errors import (
    CommandError,
    ExitStatus,
    RedactingFormatter,
    UsageError,
    error_line,
    error_record,
    passwords_in,
    redact,
)
from kombu_lite.cli._output import Console, Output, to_json
from kombu_lite.exceptions import KombuError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import TextIO

__all__ = [
    "DEFAULT_URL",
    "URL_ENVIRONMENT_VARIABLE",
    "ExitStatus",
    "main",
    "run_demo",
]

#: The broker the commands use when neither ``--url`` nor the environment
#: names one: a local RabbitMQ with its default account.
DEFAULT_URL = "amqp://guest:guest@localhost:5672//"
#: The environment variable read when ``--url`` is not given.
URL_ENVIRONMENT_VARIABLE = "KOMBU_LITE_URL"

_PROG = "kombu-lite"
_DEMO_URL_VARIABLE = "KOMBU_LITE_DEMO_URL"

logger = logging.getLogger(__name__)


def _common_options() -> argparse.ArgumentParser:
    # Accepted before the command, after it, and after ``declare`` or
    # ``delete``: a level where the option is not given leaves no default
    # behind (SUPPRESS), so it cannot hide a value given at another level.
    # main() fills in the defaults.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-u",
        "--url",
        default=argparse.SUPPRESS,
        help=f"broker URL (default: ${URL_ENVIRONMENT_VARIABLE}, else {DEFAULT_URL}; "
        "for demo: memory://)",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="write one JSON object per line instead of text",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the library's debug log on stderr",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``kombu-lite`` command."""
    parents = [_common_options()]
    parser: argparse.ArgumentParser = CliParser(
        prog=_PROG,
        description="kombu_lite's command line: publish, read and manage "
        "exchanges and queues on an AMQP 0-9-1 broker.",
        parents=parents,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str,
        help_text: str,
        parents: Sequence[argparse.ArgumentParser] = (),
    ) -> argparse.ArgumentParser:
        description = help_text[0].upper() + help_text[1:] + "."
        return commands.add_parser(
            name, help=help_text, description=description, parents=parents
        )

    demo = command("demo", "walk the producers guide and print what happens")
    demo.add_argument(
        "-u",
        "--url",
        default=argparse.SUPPRESS,
        help="broker URL (default: memory://, an in-process broker)",
    )
    demo.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the debug log on stderr",
    )
    demo.set_defaults(run=_demo)

    publish = command("publish", "publish a message", parents=parents)
    _publish.add_arguments(publish)
    publish.set_defaults(run=_publish.run)

    get = command("get", "print the messages waiting in a queue", parents=parents)
    _receive.add_get_arguments(get)
    get.set_defaults(run=_receive.get)

    consume = command("consume", "print messages as they arrive", parents=parents)
    _consume.add_consume_arguments(consume)
    consume.set_defaults(run=_consume.consume)

    declare = command("declare", "declare an exchange or a queue", parents=parents)
    _admin.add_declare_arguments(declare, parents)
    delete = command("delete", "delete an exchange or a queue", parents=parents)
    _admin.add_delete_arguments(delete, parents)

    bind = command(
        "bind", "bind a queue or an exchange to an exchange", parents=parents
    )
    _bind.add_bind_arguments(bind, parents, unbind=False)
    unbind = command("unbind", "remove a binding", parents=parents)
    _bind.add_bind_arguments(unbind, parents, unbind=True)

    purge = command("purge", "drop the ready messages of a queue", parents=parents)
    _admin.add_purge_arguments(purge)
    purge.set_defaults(run=_admin.purge)

    check = command(
        "check", "check the broker (and queues) for scripts and probes", parents=parents
    )
    _bind.add_check_arguments(check)
    check.set_defaults(run=_bind.check)
    return parser


def _demo(args: argparse.Namespace, console: Console) -> None:
    run_demo(console.url, say=console.out.note)


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line and return its exit status (an :class:`ExitStatus`).

    Never raises (``SystemExit`` included): a failure is reported as one
    line on ``stderr``, a JSON object with ``--json``.  The streams
    default to the process's own.
    """
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    words = list(sys.argv[1:] if argv is None else argv)
    # Known before parsing, so a usage error is JSON too.
    json_asked = (
        "--json" in words[: words.index("--")] if "--" in words else ("--json" in words)
    )
    parser = build_parser()
    # argparse writes --help, --version and usage errors to sys.stdout and
    # sys.stderr, looked up when it writes.
    captured = io.StringIO()
    usage: TextIO = captured if json_asked else stderr
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(usage):
        try:
            args = parser.parse_args(words)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 2
            if json_asked:
                _usage_as_json(captured.getvalue(), stderr, status)
            return status
    stderr.write(captured.getvalue())  # warnings, when captured
    url: str | None = getattr(args, "url", None)
    if args.command == "demo":
        url = url or os.environ.get(_DEMO_URL_VARIABLE) or "memory://"
        json_mode = False  # the demo's output is for reading
    else:
        url = url or os.environ.get(URL_ENVIRONMENT_VARIABLE) or DEFAULT_URL
        json_mode = getattr(args, "json", False)
    passwords = passwords_in(url)
    console = Console(Output(stdout, json_mode=json_mode), stdin, stderr, url)
    prefix = f"{_PROG} {args.command}"
    report = _Report(stderr, prefix, passwords, json_mode)
    try:
        with _debug_log(stderr, passwords, enabled=getattr(args, "verbose", False)):
            status = args.run(args, console)
    except UsageError as exc:
        return report(exc, ExitStatus.USAGE)
    except CommandError as exc:
        return report(exc, exc.status)
    except BrokenPipeError:
        # The reader went away (``consume | head``): nothing left to say.
        _detach(stdout)
        return ExitStatus.FAILED
    except (KombuError, OSError) as exc:
        return report(exc, ExitStatus.FAILED)
    except KeyboardInterrupt as exc:
        return report(exc, ExitStatus.INTERRUPTED)
    except Exception as exc:  # the one-line promise covers bugs too
        logger.debug("unexpected error in %s", prefix, exc_info=True)
        return report(exc, ExitStatus.FAILED, internal=True)
    return int(status) if status is not None else ExitStatus.OK


class _Report:
    """Writes a failure as one line (or one JSON object) on stderr."""

    def __init__(
        self, stderr: TextIO, prefix: str, passwords: frozenset[str], json_mode: bool
    ) -> None:
        self.stderr = stderr
        self.prefix = prefix
        self.passwords = passwords
        self.json_mode = json_mode

    def __call__(
        self, exc: BaseException, status: ExitStatus, *, internal: bool = False
    ) -> int:
        text = redact(error_line(exc), self.passwords)
        if internal:
            text = f"{type(exc).__name__}: {text}"
        if self.json_mode:
            # The class is the record's "error" field already.
            message = text.removeprefix(f"{type(exc).__name__}: ")
            record = error_record(self.prefix.split()[-1], exc, message, int(status))
            if internal:
                record["internal"] = True
            line = redact(to_json(record), self.passwords)
        elif status is ExitStatus.INTERRUPTED:
            line = f"{self.prefix}: interrupted" + (f": {text}" if text else "")
        else:
            kind = "internal: error" if internal else "error"
            line = f"{self.prefix}: {kind}: {text}"
        self.stderr.write(line + "\n")
        self.stderr.flush()
        return int(status)


def _usage_as_json(text: str, stderr: TextIO, status: int) -> None:
    line = text.strip().splitlines()[-1] if text.strip() else ""
    prog, _, message = line.partition(": error: ")
    if not message:  # --help or --version: nothing to translate
        stderr.write(text)
        return
    command = prog.split()[1] if len(prog.split()) > 1 else _PROG
    stderr.write(
        to_json(
            {
                "command": command,
                "error": "UsageError",
                "message": message,
                "exit_status": status,
            }
        )
        + "\n"
    )
    stderr.flush()


def _detach(stdout: TextIO) -> None:
    # Point the descriptor at /dev/null so the interpreter's final flush
    # does not fail again on the closed pipe.
    with contextlib.suppress(AttributeError, OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())


@contextlib.contextmanager
def _debug_log(
    stderr: TextIO, passwords: frozenset[str], *, enabled: bool
) -> Iterator[None]:
    if not enabled:
        yield
        return
    package = logging.getLogger("kombu_lite")
    handler = logging.StreamHandler(stderr)
    handler.setFormatter(RedactingFormatter("debug: %(name)s: %(message)s", passwords))
    previous = package.level
    package.addHandler(handler)
    package.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(previous)
