"""How the command line reports failures: one line, no traceback, no password."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from kombu_lite.connection.url import parse_url, split_failover
from kombu_lite.exceptions import KombuError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "CommandError",
    "RedactingFormatter",
    "UsageError",
    "error_line",
    "passwords_in",
    "redact",
]

#: ``scheme://user:password@`` inside any text: the password part is masked.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s@]*@")
#: Shorter passwords are not searched for in texts: masking every "abc"
#: would garble messages more than it protects.
_MIN_SEARCHED = 4


class UsageError(Exception):
    """The command line was given something it cannot use; exit status 2."""


class CommandError(Exception):
    """The command ran but did not do its job; exit status 1."""


def passwords_in(url: str) -> frozenset[str]:
    """Return the passwords written in ``url`` (a failover list too)."""
    found: set[str] = set()
    for part in split_failover(url):
        try:
            password = parse_url(part).password
        except KombuError:
            continue  # the connection reports a bad URL itself, masked
        if password:
            found.add(password)
    return frozenset(found)


def redact(text: str, passwords: Iterable[str] = ()) -> str:
    """Mask URL passwords in ``text``, and every occurrence of ``passwords``.

    The library already masks passwords in its own messages; this is the
    last line of defence for texts that come from elsewhere (the OS, a
    TLS library).
    """
    text = _URL_PASSWORD.sub(r"\1**@", text)
    for password in passwords:
        if len(password) >= _MIN_SEARCHED:
            text = text.replace(password, "**")
    return text


def error_line(exc: BaseException) -> str:
    """Describe ``exc`` in one line, with the class name for library errors.

    Notes added with :meth:`BaseException.add_note` (how far a command got)
    are appended.
    """
    text = str(exc)
    if isinstance(exc, KombuError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    elif isinstance(exc, OSError | TimeoutError) and not text:
        text = type(exc).__name__
    notes = getattr(exc, "__notes__", ())
    if notes:
        text = "; ".join([text, *notes])
    return " ".join(text.split())


class RedactingFormatter(logging.Formatter):
    """A log formatter that masks passwords in every formatted line."""

    def __init__(self, fmt: str, passwords: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self._passwords = tuple(passwords)

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record``, then mask passwords in the result."""
        return redact(super().format(record), self._passwords)
