"""py-amqp connections: TLS, login errors, and the transport entry point."""

from __future__ import annotations

import contextlib
import ssl as _ssl
from typing import TYPE_CHECKING, Any

import amqp
from amqp import exceptions as amqp_errors
from amqp.transport import SSLTransport as _AmqpSSLTransport

from kombu_lite._version import __version__
from kombu_lite.exceptions import (
    AccessRefused,
    NotAllowed,
    OperationalError,
    ProtocolError,
)
from kombu_lite.transport._tls import build_ssl_context
from kombu_lite.transport.pyamqp._mapping import mapped
from kombu_lite.transport.pyamqp.channel import PyAmqpChannel

if TYPE_CHECKING:
    import socket
    from collections.abc import Iterator, Mapping

    from kombu_lite.transport.base import ConnectionParameters

__all__ = ["PyAmqpConnection", "PyAmqpTransport"]


# py-amqp is untyped, so its classes are Any to mypy.
class _ContextSSLTransport(_AmqpSSLTransport):  # type: ignore[misc,no-any-unimported]
    """py-amqp's TLS transport, wrapping the socket with our own context."""

    kl_context: _ssl.SSLContext
    kl_server_hostname: str

    def _wrap_socket(self, sock: socket.socket, **_options: object) -> _ssl.SSLSocket:
        return self.kl_context.wrap_socket(
            sock, server_hostname=self.kl_server_hostname
        )


class _AmqpConnection(amqp.Connection):  # type: ignore[misc,no-any-unimported]
    """py-amqp's Connection, with our TLS transport when TLS is on."""

    kl_tls: tuple[_ssl.SSLContext, str] | None = None

    def Transport(  # noqa: N802 - py-amqp's hook name
        self, host: str, connect_timeout: float | None, *args: Any, **kwargs: Any
    ) -> Any:
        if self.kl_tls is None:
            return super().Transport(host, connect_timeout, *args, **kwargs)
        kwargs.pop("ssl", None)
        transport = _ContextSSLTransport(
            host, connect_timeout=connect_timeout, ssl={}, **kwargs
        )
        transport.kl_context, transport.kl_server_hostname = self.kl_tls
        return transport


class PyAmqpConnection:
    """One connection over py-amqp (a :class:`~.base.WireConnection`)."""

    def __init__(self, connection: Any, where: str) -> None:
        self._conn = connection
        self.where = where
        self._broken = False

    @property
    def is_connected(self) -> bool:
        """False once closed or found broken."""
        return not self._broken and bool(self._conn.connected)

    @property
    def server_properties(self) -> Mapping[str, object]:
        """The broker's ``connection.start`` properties."""
        return dict(self._conn.server_properties or {})

    def channel(self) -> PyAmqpChannel:
        """Open a channel."""
        with self._guard():
            return PyAmqpChannel(self, self._conn.channel())

    def drain_events(self, timeout: float | None = None) -> None:
        """Dispatch one event; TimeoutError when nothing came in time."""
        with self._guard():
            self._conn.drain_events(timeout=timeout)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            with mapped(self.where):
                yield
        except OperationalError:
            self._broken = True
            raise

    def close(self) -> None:
        """Close the connection; never raises."""
        self._broken = True
        # The peer may be gone already: closing must not raise.
        with contextlib.suppress(Exception):
            self._conn.close()
        with contextlib.suppress(Exception):
            self._conn.collect()


class PyAmqpTransport:
    """The ``amqp``/``pyamqp``/``amqps`` transport: RabbitMQ through py-amqp."""

    name = "amqp"
    default_port = 5672
    options = frozenset(
        {
            "client_properties",
            "frame_max",
            "channel_max",
            "read_timeout",
            "write_timeout",
            "socket_settings",
            "locale",
        }
    )

    def connect(self, params: ConnectionParameters) -> PyAmqpConnection:
        """Open a connection (see :meth:`~.base.Transport.connect`)."""
        host = params.hostname
        where = f"{host}:{params.port}"
        options = dict(params.transport_options)
        client_properties = {
            "product": "kombu_lite",
            "version": __version__,
            "connection_name": f"kombu_lite {__version__}",
            **dict(options.pop("client_properties", None) or {}),  # type: ignore[call-overload]
        }
        kwargs: dict[str, Any] = {
            "userid": params.userid,
            "password": params.password,
            "virtual_host": params.virtual_host,
            "connect_timeout": params.connect_timeout,
            "heartbeat": params.heartbeat,
            "client_properties": client_properties,
            **options,
        }
        if params.login_method:
            kwargs["login_method"] = params.login_method
        conn = _AmqpConnection(
            f"[{host}]:{params.port}" if ":" in host else where, **kwargs
        )
        if params.ssl:
            conn.kl_tls = build_ssl_context(params.ssl, host)
        try:
            conn.connect()
        except amqp_errors.AccessRefused as exc:
            _close_quietly(conn)
            raise AccessRefused(
                f"login refused by {where} for user {params.userid!r}: check the "
                f"user name and password (or the login method)",
                reply_code=403,
                reply_text=str(exc.reply_text or ""),
            ) from None
        except amqp_errors.NotAllowed as exc:
            _close_quietly(conn)
            raise NotAllowed(
                f"{where} refused virtual host {params.virtual_host!r} "
                f"({exc.reply_text}): it does not exist or user "
                f"{params.userid!r} may not use it",
                reply_code=530,
                reply_text=str(exc.reply_text or ""),
            ) from None
        except (
            amqp_errors.UnexpectedFrame,
            amqp_errors.FrameSyntaxError,
            amqp_errors.FrameError,
            amqp_errors.InvalidCommand,
        ) as exc:
            _close_quietly(conn)
            raise ProtocolError(
                f"the peer at {where} is not an AMQP 0-9-1 server ({exc})"
            ) from None
        except TimeoutError:
            _close_quietly(conn)
            raise OperationalError(
                f"{where} did not complete the AMQP handshake within "
                f"{params.connect_timeout}s: is it an AMQP 0-9-1 server, and is "
                f"it overloaded?"
            ) from None
        except _ssl.SSLError as exc:
            _close_quietly(conn)
            raise ProtocolError(f"TLS handshake with {where} failed: {exc}") from None
        except ConnectionRefusedError:
            _close_quietly(conn)
            raise OperationalError(
                f"connection refused by {where}: is the broker running?"
            ) from None
        except (OSError, amqp_errors.AMQPError) as exc:
            _close_quietly(conn)
            if isinstance(exc, amqp_errors.AMQPError) or _looks_like_eof(exc):
                raise ProtocolError(
                    f"{where} closed the connection during the AMQP handshake: "
                    f"it is not an AMQP 0-9-1 server, or it refused us ({exc})"
                ) from None
            raise OperationalError(f"cannot connect to {where}: {exc}") from None
        return PyAmqpConnection(conn, where)


def _looks_like_eof(exc: OSError) -> bool:
    text = str(exc).lower()
    return "closed" in text or isinstance(exc, ConnectionResetError)


def _close_quietly(conn: Any) -> None:
    # A failed handshake leaves a half-open socket; it must not leak.
    with contextlib.suppress(Exception):
        conn.collect()
