"""py-amqp and socket errors to kombu_lite errors: the one table.

Every error the py-amqp adapter raises from a py-amqp or socket error is
chosen by :data:`_RULES`, in order, first match wins.  A rule applies in
some :class:`Phase` only: the same ``TimeoutError`` is a handshake that
took too long while connecting, a stalled write while publishing, and
"nothing yet" while reading.  Two ways in, one table:

* :func:`map_amqp_errors`, a context manager for a block of py-amqp calls;
* :func:`translate`, for code that holds an error (or builds one from a
  frame, as a ``channel.close`` from the broker) instead of catching it.

The kombu_lite error is always raised ``from`` the original, and its text
never holds a password: the rules only see an :class:`ErrorContext`, which
has none.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import ssl as _ssl
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from amqp import exceptions as amqp_errors

from kombu_lite.exceptions import (
    AccessRefused,
    ChannelError,
    ConnectionBlocked,
    ConnectionLost,
    NotAllowed,
    OperationalError,
    ProtocolError,
    channel_error_for_code,
    connection_error_for_code,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "Closable",
    "ErrorContext",
    "Phase",
    "map_amqp_errors",
    "translate",
]


class Phase(enum.Enum):
    """What the adapter was doing when the error came."""

    #: ``PyAmqpTransport.connect``: TCP, TLS and the AMQP handshake.
    CONNECT = "connect"
    #: A call on an open connection or channel.
    CALL = "call"
    #: Writing a publish's frames straight to the socket.
    WRITE = "write"
    #: One socket read of the frame reader (py-amqp's side of the errors).
    READ = "read"


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What an error text names: never a password."""

    where: str
    phase: Phase = Phase.CALL
    userid: str = ""
    virtual_host: str = ""
    connect_timeout: float | None = None
    tls: bool = False
    #: The broker's reason while it blocks publishing, else None.
    blocked_reason: str | None = None

    def during(self, phase: Phase, **changes: Any) -> ErrorContext:
        """The same context in another phase (with other fields changed)."""
        return replace(self, phase=phase, **changes)


class Closable(Protocol):
    """Something that can be told the broker closed it."""

    def mark_closed(self, reason: str) -> None: ...


#: Returns the error to raise ``from`` the original, or None for "raise the
#: original unchanged".
_Builder = Callable[[Any, ErrorContext], BaseException | None]

_CALLS = frozenset({Phase.CALL, Phase.WRITE})

#: Socket errors that mean "nothing to read now", not a broken connection.
_UNAVAILABLE = frozenset({errno.EAGAIN, errno.EINTR, errno.EWOULDBLOCK})


def _as_is(exc: Any, context: ErrorContext) -> None:
    del exc, context


# -- the connect path ------------------------------------------------------------


def _login_refused(exc: Any, context: ErrorContext) -> BaseException:
    return AccessRefused(
        f"login refused by {context.where} for user {context.userid!r}: check "
        f"the user name and password (or the login method)",
        reply_code=403,
        reply_text=str(exc.reply_text or ""),
    )


def _vhost_refused(exc: Any, context: ErrorContext) -> BaseException:
    return NotAllowed(
        f"{context.where} refused virtual host {context.virtual_host!r} "
        f"({exc.reply_text}): it does not exist or user {context.userid!r} "
        f"may not use it",
        reply_code=530,
        reply_text=str(exc.reply_text or ""),
    )


def _not_amqp(exc: Any, context: ErrorContext) -> BaseException:
    return ProtocolError(
        f"the peer at {context.where} is not an AMQP 0-9-1 server ({exc})"
    )


def _handshake_too_slow(exc: Any, context: ErrorContext) -> BaseException:
    del exc
    # connect_timeout bounds TCP connect, TLS and AMQP handshakes together.
    handshake = "TLS and AMQP handshakes" if context.tls else "AMQP handshake"
    return OperationalError(
        f"{context.where} did not complete the {handshake} within "
        f"{context.connect_timeout}s: is it an AMQP 0-9-1 server, and is it "
        f"overloaded?"
    )


#: OpenSSL's reasons when the peer answered a ClientHello with something
#: not TLS (RabbitMQ's plain listener sends its ``AMQP`` protocol header).
_NOT_TLS_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"}
)


def _tls_failed(exc: Any, context: ErrorContext) -> BaseException:
    hint = ""
    port = context.where.rpartition(":")[2]
    if getattr(exc, "reason", None) in _NOT_TLS_REASONS or port == "5672":
        hint = (
            f"; port {port} looks like plain AMQP (5672 is AMQP without TLS): "
            f"use amqp:// for it, or the broker's TLS port (5671 by default)"
        )
    return ProtocolError(f"TLS handshake with {context.where} failed: {exc}{hint}")


def _refused(exc: Any, context: ErrorContext) -> BaseException:
    del exc
    return OperationalError(
        f"connection refused by {context.where}: is the broker running?"
    )


def _connect_failed(exc: Any, context: ErrorContext) -> BaseException:
    if isinstance(exc, amqp_errors.AMQPError) or _looks_like_eof(exc):
        return ProtocolError(
            f"{context.where} closed the connection during the AMQP handshake: "
            f"it is not an AMQP 0-9-1 server, or it refused us ({exc})"
        )
    return OperationalError(f"cannot connect to {context.where}: {exc}")


