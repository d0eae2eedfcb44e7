"""kombu's exception classes that kombu_lite never raises.

They exist so that code written for kombu, which imports or catches them,
runs unchanged; each is a :class:`~kombu_lite.exceptions.KombuError`.
"""

from __future__ import annotations

from kombu_lite.exceptions import KombuError
from kombu_lite.exceptions._helpers import rebuild as _rebuild

__all__ = ["BatchPublishError", "HttpError", "VersionMismatch"]


class BatchPublishError(KombuError):
    """kombu's error for a batch publish with an uncertain outcome.

    kombu_lite has no ``Producer.batch`` and never raises it; it is here
    so that code catching it imports.
    """


class VersionMismatch(KombuError):
    """A library dependency has the wrong version (kombu's; never raised here)."""


class HttpError(KombuError):
    """kombu's HTTP client error (kombu_lite has no HTTP client; never raised).

    Unlike kombu's, a :class:`KombuError`, as every error here.
    """

    def __init__(
        self, code: int, message: str | None = None, response: object = None
    ) -> None:
        super().__init__(code, message, response)
        self.code = code
        self.message = message
        self.response = response

    def __str__(self) -> str:
        return f"HTTP {self.code}: {self.message}"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))
