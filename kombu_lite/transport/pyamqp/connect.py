"""The ``amqp`` transport's connect path: parameters in, a live connection out.

Everything that can go wrong before the connection is usable (refused,
TLS, login, virtual host, a peer that is no AMQP server, the
``connect_timeout`` deadline) is raised here, mapped by
:func:`~._mapping.map_amqp_errors`; the half-open socket is closed first.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from kombu_lite._version import __version__
from kombu_lite.transport._tls import build_ssl_context
from kombu_lite.transport.pyamqp._amqp_connection import AmqpConnection, Secret
from kombu_lite.transport.pyamqp._mapping import ErrorContext, Phase, translate
from kombu_lite.transport.pyamqp.connection import PyAmqpConnection

if TYPE_CHECKING:
    from kombu_lite.transport.base import ConnectionParameters

__all__ = ["PyAmqpTransport"]


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
        # The password goes only into a Secret, revealed inside the one
        # py-amqp call: a traceback's locals never show it in clear.
        kwargs: dict[str, Any] = {
            "userid": params.userid,
            "virtual_host": params.virtual_host,
            "connect_timeout": params.connect_timeout,
            "heartbeat": params.heartbeat,
            "client_properties": client_properties,
            **options,
        }
        if params.login_method:
            kwargs["login_method"] = params.login_method
        if params.blocked_connection_timeout is not None:
            # A broker that blocks publishing stops reading: without a send
            # timeout a write would hang for good once the buffers fill.
            kwargs.setdefault(
                "write_timeout", max(1, round(params.blocked_connection_timeout))
            )
        # The TLS files are read first: a missing or bad one raises
        # ConfigurationError (naming the option and the path) before any
        # network I/O, with nothing to close.
        tls = build_ssl_context(params.ssl, host) if params.ssl else None
        conn = AmqpConnection(
            f"[{host}]:{params.port}" if ":" in host else where,
            secret=Secret(params.password),
            **kwargs,
        )
        if tls is not None:
            conn.kl_tls = tls
        try:
            conn.connect()
        except Exception as exc:
            error = translate(
                exc,
                ErrorContext(
                    where,
                    Phase.CONNECT,
                    userid=params.userid,
                    virtual_host=params.virtual_host,
                    connect_timeout=params.connect_timeout,
                    tls=tls is not None,
                ),
            )
            if error is None:
                raise
            _close_quietly(conn)
            raise error from exc
        return PyAmqpConnection(conn, where, params)


def _close_quietly(conn: Any) -> None:
    # A failed handshake leaves a half-open socket; it must not leak.
    with contextlib.suppress(Exception):
        conn.collect()
