"""How the command line reports failures: one line, no traceback, no password."""

from __future__ import annotations

import enum
import logging
import re
from typing import TYPE_CHECKING

from kombu_lite.connection.url import parse_url, split_failover
from kombu_lite.exceptions import KombuError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "CommandError",
    "ExitStatus",
    "RedactingFormatter",
    "UsageError",
    "error_line",
    "error_record",
    "passwords_in",
    "redact",
]

#: ``scheme://user:password@`` inside any text: the password part is masked.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s@]*@")
#: Shorter passwords are not searched for in texts: masking every "abc"
#: would garble messages more than it protects.
_MIN_SEARCHED = 4


class ExitStatus(enum.IntEnum):
    """The exit statuses of ``kombu-lite``, one meaning each, for every command."""

    #: The command did what it said.
    OK = 0
    #: It failed: the connection, or the broker refused (an unknown exchange,
    #: a message not routed or not confirmed...).  One line on stderr says why.
    FAILED = 1
    #: The command line was wrong (an unknown option, a bad value); nothing ran.
    USAGE = 2
    #: ``get`` found the queue empty (amqp-get says 2; 2 is a usage error here).
    EMPTY = 3
    #: ``delete`` found no such queue or exchange (``--if-exists``: 0 instead).
    NOT_FOUND = 4
    #: Ctrl-C (SIGINT) stopped the command; what was done is reported.
    INTERRUPTED = 130


class UsageError(Exception):
    """The command line was given something it cannot use; exit status 2."""


class CommandError(Exception):
    """The command ran but did not do its job.

    Args:
        message: The one line that says what did not happen.
        status: The exit status (1 unless another one says more).
        details: Extra fields for the ``--json`` error record.
    """

    def __init__(
        self,
        message: str,
        *,
        status: ExitStatus = ExitStatus.FAILED,
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.details = dict(details or {})


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


def error_record(
    command: str, exc: BaseException, text: str, status: int
) -> dict[str, object]:
    """The ``--json`` form of a failure: what ``text`` says, as fields.

    ``error`` is the exception's class name (``NotFound``, ``UsageError``...),
    ``message`` the one line a person would read (passwords masked by the
    caller), ``reply_code`` the broker's AMQP code when it gave one.
    """
    record: dict[str, object] = {
        "command": command,
        "error": type(exc).__name__,
        "message": text,
        "exit_status": status,
    }
    code = getattr(exc, "reply_code", None)
    if isinstance(code, int):
        record["reply_code"] = code
    if isinstance(exc, CommandError):
        record.update(exc.details)
    return record


class RedactingFormatter(logging.Formatter):
    """A log formatter that masks passwords in every formatted line."""

    def __init__(self, fmt: str, passwords: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self._passwords = tuple(passwords)

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record``, then mask passwords in the result."""
        return redact(super().format(record), self._passwords)
