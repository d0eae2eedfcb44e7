"""RabbitMQ over py-amqp: the only module that imports ``amqp``.

py-amqp is untyped, so its objects stay behind this module's own classes
and never appear in a signature; data leaves as the dataclasses of
:mod:`kombu_lite.transport.base`.  Every call into py-amqp goes through
:func:`_mapped`, the one place where py-amqp and socket errors become
kombu_lite errors.

Two py-amqp behaviours this adapter shields users from:

* after the broker closes a channel, py-amqp silently opens it again under
  the same number, so a later publish would "succeed" on a channel the
  application believes is still the old one.  The adapter remembers the
  error and raises :class:`~kombu_lite.exceptions.ChannelClosed` instead;
* py-amqp's ``ssl=True`` checks neither the certificate chain nor the host
  name.  The adapter always builds an :class:`ssl.SSLContext` that checks
  both unless told otherwise, and wraps the socket with it.
"""

from __future__ import annotations

import contextlib
import datetime
import ssl as _ssl
from typing import TYPE_CHECKING, Any

import amqp
from amqp import exceptions as amqp_errors
from amqp.transport import SSLTransport as _AmqpSSLTransport

from kombu_lite._version import __version__
from kombu_lite.exceptions import (
    AccessRefused,
    ChannelClosed,
    ConnectionLost,
    NotAllowed,
    OperationalError,
    ProtocolError,
    channel_error_for_code,
    connection_error_for_code,
)
from kombu_lite.transport._tls import build_ssl_context
from kombu_lite.transport.base import (
    BasicProperties,
    Delivery,
    QueueDeclareOk,
    ReturnedMessage,
)

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Iterator, Mapping

    from kombu_lite.transport.base import ConnectionParameters

__all__ = ["PyAmqpChannel", "PyAmqpConnection", "PyAmqpTransport"]

_PROPERTY_NAMES = frozenset(BasicProperties.__dataclass_fields__)
_SSL_KEYS = frozenset(
    {
        "ca_certs",
        "certfile",
        "keyfile",
        "cert_reqs",
        "check_hostname",
        "server_hostname",
    }
)


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


@contextlib.contextmanager
def _mapped(where: str, channel: PyAmqpChannel | None = None) -> Iterator[None]:
    """Translate py-amqp and socket errors raised inside the block."""
    try:
        yield
    except amqp_errors.ChannelError as exc:
        code = int(exc.reply_code or 0)
        text = str(exc.reply_text or exc)
        method = str(exc.method_name or "") or None
        if channel is not None:
            channel.mark_closed(f"{code} {text}")
        raise channel_error_for_code(code)(
            f"{text} ({method or 'channel'} refused with {code})",
            reply_code=code,
            reply_text=text,
            method=method,
        ) from exc
    except amqp_errors.ConnectionError as exc:
        code = int(exc.reply_code or 0)
        text = str(exc.reply_text or exc)
        cls = connection_error_for_code(code) if code else ConnectionLost
        if cls is OperationalError:
            cls = ConnectionLost
        raise cls(
            f"connection to {where} failed: {text}",
            reply_code=code or None,
            reply_text=text,
        ) from exc
    except TimeoutError:
        raise
    except OSError as exc:
        raise ConnectionLost(f"connection to {where} was lost: {exc}") from exc


def _properties_in(raw: Mapping[str, Any]) -> BasicProperties:
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "application_headers":
            fields["headers"] = value
        elif key == "timestamp" and isinstance(value, datetime.datetime):
            stamp = value.replace(tzinfo=value.tzinfo or datetime.UTC)
            fields["timestamp"] = int(stamp.timestamp())
        elif key in _PROPERTY_NAMES:
            fields[key] = value
    return BasicProperties(**fields)


def _delivery(message: Any, message_count: int | None = None) -> Delivery:
    info = message.delivery_info
    return Delivery(
        body=bytes(message.body),
        properties=_properties_in(message.properties),
        delivery_tag=int(info["delivery_tag"]),
        exchange=str(info.get("exchange", "")),
        routing_key=str(info.get("routing_key", "")),
        redelivered=bool(info.get("redelivered", False)),
        consumer_tag=info.get("consumer_tag"),
        message_count=message_count,
    )


