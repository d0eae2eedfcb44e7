"""Blocked connections: what a Connection does when the broker blocks it.

RabbitMQ sends ``connection.blocked`` when it runs low on memory or disk,
then stops reading from publishing connections.  The transport notices
(see :mod:`kombu_lite.transport.pyamqp`) and holds publishes back; this
module reads the Connection's options for it and reports the block to
the log and to the application's callbacks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kombu_lite._log import get_logger
from kombu_lite.connection.params import UNSET, Unset, callback_option, seconds

__all__ = ["BlockedOptions", "report_blocked", "report_unblocked"]

# The public module's name: users configure ``kombu_lite.connection``.
logger = get_logger("kombu_lite.connection")

OnBlocked = Callable[[str], object]
OnUnblocked = Callable[[], object]


@dataclass(frozen=True, slots=True)
class BlockedOptions:
    """The callbacks and the publish timeout of a blocked connection."""

    on_blocked: OnBlocked | None
    on_unblocked: OnUnblocked | None
    #: Seconds a publish waits for the block to lift (None: no limit).
    timeout: float | None

    @classmethod
    def resolve(
        cls,
        transport_options: Mapping[str, object],
        on_blocked: OnBlocked | None,
        on_unblocked: OnUnblocked | None,
        timeout: float | Unset | None,
        default_timeout: float | None,
    ) -> BlockedOptions:
        """Merge the arguments with kombu-style transport options.

        An argument given wins over the transport option of the same name;
        ``default_timeout`` applies when neither gives a timeout.

        Raises:
            ConfigurationError: a callback that is not callable, or a
                timeout that is not a number of seconds > 0.
        """
        options = transport_options
        if on_blocked is None:
            on_blocked = callback_option(options, "on_blocked")
        if on_unblocked is None:
            on_unblocked = callback_option(options, "on_unblocked")
        wait = (
            options.get("blocked_connection_timeout", default_timeout)
            if timeout is UNSET
            else timeout
        )
        if wait is not None:
            wait = seconds("blocked_connection_timeout", wait)
        return cls(on_blocked, on_unblocked, wait)


def report_blocked(connection: object, callback: OnBlocked | None, reason: str) -> None:
    """Log that ``connection`` was blocked, then call ``callback(reason)``."""
    logger.warning("the broker blocked publishing on %s: %s", connection, reason)
    if callback is not None:
        callback(reason)


def report_unblocked(connection: object, callback: OnUnblocked | None) -> None:
    """Log that ``connection`` was unblocked, then call ``callback()``."""
    logger.info("the broker unblocked publishing on %s", connection)
    if callback is not None:
        callback()
