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
``purge``
    Drop the ready messages of a queue.

Every command but ``demo`` connects to ``--url``, else the
``KOMBU_LITE_URL`` environment variable, else
``amqp://guest:guest@localhost:5672//``.  Output is text for people, or
one JSON object per line with ``--json``.  A failure is one line on stderr
and a non-zero exit status (1; 2 for a usage error; 130 when interrupted),
never a traceback and never a password.  ``-v`` shows the library's debug
log on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from typing import TYPE_CHECKING

from kombu_lite._version import __version__
from kombu_lite.cli import _admin, _publish, _receive
from kombu_lite.cli._args import CliParser
from kombu_lite.cli._demo import run_demo
from kombu_lite.cli._errors import (
    CommandError,
    RedactingFormatter,
    UsageError,
    error_line,
    passwords_in,
    redact,
)
from kombu_lite.cli._output import Console, Output
from kombu_lite.exceptions import KombuError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import TextIO

__all__ = ["DEFAULT_URL", "URL_ENVIRONMENT_VARIABLE", "main", "run_demo"]

#: The broker the commands use when neither ``--url`` nor the environment
#: names one: a local RabbitMQ with its default account.
DEFAULT_URL = "amqp://guest:guest@localhost:5672//"
#: The environment variable read when ``--url`` is not given.
URL_ENVIRONMENT_VARIABLE = "KOMBU_LITE_URL"

_PROG = "kombu-lite"
_DEMO_URL_VARIABLE = "KOMBU_LITE_DEMO_URL"
_EXIT_INTERRUPTED = 130

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
    _receive.add_consume_arguments(consume)
    consume.set_defaults(run=_receive.consume)

    declare = command("declare", "declare an exchange or a queue", parents=parents)
    _admin.add_declare_arguments(declare, parents)
    delete = command("delete", "delete an exchange or a queue", parents=parents)
    _admin.add_delete_arguments(delete, parents)

    purge = command("purge", "drop the ready messages of a queue", parents=parents)
    _admin.add_purge_arguments(purge)
    purge.set_defaults(run=_admin.purge)
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
    """Run the command line and return its exit status.

    Never raises (``SystemExit`` included): a failure is reported as one
    line on ``stderr``.  The streams default to the process's own.
    """
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    parser = build_parser()
    # argparse writes --help, --version and usage errors to sys.stdout and
    # sys.stderr, looked up when it writes.
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 2
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
    try:
        with _debug_log(stderr, passwords, enabled=getattr(args, "verbose", False)):
            args.run(args, console)
    except UsageError as exc:
        return _fail(stderr, prefix, exc, passwords, status=2)
    except BrokenPipeError:
        # The reader went away (``consume | head``): nothing left to say.
        _detach(stdout)
        return 1
    except (KombuError, CommandError, OSError) as exc:
        return _fail(stderr, prefix, exc, passwords)
    except KeyboardInterrupt:
        stderr.write(f"{prefix}: interrupted\n")
        return _EXIT_INTERRUPTED
    except Exception as exc:  # the one-line promise covers bugs too
        logger.debug("unexpected error in %s", prefix, exc_info=True)
        return _fail(stderr, f"{prefix}: internal", exc, passwords, with_type=True)
    return 0


def _fail(
    stderr: TextIO,
    prefix: str,
    exc: BaseException,
    passwords: frozenset[str],
    *,
    status: int = 1,
    with_type: bool = False,
) -> int:
    text = error_line(exc)
    if with_type:
        text = f"{type(exc).__name__}: {text}"
    stderr.write(redact(f"{prefix}: error: {text}", passwords) + "\n")
    stderr.flush()
    return status


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