class PyAmqpChannel:
    """One channel over py-amqp (a :class:`~.base.WireChannel`)."""

    def __init__(self, connection: PyAmqpConnection, channel: Any) -> None:
        self._conn = connection
        self._ch = channel
        # Bodies stay bytes: decoding is the serializer's job, after the
        # accept-list check (py-amqp would decode by content_encoding).
        channel.auto_decode = False
        # py-amqp forgets the number once the channel closes; errors name it.
        self._channel_id = int(channel.channel_id)
        self._closed_reason: str | None = None
        self._on_return: Callable[[ReturnedMessage], None] | None = None
        self._ch.events["basic_return"].add(self._dispatch_return)

    @property
    def channel_id(self) -> int:
        """The channel number."""
        return self._channel_id

    @property
    def is_open(self) -> bool:
        """False once either side closed the channel or the connection broke."""
        return (
            self._closed_reason is None
            and bool(self._ch.is_open)
            and self._conn.is_connected
        )

    def mark_closed(self, reason: str) -> None:
        """Remember why the broker closed the channel; drop py-amqp's revival."""
        if self._closed_reason is None:
            self._closed_reason = reason
            # py-amqp re-opened the channel under the same number; close it
            # so the broker does not keep an unused channel around.
            with contextlib.suppress(Exception):
                self._ch.close()

    def _check(self) -> str:
        if self._closed_reason is not None:
            raise ChannelClosed(
                f"channel {self.channel_id} was closed by the broker "
                f"({self._closed_reason}); open a new channel",
                reply_text=self._closed_reason,
            )
        if not self._ch.is_open:
            raise ChannelClosed(f"channel {self.channel_id} is closed")
        return self._conn.where

    # -- exchanges and queues ----------------------------------------------------

    def exchange_declare(
        self,
        exchange: str,
        exchange_type: str,
        *,
        passive: bool = False,
        durable: bool = True,
        auto_delete: bool = False,
        internal: bool = False,
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Declare an exchange."""
        where = self._check()
        args: dict[str, object] = dict(arguments or {})
        if internal:
            # py-amqp has no ``internal`` flag; RabbitMQ also honours the
            # ``internal`` declare argument.
            args["internal"] = True
        with _mapped(where, self):
            self._ch.exchange_declare(
                exchange,
                exchange_type,
                passive=passive,
                durable=durable,
                auto_delete=auto_delete,
                arguments=args or None,
            )

    def exchange_delete(self, exchange: str, *, if_unused: bool = False) -> None:
        """Delete an exchange."""
        where = self._check()
        with _mapped(where, self):
            self._ch.exchange_delete(exchange, if_unused=if_unused)

    def exchange_bind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Bind exchange to exchange."""
        where = self._check()
        with _mapped(where, self):
            self._ch.exchange_bind(
                destination, source, routing_key, arguments=arguments
            )

    def exchange_unbind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Remove an exchange-to-exchange binding."""
        where = self._check()
        with _mapped(where, self):
            self._ch.exchange_unbind(
                destination, source, routing_key, arguments=arguments
            )

    def queue_declare(
        self,
        queue: str,
        *,
        passive: bool = False,
        durable: bool = True,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: Mapping[str, object] | None = None,
    ) -> QueueDeclareOk:
        """Declare a queue."""
        where = self._check()
        with _mapped(where, self):
            name, messages, consumers = self._ch.queue_declare(
                queue,
                passive=passive,
                durable=durable,
                exclusive=exclusive,
                auto_delete=auto_delete,
                arguments=arguments,
            )
        return QueueDeclareOk(str(name), int(messages), int(consumers))

    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Bind a queue."""
        where = self._check()
        with _mapped(where, self):
            self._ch.queue_bind(queue, exchange, routing_key, arguments=arguments)

    def queue_unbind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: Mapping[str, object] | None = None,
    ) -> None:
        """Remove a queue binding."""
        where = self._check()
        with _mapped(where, self):
            self._ch.queue_unbind(queue, exchange, routing_key, arguments=arguments)

    def queue_purge(self, queue: str) -> int:
        """Drop a queue's ready messages."""
        where = self._check()
        with _mapped(where, self):
            return int(self._ch.queue_purge(queue) or 0)

    def queue_delete(
        self, queue: str, *, if_unused: bool = False, if_empty: bool = False
    ) -> int:
        """Delete a queue."""
        where = self._check()
        with _mapped(where, self):
            return int(
                self._ch.queue_delete(queue, if_unused=if_unused, if_empty=if_empty)
                or 0
            )

    # -- messages ---------------------------------------------------------------------

    def basic_publish(
        self,
        body: bytes,
        properties: BasicProperties,
        exchange: str,
        routing_key: str,
        *,
        mandatory: bool = False,
    ) -> None:
        """Send one message (see the contract for what returning means)."""
        where = self._check()
        fields = properties.as_dict()
        headers = fields.pop("headers", None)
        if headers is not None:
            fields["application_headers"] = headers
        with _mapped(where, self):
            self._ch.basic_publish(
                amqp.Message(body, **fields), exchange, routing_key, mandatory=mandatory
            )

    def basic_get(self, queue: str, *, no_ack: bool = False) -> Delivery | None:
        """Fetch one message, or None."""
        where = self._check()
        with _mapped(where, self):
            message = self._ch.basic_get(queue, no_ack=no_ack)
        if message is None:
            return None
        return _delivery(message, int(message.delivery_info.get("message_count", 0)))

    def basic_ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        """Acknowledge a delivery."""
        where = self._check()
        with _mapped(where, self):
            self._ch.basic_ack(delivery_tag, multiple=multiple)

    def basic_reject(self, delivery_tag: int, *, requeue: bool) -> None:
        """Reject a delivery."""
        where = self._check()
        with _mapped(where, self):
            self._ch.basic_reject(delivery_tag, requeue=requeue)

    def basic_recover(self, *, requeue: bool = True) -> None:
        """Redeliver the unacknowledged messages."""
        where = self._check()
        with _mapped(where, self):
            self._ch.basic_recover(requeue=requeue)

    def basic_qos(
        self,
        *,
        prefetch_size: int = 0,
        prefetch_count: int = 0,
        apply_global: bool = False,
    ) -> None:
        """Set the prefetch limits."""
        where = self._check()
        with _mapped(where, self):
            self._ch.basic_qos(prefetch_size, prefetch_count, apply_global)

    def basic_consume(
        self,
        queue: str,
        callback: Callable[[Delivery], None],
        *,
        consumer_tag: str = "",
        no_ack: bool = False,
        exclusive: bool = False,
        arguments: Mapping[str, object] | None = None,
        on_cancel: Callable[[str], None] | None = None,
    ) -> str:
        """Start a consumer."""
        where = self._check()

        def deliver(message: Any) -> None:
            callback(_delivery(message))

        with _mapped(where, self):
            tag = self._ch.basic_consume(
                queue,
                consumer_tag=consumer_tag,
                no_ack=no_ack,
                exclusive=exclusive,
                arguments=arguments,
                callback=deliver,
                on_cancel=on_cancel,
            )
        return str(tag)

    def basic_cancel(self, consumer_tag: str) -> None:
        """Stop a consumer."""
        where = self._check()
        with _mapped(where, self):
            self._ch.basic_cancel(consumer_tag)

    def set_return_handler(
        self, handler: Callable[[ReturnedMessage], None] | None
    ) -> None:
        """Route ``basic.return`` to ``handler``."""
        self._on_return = handler

    def _dispatch_return(
        self, exc: Any, exchange: str, routing_key: str, message: Any
    ) -> None:
        handler = self._on_return
        if handler is None:
            return
        handler(
            ReturnedMessage(
                reply_code=int(getattr(exc, "reply_code", 312) or 312),
                reply_text=str(getattr(exc, "reply_text", "NO_ROUTE") or "NO_ROUTE"),
                exchange=exchange,
                routing_key=routing_key,
                body=bytes(message.body),
                properties=_properties_in(message.properties),
            )
        )

    def close(self) -> None:
        """Close the channel; never raises."""
        if self._closed_reason is None:
            self._closed_reason = "closed by the application"
        # A broken connection or an already-closed channel is fine here.
        with contextlib.suppress(Exception):
            self._ch.close()


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
            with _mapped(self.where):
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