def _looks_like_eof(exc: OSError) -> bool:
    if exc.errno == errno.EINVAL:
        # Linux refuses py-amqp's TCP setsockopt calls with EINVAL once the
        # peer has already reset the new connection (it accepted, then hung
        # up, as a non-AMQP server does).
        return True
    text = str(exc).lower()
    return "closed" in text or isinstance(exc, ConnectionResetError)


# -- reading frames ---------------------------------------------------------------


def _read_unavailable(exc: Any, context: ErrorContext) -> BaseException | None:
    del context
    # py-amqp takes a TimeoutError as "nothing arrived yet".
    return TimeoutError(str(exc)) if exc.errno in _UNAVAILABLE else None


# -- calls and writes --------------------------------------------------------------


def _write_stalled(exc: Any, context: ErrorContext) -> BaseException:
    # Part of a frame may have gone out: the connection is dropped (by the
    # caller), and the message may or may not have reached the broker.
    if context.blocked_reason is not None:
        return ConnectionBlocked(
            f"a write to {context.where} stalled while the broker blocks "
            f"publishing ({context.blocked_reason}): the connection was closed "
            f"and the message may or may not have arrived; not retried",
            reply_text=context.blocked_reason,
        )
    return ConnectionLost(
        f"a write to {context.where} stalled ({str(exc) or 'timed out'}): the "
        f"connection was closed and the message may or may not have arrived"
    )


def _channel_error(exc: Any, context: ErrorContext) -> ChannelError:
    del context
    code = int(exc.reply_code or 0)
    text = str(exc.reply_text or exc)
    method = str(exc.method_name or "") or None
    return channel_error_for_code(code)(
        f"{text} ({method or 'channel'} refused with {code})",
        reply_code=code,
        reply_text=text,
        method=method,
    )


def _connection_error(exc: Any, context: ErrorContext) -> BaseException:
    code = int(exc.reply_code or 0)
    text = str(exc.reply_text or exc)
    cls = connection_error_for_code(code) if code else ConnectionLost
    if cls is OperationalError:
        cls = ConnectionLost
    return cls(
        f"connection to {context.where} failed: {text}",
        reply_code=code or None,
        reply_text=text,
    )


def _lost(exc: Any, context: ErrorContext) -> BaseException:
    return ConnectionLost(f"connection to {context.where} was lost: {exc}")


#: (phases, error classes, builder): the first row whose phase and class
#: match decides.  Order matters where classes nest (TimeoutError is an
#: OSError, ConnectionRefusedError too).
_RULES: tuple[
    tuple[frozenset[Phase], tuple[type[BaseException], ...], _Builder], ...
] = (
    # The handshake: login, virtual host, a peer that speaks no AMQP.
    (frozenset({Phase.CONNECT}), (amqp_errors.AccessRefused,), _login_refused),
    (frozenset({Phase.CONNECT}), (amqp_errors.NotAllowed,), _vhost_refused),
    (
        frozenset({Phase.CONNECT}),
        (
            amqp_errors.UnexpectedFrame,
            amqp_errors.FrameSyntaxError,
            amqp_errors.FrameError,
            amqp_errors.InvalidCommand,
        ),
        _not_amqp,
    ),
    (frozenset({Phase.CONNECT}), (TimeoutError,), _handshake_too_slow),
    (frozenset({Phase.CONNECT}), (_ssl.SSLError,), _tls_failed),
    (frozenset({Phase.CONNECT}), (ConnectionRefusedError,), _refused),
    (
        frozenset({Phase.CONNECT}),
        (OSError, amqp_errors.AMQPError),
        _connect_failed,
    ),
    # The frame reader: py-amqp's own errors, as py-amqp expects them.
    (frozenset({Phase.READ}), (TimeoutError,), _as_is),
    (frozenset({Phase.READ}), (OSError,), _read_unavailable),
    # An open connection.
    (frozenset({Phase.WRITE}), (TimeoutError, BlockingIOError), _write_stalled),
    (_CALLS, (amqp_errors.ChannelError,), _channel_error),
    (_CALLS, (amqp_errors.ConnectionError,), _connection_error),
    (_CALLS, (TimeoutError,), _as_is),  # the caller's own deadline
    (_CALLS, (OSError,), _lost),
)


def translate(exc: BaseException, context: ErrorContext) -> BaseException | None:
    """kombu_lite's error for ``exc`` in ``context``; None: raise ``exc`` as is."""
    phase = context.phase
    for phases, classes, build in _RULES:
        if phase in phases and isinstance(exc, classes):
            return build(exc, context)
    return None


@contextlib.contextmanager
def map_amqp_errors(
    context: ErrorContext, channel: Closable | None = None
) -> Iterator[None]:
    """Raise kombu_lite's error for a py-amqp or socket error in the block.

    Errors the table does not name (kombu_lite's own among them) pass
    unchanged.  A channel error from py-amqp marks ``channel`` closed first.
    """
    try:
        yield
    except Exception as exc:
        error = translate(exc, context)
        if error is None:
            raise
        if channel is not None and isinstance(exc, amqp_errors.ChannelError):
            channel.mark_closed(f"{exc.reply_code} {exc.reply_text}")
        raise error from exc
