"""Argument parsing for the command line: the parser and its value types.

Every value is checked by argparse, before a connection is opened, so a
typo such as ``--count 0`` or ``--header novalue`` fails at once with one
line naming the option.
"""

from __future__ import annotations

import argparse
import json
from typing import NoReturn

__all__ = [
    "CliParser",
    "key_value",
    "non_negative_int",
    "positive_int",
    "seconds",
]


class CliParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr.

    argparse prints the whole usage block before the error; one line that
    names the problem and where to look is easier to read in a script's log.
    """

    def error(self, message: str) -> NoReturn:
        """Report a usage error in one line and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def positive_int(text: str) -> int:
    """Parse an int >= 1 (``--count``)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def non_negative_int(text: str) -> int:
    """Parse an int >= 0 (``--max-length``...)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def seconds(text: str) -> float:
    """Parse a number of seconds >= 0 (``--timeout``, ``--message-ttl``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds, not {text!r}"
        ) from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be 0 seconds or more, not {text}")
    return value


def key_value(text: str) -> tuple[str, object]:
    """Parse ``key=value`` (a string) or ``key:=json`` (a JSON value).

    ``--header retries:=3`` sends the integer 3, ``--header retries=3`` the
    string ``'3'`` (HTTPie's convention).
    """
    key, sep, value = text.partition("=")
    if not sep or not key or key == ":":
        raise argparse.ArgumentTypeError(
            f"expected key=value or key:=json, not {text!r}"
        )
    if not key.endswith(":"):
        return key, value
    try:
        return key[:-1], json.loads(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"the value of {key[:-1]!r} is not valid JSON ({exc})"
        ) from None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, not {text!r}"
        ) from None
